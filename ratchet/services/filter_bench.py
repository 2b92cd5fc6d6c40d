"""The event-filter test bench: a draft filter run against the shop's latest events, changing nothing.

It evaluates the draft exactly as an event run evaluates saved filters (`event_filters.drops`
with the same variables), so "would drop" here means the filter would drop that event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from ratchet.services.event_filters import FilterError, check_filter, drops, filter_variables
from ratchet.services.shops import require_shop
from ratchet.store.database import Store
from ratchet.store.tables import Event

# How many of the latest events a draft is tried on.
BENCH_EVENTS = 20


@dataclass(frozen=True)
class FilterVerdict:
    """What the draft does to one event: drops it, lets it through, or fails (`error`)."""

    event_id: str
    topic: str
    created_at: datetime | None
    dropped: bool
    error: str | None = None


def try_filter(
    session: Session, store: Store, shop_id: str, template: str, limit: int = BENCH_EVENTS
) -> list[FilterVerdict]:
    """The draft's verdict on each of the shop's `limit` latest events, newest first; FilterError if it does not parse."""
    name, template = check_filter("draft", template)
    shop = require_shop(session, shop_id)
    events = session.exec(
        select(Event)
        .where(Event.shop_id == shop_id)
        .order_by(col(Event.created_at).desc(), col(Event.id).desc())
        .limit(limit)
    )
    conn = session.connection()
    verdicts = []
    for event in events:
        try:
            dropped = drops(name, template, filter_variables(conn, store, event, shop), shop)
            verdicts.append(FilterVerdict(event.id, event.topic, event.created_at, dropped))
        except FilterError as exc:
            verdicts.append(FilterVerdict(event.id, event.topic, event.created_at, False, str(exc)))
    return verdicts
