"""Retention: the ledger keeps events and their runs for the retention window, then forgets them.

Mechanic keeps 15 days (RATCHET_RETENTION_DAYS, scaled by RATCHET_TIME_SCALE). An event is
purged once it is older than the window *and* none of its runs is still pending or finished
within it. Its workflow closed long before, once its runs settled; until the purge a manual retry
reopens it from the ledger's runs, after it the event can no longer be retried. Deletes go in
small batches, each its own short transaction, so the ledger is never locked for long while
workers keep writing. Expired cache entries go too, and so do the files the `files` action kept
once their URLs expired (they expire by their own lifetime), and bulk retries that finished
before the window (their runs may be gone; a running one stays whatever its age).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, or_, select
from sqlmodel import col

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunState
from ratchet.files.storage import FileStore
from ratchet.services.shop_cache import purge_expired
from ratchet.store.database import Store
from ratchet.store.tables import BulkRetry, BulkRetryItem, Event, Run, RunAttempt

DEFAULT_BATCH_SIZE = 200
TERMINAL_STATES = (RunState.succeeded, RunState.failed)


@dataclass
class PurgeResult:
    """Rows deleted so far by one retention pass."""

    events: int = 0
    runs: int = 0
    attempts: int = 0
    cache_entries: int = 0
    stored_files: int = 0
    bulk_retries: int = 0


def _expired_event_ids(store: Store, cutoff: datetime, limit: int) -> list[str]:
    still_relevant = exists().where(
        col(Run.event_id) == col(Event.id),
        or_(col(Run.state).not_in(TERMINAL_STATES), col(Run.stopped_at).is_(None), col(Run.stopped_at) >= cutoff),
    )
    statement = (
        select(col(Event.id))
        .where(and_(col(Event.created_at) < cutoff, ~still_relevant))
        .order_by(col(Event.created_at))
        .limit(limit)
    )
    with store.session() as session:
        return list(session.execute(statement).scalars())


def _purge_events(store: Store, event_ids: list[str], result: PurgeResult) -> None:
    run_ids = select(col(Run.id)).where(col(Run.event_id).in_(event_ids)).scalar_subquery()
    with store.session() as session:
        result.attempts += _count(session.execute(delete(RunAttempt).where(col(RunAttempt.run_id).in_(run_ids))))
        result.runs += _count(session.execute(delete(Run).where(col(Run.event_id).in_(event_ids))))
        result.events += _count(session.execute(delete(Event).where(col(Event.id).in_(event_ids))))


def _purge_bulk_retries(store: Store, cutoff: datetime, limit: int, result: PurgeResult) -> bool:
    """Delete up to `limit` bulk retries finished before `cutoff`, with their items; False when none was left."""
    finished = (
        select(col(BulkRetry.id))
        .where(col(BulkRetry.state) != "running", col(BulkRetry.finished_at) < cutoff)
        .limit(limit)
    )
    with store.session() as session:
        ids = list(session.execute(finished).scalars())
        if ids:
            session.execute(delete(BulkRetryItem).where(col(BulkRetryItem.bulk_retry_id).in_(ids)))
            result.bulk_retries += _count(session.execute(delete(BulkRetry).where(col(BulkRetry.id).in_(ids))))
    return bool(ids)


def _count(cursor: object) -> int:
    return int(getattr(cursor, "rowcount", 0) or 0)


def purge(
    store: Store,
    cutoff: datetime,
    *,
    files: FileStore | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[PurgeResult], None] | None = None,
) -> PurgeResult:
    """Delete events (with runs and attempts) past retention in batches, then finished bulk retries, expired cache entries and files.

    Args:
        store: The ledger.
        cutoff: The start of the retention window: events created before it whose runs all finished
            before it go.
        files: The `files` action's storage, whose expired files go too (none when absent).
        batch_size: Events (or bulk retries) deleted per transaction.
        on_batch: Called with the running totals after each batch (progress, logs).
    """
    result = PurgeResult()
    while event_ids := _expired_event_ids(store, cutoff, batch_size):
        _purge_events(store, event_ids, result)
        if on_batch is not None:
            on_batch(result)
    while _purge_bulk_retries(store, cutoff, batch_size, result):
        pass
    result.cache_entries = purge_expired(store)
    if files is not None:
        result.stored_files = files.purge_expired(utcnow())
    return result
