"""Store-level event filters (spec 4.6): named Liquid templates run at the start of every event run.

A filter sees `event`, `shop` and `cache` (the debouncing technique reads the cache). When one
outputs "false" (surrounding whitespace ignored) the event is dropped: its event run succeeds
with no task runs. Any other output, empty included, lets the event through. A filter that
raises fails the event run, which reports `mechanic/errors/event`.

Filters are read when the event run performs, so edits apply at once and a retried event run
uses the current set. Mechanic promises no order; ours is by name, stopping at the first "false".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from ratchet.core.clock import utcnow
from ratchet.errors import InvalidInput, NotFound
from ratchet.liquid import TaskRenderError
from ratchet.liquid.render import parse_template, render_template
from ratchet.services.render_context import event_object, shop_object
from ratchet.services.shop_cache import CacheView
from ratchet.services.shops import require_shop
from ratchet.store.database import Read, Store, table_of
from ratchet.store.tables import MAX_FILTER_NAME_LENGTH, Event, EventFilter, Shop

MAX_NAME_LENGTH = MAX_FILTER_NAME_LENGTH


class FilterError(InvalidInput):
    """An invalid filter definition, or a filter that failed while running."""


@dataclass(frozen=True)
class SavedFilter:
    """A filter as saved, and whether it replaced one of the same name."""

    filter: EventFilter
    replaced: bool


def check_filter(name: str, template: str) -> tuple[str, str]:
    """Normalised (name, template), or FilterError naming what is wrong (Liquid errors with their position)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise FilterError(f"a filter name must be 1 to {MAX_NAME_LENGTH} characters")
    if not template.strip():
        raise FilterError(f"filter {name!r} has an empty template")
    try:
        parse_template(template)
    except TaskRenderError as exc:
        # Message and position only: this surfaces as a one-line CLI error, without the excerpt.
        raise FilterError(f"filter {name!r}: {str(exc).splitlines()[0]}") from exc
    return name, template


def save_filter(store: Store, shop_id: str, name: str, template: str) -> SavedFilter:
    """Create a filter, or replace the template of the one with that name."""
    name, template = check_filter(name, template)
    now = utcnow()
    with store.session() as session:
        require_shop(session, shop_id)
        row = session.get(EventFilter, (shop_id, name))
        replaced = row is not None
        row = row or EventFilter(shop_id=shop_id, name=name, template=template, created_at=now)
        row.template = template
        row.updated_at = now
        session.add(row)
    return SavedFilter(row, replaced)


def list_filters(store: Store, shop_id: str) -> list[EventFilter]:
    """The shop's filters in the order they run."""
    with store.session() as session:
        require_shop(session, shop_id)
        return _filters(session, shop_id)


def remove_filter(store: Store, shop_id: str, name: str) -> None:
    with store.session() as session:
        require_shop(session, shop_id)
        row = session.get(EventFilter, (shop_id, name.strip()))
        if row is None:
            raise NotFound(f"no filter named {name!r} in shop {shop_id!r}")
        session.delete(row)


def _filters(session: Session, shop_id: str) -> list[EventFilter]:
    return list(session.exec(select(EventFilter).where(EventFilter.shop_id == shop_id).order_by(col(EventFilter.name))))


def _shop_filters_statement() -> Select[Any]:
    table = table_of(EventFilter)
    return (
        core_select(table.c.name, table.c.template)
        .where(table.c.shop_id == bindparam("b_shop_id"))
        .order_by(table.c.name)
    )


def shop_filters_read(shop_id: str) -> Read:
    """The read of a shop's filters that `rejecting_filter` runs first (for `reads_ahead`)."""
    return Read("shop_filters", _shop_filters_statement, {"b_shop_id": shop_id})


def rejecting_filter(conn: Connection, store: Store, event: Event, shop: Shop) -> str | None:
    """The name of the first filter that drops `event`, or None when every filter lets it through."""
    filters = shop_filters_read(shop.id).execute(conn).rows
    if not filters:
        return None
    variables = filter_variables(conn, store, event, shop)
    for row in filters:
        if drops(row["name"], row["template"], variables, shop):
            return str(row["name"])
    return None


def filter_variables(conn: Connection, store: Store, event: Event, shop: Shop) -> dict[str, Any]:
    """What a filter sees: `event`, `shop` and (read-only) `cache`."""
    return {"event": event_object(conn, event), "shop": shop_object(conn, shop), "cache": CacheView(store, shop.id)}


def drops(name: str, template: str, variables: dict[str, Any], shop: Shop) -> bool:
    """Whether the filter outputs "false" for these variables; FilterError when it raises."""
    # No Shopify access in filters: Mechanic documents none, and a filter runs for every event.
    state = {"preview": False, "shopify": None, "timezone": shop.timezone}
    try:
        output = render_template(template, variables, state=state)
    except TaskRenderError as exc:
        raise FilterError(f"event filter {name!r} failed: {exc}") from exc
    return output.strip() == "false"
