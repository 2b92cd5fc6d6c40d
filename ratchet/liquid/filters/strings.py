"""String filters Mechanic adds (unindent, match, scan, e164, url_param_escape,
browser) and nil-safe variants of standard string filters.

Ruby Liquid treats nil input to string filters as an empty string instead of
raising; tasks rely on that when optional data is missing in previews.
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from typing import Any
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
    """Ruby `MatchData`: prints the matched text; `m[0]`, `m[1]`, `m["name"]`,
    `m.captures`, `m.named_captures`, `m.size`."""

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


_BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/([\d.]+)"),
    ("Opera", r"OPR/([\d.]+)"),
    ("Chrome", r"(?:Chrome|CriOS)/([\d.]+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/([\d.]+)"),
    ("Safari", r"Version/([\d.]+).*Safari"),
    ("Internet Explorer", r"(?:MSIE |rv:)([\d.]+)"),
)
_PLATFORMS = (
    ("ios", r"iPhone|iPad|iPod"),
    ("android", r"Android"),
    ("mac", r"Mac OS X|Macintosh"),
    ("windows", r"Windows"),
    ("linux", r"Linux"),
)


def browser(value: object) -> dict[str, Any]:
    """Summarise a user agent string (name, version, platform, bot/mobile flags)."""
    ua = _text(value)
    name, version = "Unknown Browser", "0"
    for candidate, pattern in _BROWSERS:
        m = re.search(pattern, ua)
        if m:
            name, version = candidate, m.group(1)
            break
    platform = next((p for p, pattern in _PLATFORMS if re.search(pattern, ua)), "other")
    return {
        "name": name,
        "full_version": version,
        "version": version.split(".")[0],
        "platform": {"id": platform, "name": platform},
        "bot": bool(re.search(r"bot|crawl|spider|slurp", ua, re.I)),
        "mobile": bool(re.search(r"Mobile|iPhone|Android", ua)),
        "user_agent": ua,
    }


def register(env: Environment) -> None:
    env.add_filter("unindent", unindent)
    env.add_filter("match", match)
    env.add_filter("scan", scan)
    env.add_filter("e164", e164)
    env.add_filter("url_param_escape", url_param_escape)
    env.add_filter("url_escape", url_escape)
    env.add_filter("browser", browser)
