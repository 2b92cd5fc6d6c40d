"""Data stops growing.

Events, runs and attempts past the retention window are deleted, in batches, by a durable
Temporal Schedule; expired cache entries and `files` action files too; what is still retryable stays.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from ratchet.config import Settings
from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.retention import (
    MINIMUM_NAMESPACE_RETENTION,
    RETENTION_SCHEDULE_ID,
    ensure_retention_schedule,
    namespace_retention,
)
from ratchet.files import GeneratedFile
from ratchet.files.storage import FileStorage
from ratchet.services.retention import purge
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import BulkRetry, BulkRetryItem, CacheEntry, Event, Run, RunAttempt, Shop
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import eventually, settled, wait_for_runs


def _age(store: Store, event_id: str, by: timedelta) -> None:
    """Move an event and its runs `by` into the past, as if the clock had run on."""
    with store.session() as session:
        session.execute(update(Event).where(col(Event.id) == event_id).values(created_at=utcnow() - by))
        session.execute(update(Run).where(col(Run.event_id) == event_id).values(stopped_at=utcnow() - by))


def _rows(store: Store, event_id: str) -> tuple[int, int, int]:
    with store.session() as session:
        runs = list(session.exec(select(Run.id).where(Run.event_id == event_id)))
        attempts = list(session.exec(select(RunAttempt.run_id).where(col(RunAttempt.run_id).in_(runs))))
        return len(list(session.exec(select(Event.id).where(Event.id == event_id)))), len(runs), len(attempts)


async def test_the_schedule_deletes_what_is_past_retention(api: Ratchet, base_settings: Settings) -> None:
    await add_task(api, "Kept a while", '{% action "echo", n: 1 %}', ["user/keep/go"])
    expired, recent, pending = [await api.events.send("user/keep/go", None) for _ in range(3)]
    for event_id in (expired, recent, pending):
        await wait_for_runs(api, event_id, settled(1))
    window = api.settings.retention
    _age(api.store, expired, window + timedelta(hours=1))
    _age(api.store, pending, window + timedelta(hours=1))
    with api.store.session() as session:  # an old event that still has work coming stays
        session.execute(
            update(Run)
            .where(col(Run.event_id) == pending, col(Run.kind) == RunKind.action)
            .values(state=RunState.scheduled)
        )
        session.add(
            CacheEntry(shop_id=api.settings.shop, key="old", value=1, expires_at=utcnow() - timedelta(seconds=1))
        )
    # A `files` action's file whose URL has expired, and one still served.
    files = FileStorage.under(base_settings.home)
    created = utcnow() - timedelta(days=8)
    old_file = files.save(api.settings.shop, GeneratedFile("old.txt", b"o", "text/plain"), created, utcnow())
    live_file = files.save(
        api.settings.shop, GeneratedFile("new.txt", b"n", "text/plain"), created, utcnow() + timedelta(hours=1)
    )
    assert _rows(api.store, expired) == (1, 3, 3)

    await ensure_retention_schedule(api.client, base_settings)
    await ensure_retention_schedule(api.client, base_settings)  # every worker start calls it: idempotent
    await api.client.get_schedule_handle(RETENTION_SCHEDULE_ID).trigger()

    async def purged() -> bool:
        return _rows(api.store, expired) == (0, 0, 0)

    await eventually(purged)
    assert _rows(api.store, recent) == (1, 3, 3) and _rows(api.store, pending) == (1, 3, 3)
    with api.store.session() as session:
        assert session.get(CacheEntry, (api.settings.shop, "old")) is None
    assert not (files.root / old_file.token).exists()
    assert files.find(live_file.token, utcnow()) is not None


def test_purge_goes_in_small_batches(db_store: Store) -> None:
    shop_id = f"shop-{uuid.uuid4().hex[:10]}"
    with db_store.session() as session:
        session.add(Shop(id=shop_id, timezone="UTC", created_at=utcnow()))
    long_ago = utcnow() - timedelta(days=30)
    for _ in range(5):
        event = Event(id=str(uuid.uuid4()), shop_id=shop_id, topic="user/a/b", workflow_id="w", created_at=long_ago)
        with db_store.session() as session:
            session.add(event)
            run = ledger.new_run_row(
                run_id=str(uuid.uuid4()),
                kind=RunKind.event,
                event=event,
                parent_id=None,
                state=RunState.succeeded,
                run_at=None,
            )
            session.add(Run(**{**run, "stopped_at": long_ago}))

    batches: list[int] = []
    result = purge(db_store, utcnow() - timedelta(days=15), batch_size=2, on_batch=lambda r: batches.append(r.events))
    assert batches == [2, 4, 5]  # events deleted so far, one short transaction per batch
    assert (result.events, result.runs) == (5, 5)
    with db_store.session() as session:
        assert list(session.exec(select(Event.id).where(Event.shop_id == shop_id))) == []


def test_bulk_retries_that_finished_before_the_window_go_with_their_items(db_store: Store) -> None:
    shop_id = f"shop-{uuid.uuid4().hex[:10]}"
    ages = {"old-done": (30, "completed"), "old-running": (30, "running"), "recent": (1, "completed")}
    ids = {name: str(uuid.uuid4()) for name in ages}
    with db_store.session() as session:
        for name, (days, state) in ages.items():
            at = utcnow() - timedelta(days=days)
            session.add(
                BulkRetry(
                    id=ids[name],
                    shop_id=shop_id,
                    name=name,
                    state=state,
                    workflow_id=f"w-{name}",
                    created_at=at,
                    finished_at=None if state == "running" else at,
                )
            )
            session.add(BulkRetryItem(bulk_retry_id=ids[name], position=0, run_id=str(uuid.uuid4()), kind="task"))
    result = purge(db_store, utcnow() - timedelta(days=15), batch_size=1)
    assert result.bulk_retries == 1
    with db_store.session() as session:
        left = set(session.exec(select(BulkRetry.name).where(BulkRetry.shop_id == shop_id)))
        items = set(
            session.exec(select(BulkRetryItem.bulk_retry_id).where(col(BulkRetryItem.bulk_retry_id).in_(ids.values())))
        )
    assert left == {"old-running", "recent"} and items == {ids["old-running"], ids["recent"]}


def test_namespace_retention_matches_with_temporals_floor(base_settings: Settings) -> None:
    assert namespace_retention(base_settings.updated(time_scale=1)) == timedelta(days=15)
    assert namespace_retention(base_settings) == MINIMUM_NAMESPACE_RETENTION  # 15 days × 0.05 < 1 day
