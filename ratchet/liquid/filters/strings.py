"""String filters Mechanic adds, and nil-safe variants of standard string filters.

Mechanic's own: unindent, match, scan, e164, url_param_escape.

Ruby Liquid treats nil input to string filters as an empty string instead of
raising; tasks rely on that when optional data is missing in previews.
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from urllib.parse import quote, quote_plus

from liquid import Environment
from liquid.exceptions import FilterArgumentError
from liquid.undefined import Undefined

from ..ruby import RubyObject


def _text(value: object) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def unindent(value: object) -> str:
    return textwrap.dedent(_text(value))


_POSIX_CLASSES = {
    "alpha": r"^\W\d_",
    "digit": r"0-9",
    "alnum": r"^\W_",
    "upper": r"A-Z",
    "lower": r"a-z",
    "space": r"\s",
    "word": r"\w",
    "xdigit": r"0-9A-Fa-f",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
_RUBY_REGEX = (
    (re.compile(r"\(\?<(?=[A-Za-z_])"), "(?P<"),  # named group (?<name>...)
    (re.compile(r"\\k<([A-Za-z_]\w*)>"), r"(?P=\1)"),  # named backreference
    (re.compile(r"\\z"), r"\\Z"),
    (re.compile(r"\\h"), "[0-9a-fA-F]"),
)
_POSIX_CLASS = re.compile(r"\[\[:(\w+):\]\]")


def ruby_regex(pattern: str) -> str:
    """Translate the Ruby-only regex syntax tasks use into Python's."""
    for find, replace in _RUBY_REGEX:
        pattern = find.sub(replace, pattern)

    def posix(match: re.Match[str]) -> str:
        body = _POSIX_CLASSES.get(match.group(1))
        return match.group(0) if body is None else f"[{body}]"

    return _POSIX_CLASS.sub(posix, pattern)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(ruby_regex(pattern))


def _regex(pattern: object, name: str) -> re.Pattern[str]:
    try:
        return _compile(_text(pattern))
    except re.error as err:
        raise FilterArgumentError(f"{name}: invalid regular expression: {err}", token=None) from err


class MatchData(RubyObject):
    """Ruby `MatchData`.

    It prints the matched text; `m[0]`, `m[1]`, `m["name"]`, `m.captures`, `m.named_captures`,
    `m.size`.
    """

    __slots__ = ("_match",)

    def __init__(self, match: re.Match[str]) -> None:
        self._match = match

    def to_s(self) -> str:
        return self._match.group(0)

    def __str__(self) -> str:
        return self.to_s()

    def __getitem__(self, key: object) -> object:
        m = self._match
        if key == "captures":
            return list(m.groups())
        if key == "named_captures":
            return m.groupdict()
        if key in ("size", "length"):
            return len(m.groups()) + 1
        if key in ("pre_match", "post_match"):
            return m.string[: m.start()] if key == "pre_match" else m.string[m.end() :]
        if isinstance(key, int) and not isinstance(key, bool):
            try:
                return m.group(key)
            except IndexError:
                return None
        if isinstance(key, str) and key in m.re.groupindex:
            return m.group(key)
        raise KeyError(key)

    def to_liquid_json(self) -> str:
        return self.to_s()


def match(value: object, pattern: object) -> MatchData | None:
    found = _regex(pattern, "match").search(_text(value))
    return MatchData(found) if found is not None else None


def scan(value: object, pattern: object) -> list[MatchData]:
    """Every match, each a `MatchData` (its text; `captures` for the groups)."""
    return [MatchData(m) for m in _regex(pattern, "scan").finditer(_text(value))]


def e164(value: object) -> str | None:
    """Digits of an international number, country code included (no "+"); nil if invalid."""
    text = _text(value).strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    return digits


def url_param_escape(value: object) -> str:
    return quote_plus(_text(value))


def url_escape(value: object) -> str:
    return quote(_text(value), safe="/:@&=+$,;~!*'()?#[]")


# Shopify's named image sizes (the deprecated `img_url` filter Mechanic still accepts).
_IMAGE_SIZES = {
    "pico": "16x16",
    "icon": "32x32",
    "thumb": "50x50",
    "small": "100x100",
    "compact": "160x160",
    "medium": "240x240",
    "large": "480x480",
    "grande": "600x600",
    "1024x1024": "1024x1024",
    "2048x2048": "2048x2048",
}
_IMAGE_FILE = re.compile(r"^(?P<base>[^?#]*?)(?P<ext>\.[A-Za-z0-9]+)?(?P<rest>[?#].*)?$")


def img_url(value: object, size: object = "small", *, crop: object = None, scale: object = None) -> str:
    """A Shopify CDN image URL at a size.

    The size goes as `_100x100` (plus `_crop_center`, `@2x`) before the extension; `master`/`original` leave
    the URL as it is. Takes a URL or an image (`src`).
    """
    if isinstance(value, dict):
        value = value.get("src") or value.get("url")
    url = _text(value)
    if not url:
        return ""
    size_text = _text(size)
    if size_text in ("master", "original"):
        return url
    suffix = "_" + _IMAGE_SIZES.get(size_text, size_text)
    if crop is not None:
        suffix += f"_crop_{_text(crop)}"
    if scale is not None:
        suffix += f"@{_text(scale)}x"
    m = _IMAGE_FILE.match(url)
    assert m is not None  # the pattern matches every string
    return m["base"] + suffix + (m["ext"] or "") + (m["rest"] or "")


def register(env: Environment) -> None:
    env.add_filter("unindent", unindent)
    env.add_filter("match", match)
    env.add_filter("scan", scan)
    env.add_filter("e164", e164)
    env.add_filter("url_param_escape", url_param_escape)
    env.add_filter("url_escape", url_escape)
    env.add_filter("img_url", img_url)
