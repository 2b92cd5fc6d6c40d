"""An event and its event run are written together, once per idempotency key, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ratchet.config import load_settings
from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.services.events import EventService, NewEvent
from ratchet.services.shops import UnknownShop
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import Event, Run
from tests.support.stores import add_shop


def _service(store: Store) -> tuple[EventService, str]:
    shop_id = add_shop(store)
    # The rows are written before any workflow starts: no Temporal client is needed here.
    return EventService(load_settings(), store, client=None), shop_id  # type: ignore[arg-type]


async def test_an_event_is_written_with_its_event_run_once_per_key(db_store: Store) -> None:
    events, shop_id = _service(db_store)
    new = NewEvent(shop_id=shop_id, topic="user/orders/export", data={"n": [1, "ü"]}, idempotency_key="order-1")
    first = await events._write(new)
    again = await events._write(
        NewEvent(shop_id=shop_id, topic="user/orders/export", data={"n": 2}, idempotency_key="order-1")
    )
    assert first.inserted and not again.inserted and again.row["id"] == first.row["id"]
    with db_store.session() as session:
        event = session.get(Event, first.row["id"])
        run = session.get(Run, first.event_run_id)
    # The first copy's data, and one event run in Due for it.
    assert event is not None and event.data == {"n": [1, "ü"]} and event.topic == "user/orders/export"
    assert run is not None and run.kind == RunKind.event and run.state == RunState.due
    assert run.event_id == event.id and run.run_at == event.created_at
    assert run.id == ledger.derived_id("event-run", event.id)


async def test_a_delayed_event_run_is_scheduled_at_its_run_at(db_store: Store) -> None:
    events, shop_id = _service(db_store)
    written = await events._write(
        NewEvent(shop_id=shop_id, topic="user/reports/later", run_at=utcnow() + timedelta(hours=1))
    )
    with db_store.session() as session:
        run = session.get(Run, written.event_run_id)
    assert run is not None and run.state == RunState.scheduled and run.run_at == written.row["run_at"]


async def test_an_unknown_shop_writes_nothing(db_store: Store) -> None:
    events, _ = _service(db_store)
    with pytest.raises(UnknownShop, match="unknown shop 'no-such-shop'"):
        await events._write(NewEvent(shop_id="no-such-shop", topic="user/reports/x"))
