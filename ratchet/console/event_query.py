"""The Events list's query string, both ways: a bookmark of it is a saved view.

Parameters: `tab` (all | errors | waiting), `topic` (a topic or a prefix ending in `/`), `task`
(a task id), `state` (a run state), `from` and `to` (dates in the shop's zone, both inclusive),
`q` (text inside event data, or an event id), `hide_idle=1`. Any page that acts on "the events
of this view" (bulk retry) reads the same parameters with `event_query`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from ratchet.core.runs import RunState
from ratchet.errors import InvalidInput
from ratchet.services.event_listing import TABS, EventQuery

FILTER_PARAMS = ("tab", "topic", "task", "state", "from", "to", "q", "hide_idle")


def _day(params: Mapping[str, str], name: str) -> date | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}: expected a date like 2026-12-31, got {value!r}") from None


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def event_query(params: Mapping[str, str], timezone: str) -> EventQuery:
    """The list's query from its query-string parameters; a malformed one is InvalidInput naming it."""
    zone = ZoneInfo(timezone)
    tab = params.get("tab") or "all"
    if tab not in TABS:
        raise InvalidInput(f"tab: expected one of {', '.join(TABS)}, got {tab!r}")
    state_text = params.get("state") or None
    try:
        state = RunState(state_text) if state_text else None
    except ValueError:
        raise InvalidInput(f"state: expected one of {', '.join(s.value for s in RunState)}") from None
    since, until = _day(params, "from"), _day(params, "to")
    if since and until and until < since:
        raise InvalidInput("to: the range ends before it starts")
    return EventQuery(
        tab=tab,
        topic=params.get("topic", "").strip() or None,
        task_id=params.get("task") or None,
        state=state,
        since=_start_of(since, zone) if since else None,
        until=_start_of(until + timedelta(days=1), zone) if until else None,
        search=params.get("q", "").strip() or None,
        hide_idle=params.get("hide_idle") == "1",
    )


def query_params(params: Mapping[str, str], **changes: str | None) -> str:
    """The view's filter parameters with `changes` applied (None removes one), as a query string.

    Filters come in one order whatever order they were given in, then the changed non-filters
    (`after`, `paused`): one view, one URL.
    """
    merged = {name: params.get(name) for name in FILTER_PARAMS} | changes
    return urlencode({name: value for name, value in merged.items() if value})
