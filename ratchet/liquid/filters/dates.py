"""Mechanic's `date` and `parse_date` filters.

`date` extends Liquid's: the store's time zone is the default zone, the format is
optional (ISO 8601), and it accepts `"now"`/`"today"`, relative strings such as
`"now - 1 day"`, `tz:` to convert zones, `beginning_of_*`/`end_of_*` to snap to a
calendar boundary and `advance:` ("1 week", "-2 hours") to shift the time. Formats use Ruby's `strftime` directives (`%L`, `%:z`, `%s`, `%P`…).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta
from liquid import Environment, RenderContext
from liquid.exceptions import FilterArgumentError
from liquid.filter import with_context
from liquid.undefined import Undefined

_UNITS = {
    "second": "seconds",
    "minute": "minutes",
    "hour": "hours",
    "day": "days",
    "week": "weeks",
    "month": "months",
    "year": "years",
}
_SHIFT = re.compile(r"([+-]?)\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week|month|year)s?\b", re.I)
_RELATIVE = re.compile(r"^\s*(now|today|yesterday|tomorrow)\b\s*(.*)$", re.I)
_STRFTIME = re.compile(r"%([-_0^#]*)(:{0,2}z|[A-Za-z%])")


@lru_cache(maxsize=64)
def zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise FilterArgumentError(f"unknown time zone {name!r}", token=None) from err


def store_zone(context: RenderContext) -> dt.tzinfo:
    name = getattr(context, "render_state", {}).get("timezone") or "UTC"
    return zone(str(name))


def apply_shift(moment: dt.datetime, text: str) -> dt.datetime:
    """Shift by every `[+-]N unit` in `text`, left to right; each term has its own sign.

    Seconds, minutes and hours are constant intervals; days and longer move the
    wall clock, so "1 day" across a DST change is still the same time of day.
    """
    matched = False
    for m in _SHIFT.finditer(text):
        matched = True
        sign = -1 if m.group(1) == "-" else 1
        amount = float(m.group(2))
        unit = _UNITS[m.group(3).lower()]
        if unit in ("months", "years"):
            calendar_shift = sign * int(amount)
            moment += relativedelta(months=calendar_shift) if unit == "months" else relativedelta(years=calendar_shift)
        elif unit in ("days", "weeks"):
            moment += dt.timedelta(**{unit: sign * amount})
        else:
            zone_of_moment = moment.tzinfo
            moment = (moment.astimezone(dt.UTC) + dt.timedelta(**{unit: sign * amount})).astimezone(zone_of_moment)
    if not matched and re.search(r"\d", text):
        # Text without any number ("- days" from an empty option) shifts by nothing.
        raise FilterArgumentError(f"date: cannot understand time shift {text!r}", token=None)
    return moment


def to_datetime(value: object, tz: dt.tzinfo) -> dt.datetime | None:
    """Interpret a Liquid value as an aware datetime; None when it is not a date."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min, tzinfo=tz)
    if isinstance(value, bool) or value is None or isinstance(value, Undefined):
        return None
    if isinstance(value, (int, float, Decimal)):
        return dt.datetime.fromtimestamp(float(value), tz)
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return dt.datetime.fromtimestamp(float(text), tz)
    rel = _RELATIVE.match(text)
    if rel:
        word = rel.group(1).lower()
        now = dt.datetime.now(tz)
        if word != "now":
            now = now.replace(hour=0, minute=0, second=0, microsecond=0)
            now += dt.timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[word])
        rest = rel.group(2)
        return apply_shift(now, rest) if rest.strip() else now
    try:
        parsed = date_parser.parse(text)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def ruby_strftime(moment: dt.datetime, fmt: str) -> str:
    def directive(m: re.Match[str]) -> str:
        flags, code = m.group(1), m.group(2)
        if code == "L":
            return f"{moment.microsecond // 1000:03d}"
        if code == "N":
            return f"{moment.microsecond:06d}000"
        if code == "s":
            return str(int(moment.timestamp()))
        if code in ("z", ":z", "::z"):
            offset = moment.utcoffset() or dt.timedelta(0)
            total = int(offset.total_seconds())
            sign = "-" if total < 0 else "+"
            hours, rem = divmod(abs(total), 3600)
            minutes, seconds = divmod(rem, 60)
            if code == "z":
                return f"{sign}{hours:02d}{minutes:02d}"
            if code == ":z":
                return f"{sign}{hours:02d}:{minutes:02d}"
            return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
        if code == "P":
            return moment.strftime("%p").lower()
        if code == "Z":
            return moment.tzname() or ""
        out = moment.strftime(f"%{flags.replace('^', '').replace('#', '')}{code}")
        if "^" in flags:
            out = out.upper()
        return out

    return _STRFTIME.sub(directive, fmt)


def iso8601(moment: dt.datetime) -> str:
    """ActiveSupport `TimeWithZone#iso8601`: "Z" in the UTC zone, else an offset."""
    if getattr(moment.tzinfo, "key", None) in ("UTC", "Etc/UTC") or moment.tzinfo is dt.UTC:
        return ruby_strftime(moment, "%Y-%m-%dT%H:%M:%SZ")
    return ruby_strftime(moment, "%Y-%m-%dT%H:%M:%S%:z")


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day_start(moment: dt.datetime) -> dt.datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _day_end(moment: dt.datetime) -> dt.datetime:
    return moment.replace(hour=23, minute=59, second=59, microsecond=999999)


def _set(option: object) -> bool:
    return option is not None and option is not False and not isinstance(option, Undefined)


def _week_start(moment: dt.datetime, first_day: object) -> dt.datetime:
    name = str(first_day).lower() if isinstance(first_day, str) else "monday"
    if name not in _WEEKDAYS:
        raise FilterArgumentError(f"date: unknown weekday {first_day!r}", token=None)
    back = (moment.weekday() - _WEEKDAYS.index(name)) % 7
    return _day_start(moment - dt.timedelta(days=back))


def _month_end(moment: dt.datetime) -> dt.datetime:
    return _day_end(moment.replace(day=1) + relativedelta(months=1) - dt.timedelta(days=1))


def snap(moment: dt.datetime, options: dict[str, object]) -> dt.datetime:
    """Mechanic's `beginning_of_*`/`end_of_*` options, in their documented order."""
    if _set(options.get("beginning_of_year")):
        moment = _day_start(moment.replace(month=1, day=1))
    if _set(options.get("end_of_year")):
        moment = _day_end(moment.replace(month=12, day=31))
    quarter_month = 3 * ((moment.month - 1) // 3) + 1
    if _set(options.get("beginning_of_quarter")):
        moment = _day_start(moment.replace(month=quarter_month, day=1))
    if _set(options.get("end_of_quarter")):
        moment = _month_end(moment.replace(month=quarter_month + 2, day=1))
    if _set(options.get("beginning_of_month")):
        moment = _day_start(moment.replace(day=1))
    if _set(options.get("end_of_month")):
        moment = _month_end(moment)
    if _set(options.get("beginning_of_week")):
        moment = _week_start(moment, options["beginning_of_week"])
    if _set(options.get("end_of_week")):
        moment = _day_end(_week_start(moment, options["end_of_week"]) + dt.timedelta(days=6))
    if _set(options.get("beginning_of_day")):
        moment = _day_start(moment)
    if _set(options.get("middle_of_day")):
        moment = moment.replace(hour=12, minute=0, second=0, microsecond=0)
    if _set(options.get("end_of_day")):
        moment = _day_end(moment)
    return moment


@with_context
def date(
    value: object,
    fmt: object = None,
    *,
    context: RenderContext,
    tz: object = None,
    advance: object = None,
    beginning_of_year: object = None,
    end_of_year: object = None,
    beginning_of_quarter: object = None,
    end_of_quarter: object = None,
    beginning_of_month: object = None,
    end_of_month: object = None,
    beginning_of_week: object = None,
    end_of_week: object = None,
    beginning_of_day: object = None,
    middle_of_day: object = None,
    end_of_day: object = None,
) -> object:
    if value is None or isinstance(value, Undefined):
        return None
    shop_zone = store_zone(context)
    target = zone(str(tz)) if tz and not isinstance(tz, Undefined) else shop_zone
    # A time without a zone is shop-local; `tz:` only converts it.
    moment = to_datetime(value, shop_zone)
    if moment is None:
        # Ruby Liquid returns unparseable input unchanged.
        return value
    moment = snap(
        moment.astimezone(target),
        {
            "beginning_of_year": beginning_of_year,
            "end_of_year": end_of_year,
            "beginning_of_quarter": beginning_of_quarter,
            "end_of_quarter": end_of_quarter,
            "beginning_of_month": beginning_of_month,
            "end_of_month": end_of_month,
            "beginning_of_week": beginning_of_week,
            "end_of_week": end_of_week,
            "beginning_of_day": beginning_of_day,
            "middle_of_day": middle_of_day,
            "end_of_day": end_of_day,
        },
    )
    if advance and not isinstance(advance, Undefined):
        moment = apply_shift(moment, str(advance))
    if fmt is None or isinstance(fmt, Undefined) or str(fmt) == "":
        return iso8601(moment)
    return ruby_strftime(moment, str(fmt))


_STRPTIME_FIXES = {"%F": "%Y-%m-%d", "%T": "%H:%M:%S", "%L": "%f", "%:z": "%z", "%P": "%p"}


@with_context
def parse_date(value: object, fmt: object = None, *, context: RenderContext) -> str | None:
    """Parse `value` with an strptime format in the store zone.

    Returns an ISO 8601 string, or nil if it does not match.
    """
    if value is None or isinstance(value, Undefined) or not str(value).strip():
        return None
    tz = store_zone(context)
    if fmt is None or isinstance(fmt, Undefined):
        moment = to_datetime(value, tz)
        return iso8601(moment.astimezone(tz)) if moment is not None else None
    pattern = str(fmt)
    for ruby, python in _STRPTIME_FIXES.items():
        pattern = pattern.replace(ruby, python)
    try:
        parsed = dt.datetime.strptime(str(value).strip(), pattern)
    except ValueError:
        return None
    return iso8601(parsed.astimezone(tz) if parsed.tzinfo else parsed.replace(tzinfo=tz))


def register(env: Environment) -> None:
    env.add_filter("date", date)
    env.add_filter("parse_date", parse_date)
