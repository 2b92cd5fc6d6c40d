"""`Store.one_transaction`: on SQLite a block's units commit once, together, or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from ratchet.config import load_settings
from ratchet.core.clock import utcnow
from ratchet.core.runs import RunState
from ratchet.engine.contract import EventRunOutcome
from ratchet.services.bulk_operations import BulkOperationService
from ratchet.services.event_filters import save_filter
from ratchet.services.events import EventService, NewEvent
from ratchet.services.perform import Attempt, FailedAttempt, PerformService
from ratchet.shopify.client import ShopifyConfig
from ratchet.shopify.pools import ShopifyPools
from ratchet.store.database import Store, UnitFailedInside
from ratchet.store.tables import Run, RunAttempt, Shop
from tests.support.stores import add_shop


def _shop_exists(store: Store, shop_id: str) -> bool:
    """Seen from a connection of its own: only what is committed."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).where(Shop.id == shop_id)).scalar_one() == 1  # type: ignore[arg-type]


@contextmanager
def _commits(store: Store) -> Iterator[list[object]]:
    counted: list[object] = []
    listener = lambda conn: counted.append(conn)  # noqa: E731
    sa_event.listen(store.engine, "commit", listener)
    try:
        yield counted
    finally:
        sa_event.remove(store.engine, "commit", listener)


def test_units_reads_and_sessions_inside_commit_once_at_the_end(sqlite_store: Store) -> None:
    first, second = f"shop-{uuid.uuid4().hex[:10]}", f"shop-{uuid.uuid4().hex[:10]}"
    with _commits(sqlite_store) as commits, sqlite_store.one_transaction():
        with sqlite_store.unit() as conn:
            conn.execute(Shop.__table__.insert().values(id=first, timezone="UTC", created_at=utcnow()))  # type: ignore[attr-defined]
        with sqlite_store.session() as session:
            session.add(Shop(id=second, timezone="UTC", created_at=utcnow()))
        # The block's reads see its own writes; nothing else does until it ends.
        with sqlite_store.reading() as conn:
            assert conn.execute(select(func.count()).where(Shop.id.in_([first, second]))).scalar_one() == 2  # type: ignore[attr-defined]
        assert not _shop_exists(sqlite_store, first) and not commits
    assert _shop_exists(sqlite_store, first) and _shop_exists(sqlite_store, second)
    assert len(commits) == 1


def test_a_unit_that_fails_inside_rolls_back_the_block_even_when_caught(sqlite_store: Store) -> None:
    kept, failed = f"shop-{uuid.uuid4().hex[:10]}", f"shop-{uuid.uuid4().hex[:10]}"
    with pytest.raises(UnitFailedInside), sqlite_store.one_transaction():
        with sqlite_store.unit() as conn:
            conn.execute(Shop.__table__.insert().values(id=kept, timezone="UTC", created_at=utcnow()))  # type: ignore[attr-defined]
        try:
            with sqlite_store.unit() as conn:
                conn.execute(Shop.__table__.insert().values(id=failed, timezone="UTC", created_at=utcnow()))  # type: ignore[attr-defined]
                raise ValueError("the unit's own failure")
        except ValueError:
            pass
    # Neither the failed unit's half nor the unit before it was committed.
    assert not _shop_exists(sqlite_store, kept) and not _shop_exists(sqlite_store, failed)


def test_on_postgresql_each_unit_still_commits_on_its_own(postgres_store: Store) -> None:
    shop_id = f"shop-{uuid.uuid4().hex[:10]}"
    with postgres_store.one_transaction():
        with postgres_store.unit() as conn:
            conn.execute(Shop.__table__.insert().values(id=shop_id, timezone="UTC", created_at=utcnow()))  # type: ignore[attr-defined]
        assert _shop_exists(postgres_store, shop_id)


def _perform(store: Store) -> tuple[EventService, PerformService]:
    settings = load_settings()
    # Rows only: the steps run in process, no Temporal client is needed.
    events = EventService(settings, store, client=None)  # type: ignore[arg-type]
    bulk = BulkOperationService(settings, store, None, events)  # type: ignore[arg-type]
    return events, PerformService(settings, store, events, ShopifyPools(ShopifyConfig.from_settings(settings)), bulk)


def _attempt(run_id: str, shop_id: str) -> Attempt:
    return Attempt(run_id, shop_id, number=1, enqueued_at=None, manual_retry_note=None, shopify_gated=False)


async def test_an_event_run_is_begun_and_recorded_in_one_commit(sqlite_store: Store) -> None:
    shop_id = add_shop(sqlite_store)
    events, perform = _perform(sqlite_store)
    written = await events._write(NewEvent(shop_id=shop_id, topic="user/reports/daily"))
    with _commits(sqlite_store) as commits:
        outcome = await perform.event_run(_attempt(written.event_run_id, shop_id))
    assert isinstance(outcome, EventRunOutcome) and outcome.task_runs == []
    assert len(commits) == 1
    with sqlite_store.session() as session:
        run = session.get(Run, written.event_run_id)
        attempt = session.get(RunAttempt, (written.event_run_id, 1))
    assert run is not None and run.state == RunState.succeeded and run.attempts == 1
    assert attempt is not None and attempt.ok


async def test_a_failing_event_run_still_shows_its_begun_attempt(db_store: Store) -> None:
    shop_id = add_shop(db_store)
    save_filter(db_store, shop_id, "broken", "{{ 1 | divided_by: 0 }}")
    events, perform = _perform(db_store)
    written = await events._write(NewEvent(shop_id=shop_id, topic="user/reports/daily"))
    failed = await perform.event_run(_attempt(written.event_run_id, shop_id))
    # On SQLite rolled back as one transaction, then begun again on its own: Started, with its attempt row.
    assert isinstance(failed, FailedAttempt) and "broken" in failed.message
    with db_store.session() as session:
        run = session.get(Run, written.event_run_id)
        attempt = session.get(RunAttempt, (written.event_run_id, 1))
    assert run is not None and run.state == RunState.started and run.attempts == 1
    assert attempt is not None and attempt.stopped_at is None
