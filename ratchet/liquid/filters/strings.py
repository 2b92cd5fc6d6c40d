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


def _text(value: object) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def unindent(value: object) -> str:
    return textwrap.dedent(_text(value))


_RUBY_REGEX = (
    (re.compile(r"\(\?<(?=[A-Za-z_])"), "(?P<"),  # named group (?<name>...)
    (re.compile(r"\\k<([A-Za-z_]\w*)>"), r"(?P=\1)"),  # named backreference
    (re.compile(r"\\z"), r"\\Z"),
    (re.compile(r"\\h"), "[0-9a-fA-F]"),
)


def ruby_regex(pattern: str) -> str:
    """Translate the Ruby-only regex syntax tasks use into Python's."""
    for find, replace in _RUBY_REGEX:
        pattern = find.sub(replace, pattern)
    return pattern


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(ruby_regex(pattern))


def _regex(pattern: object, name: str) -> re.Pattern[str]:
    try:
        return _compile(_text(pattern))
    except re.error as err:
        raise FilterArgumentError(f"{name}: invalid regular expression: {err}", token=None) from err


class MatchData(dict):  # type: ignore[type-arg]
    """Ruby MatchData stand-in: `m[0]`, `m[1]`, `m["name"]`, `m.size`."""

    def __str__(self) -> str:
        return str(self.get(0, ""))


def match(value: object, pattern: object) -> MatchData | None:
    found = _regex(pattern, "match").search(_text(value))
    if found is None:
        return None
    data = MatchData({i: g for i, g in enumerate([found.group(0), *found.groups()])})
    data.update(found.groupdict())
    return data


def scan(value: object, pattern: object) -> list[Any]:
    regex = _regex(pattern, "scan")
    out: list[Any] = []
    for m in regex.finditer(_text(value)):
        if regex.groups == 0:
            out.append(m.group(0))
        else:
            out.append(list(m.groups()))
    return out


def e164(value: object, country_code: object = "1") -> str | None:
    """Normalise a phone number to E.164 (+CCNNN…); nil when it cannot be."""
    text = _text(value).strip()
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    if text.startswith("+") or text.startswith("00"):
        digits = digits[2:] if text.startswith("00") else digits
    elif len(digits) == 10 and str(country_code) == "1":
        digits = "1" + digits
    elif not digits.startswith(str(country_code)):
        digits = str(country_code) + digits.lstrip("0")
    if not 8 <= len(digits) <= 15:
        return None
    return "+" + digits


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
