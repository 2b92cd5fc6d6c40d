"""Bulk retries: the failed runs a query selects, retried by a durable BulkRetryWorkflow at a bounded rate.

Starting one records the runs it will retry (what the user confirmed is what is retried), then
starts its workflow (workflows/bulk_retry.py), which outlives the browser or CLI that started
it. Each batch retries through `retries.retry_run`, the validated update every manual retry
uses, and records per run whether it went through or why it was refused; the bulk retry's page
and `ratchet runs bulk-retries` read that record.

Which run kinds a retry re-performs follows Mechanic's rules (retries.md): a task run renders the
task's *current* code and options; an action run performs again with its *original* options;
an event run routes to the *current* tasks and subscriptions.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.service import RPCError

from ratchet.config import Settings
from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.contract import BULK_RETRY_CANCEL_SIGNAL, BULK_RETRY_WORKFLOW, SHOP_ID, BulkRetryInput
from ratchet.errors import Conflict, InvalidInput, NotFound, Unavailable
from ratchet.services.event_listing import EventQuery
from ratchet.services.events import parse_when
from ratchet.services.retries import RetryRefused, retry_run
from ratchet.services.tasks import ChangeSource, find_task
from ratchet.store.database import Store
from ratchet.store.tables import BulkRetry, BulkRetryItem, Event, Run

# Mechanic keeps runs for 15 days; without a window a bulk retry looks back this far (Trigger.dev's
# bulk actions use the same default: https://trigger.dev/changelog/bulk-actions-sdk).
DEFAULT_WINDOW = timedelta(days=7)
# Retries per second a bulk retry makes unless told otherwise, and per activity.
DEFAULT_RATE = 5.0
BATCH_SIZE = 10
# Past this many runs a bulk retry is refused: narrow the query (each run is one ledger row).
MAX_RUNS = 10_000
SAMPLE_SIZE = 10

# What each kind of retry uses, as the confirmation page and the CLI say it.
RETRY_USES = {
    RunKind.event: "routes the event again to the tasks and subscriptions as they are now",
    RunKind.task: "renders the task's current code and options",
    RunKind.action: "performs the action again with its original options",
}


@dataclass(frozen=True)
class RetrySelection:
    """Which failed runs a bulk retry takes: all of them unless narrowed.

    Args:
        task_id: only this task's runs.
        topic: only events of this topic, or of topics under a prefix ending in `/`.
        kinds: only these kinds of run (event, task, action).
        since: events created at or after this time; None means the last 7 days.
        until: events created before this time.
        events: only the events an Events view shows (its search, state and tab too).
    """

    task_id: str | None = None
    topic: str | None = None
    kinds: tuple[RunKind, ...] = (RunKind.event, RunKind.task, RunKind.action)
    since: datetime | None = None
    until: datetime | None = None
    events: EventQuery | None = None

    @classmethod
    def of_view(cls, query: EventQuery, kinds: tuple[RunKind, ...] | None = None) -> RetrySelection:
        """The failed runs of the events an Events view shows (within its window, else the last 7 days)."""
        return cls(
            task_id=query.task_id,
            topic=query.topic,
            kinds=kinds or cls.kinds,
            since=query.since,
            until=query.until,
            events=query,
        )

    def window_start(self, now: datetime) -> datetime:
        """Where the window starts: `since`, else 7 days before `now`."""
        return self.since if self.since is not None else now - DEFAULT_WINDOW

    def to_json(self, now: datetime) -> dict[str, Any]:
        """As the bulk retry records it: every bound explicit, so it reads the same later."""
        return {
            "task_id": self.task_id,
            "topic": self.topic,
            "kinds": [k.value for k in self.kinds],
            "since": self.window_start(now).isoformat(),
            "until": self.until.isoformat() if self.until else None,
            **({"search": self.events.search} if self.events and self.events.search else {}),
            **({"state": self.events.state.value} if self.events and self.events.state else {}),
        }


@dataclass(frozen=True)
class FailedRun:
    """A failed run a bulk retry would take, as the confirmation sample lists it."""

    id: str
    kind: RunKind
    topic: str
    task_name: str | None
    action_type: str | None
    error: str | None
    event_id: str
    event_created_at: datetime | None


@dataclass
class RetryPlan:
    """What a bulk retry of a selection would do: how many runs of each kind, and a sample."""

    count: int
    by_kind: dict[RunKind, int]
    sample: list[FailedRun]
    since: datetime
    until: datetime | None

    @property
    def uses(self) -> dict[RunKind, str]:
        """What a retry of each kind in the plan re-performs."""
        return {kind: RETRY_USES[kind] for kind in self.by_kind}


@dataclass
class BulkRetryView:
    """A bulk retry and how far it got; `refusals` lists each refused run with its reason."""

    id: str
    shop_id: str
    name: str
    state: str
    source: str
    selection: dict[str, Any]
    workflow_id: str
    total: int
    retried: int
    refused: int
    created_at: datetime | None
    finished_at: datetime | None
    refusals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Runs the bulk retry has reached (retried or refused)."""
        return self.retried + self.refused


_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime) -> datetime:
    """A window bound as users give it: `7d`, `12h`, `30m` ago, or a time (ISO 8601, Unix seconds)."""
    relative = _RELATIVE.match(value)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    parsed = parse_when(value)
    assert parsed is not None  # given text
    return parsed


def bulk_retry_workflow_id(shop_id: str, bulk_retry_id: str) -> str:
    return f"bulk-retry/{shop_id}/{bulk_retry_id}"


# The runs a bulk retry takes, under an alias: an Events view's conditions refer to `runs` in
# subqueries of their own, which must not correlate with these.
_FAILED = aliased(Run, name="failed_runs")


def _conditions(shop_id: str, selection: RetrySelection, now: datetime) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        col(_FAILED.shop_id) == shop_id,
        col(_FAILED.state) == RunState.failed,
        col(_FAILED.kind).in_(selection.kinds),
        col(Event.created_at) >= selection.window_start(now),
    ]
    if selection.until is not None:
        where.append(col(Event.created_at) < selection.until)
    if selection.task_id:
        where.append(col(_FAILED.task_id) == selection.task_id)
    if selection.topic:
        topic = selection.topic
        prefix = topic.endswith("/")
        where.append(col(_FAILED.topic).startswith(topic, autoescape=True) if prefix else col(_FAILED.topic) == topic)
    if selection.events is not None:
        where.extend(selection.events.conditions(shop_id))
    return where


def _check(session: Session, shop_id: str, selection: RetrySelection) -> None:
    if selection.task_id:
        find_task(session, shop_id, selection.task_id)
    if not selection.kinds:
        raise InvalidInput("choose at least one kind of run to retry")
    if selection.since and selection.until and selection.until <= selection.since:
        raise InvalidInput("the window ends before it starts")


def plan_bulk_retry(store: Store, shop_id: str, selection: RetrySelection) -> RetryPlan:
    """Count the failed runs the selection takes, by kind, with the newest few as a sample."""
    now = utcnow()
    with store.session() as session:
        _check(session, shop_id, selection)
        where = _conditions(shop_id, selection, now)
        joined = select(_FAILED.kind, func.count()).join(Event, col(Event.id) == col(_FAILED.event_id)).where(*where)
        by_kind = {RunKind(kind): int(n) for kind, n in session.exec(joined.group_by(_FAILED.kind)).all()}
        rows = session.exec(
            select(_FAILED, Event.created_at)
            .join(Event, col(Event.id) == col(_FAILED.event_id))
            .where(*where)
            .order_by(col(Event.created_at).desc(), col(_FAILED.id))
            .limit(SAMPLE_SIZE)
        ).all()
    sample = [
        FailedRun(r.id, r.kind, r.topic, r.task_name, r.action_type, r.error, r.event_id, created)
        for r, created in rows
    ]
    ordered = {kind: by_kind[kind] for kind in RunKind if kind in by_kind}
    return RetryPlan(sum(ordered.values()), ordered, sample, selection.window_start(now), selection.until)


def create_bulk_retry(
    store: Store, shop_id: str, selection: RetrySelection, name: str, source: ChangeSource
) -> BulkRetry:
    """Record a bulk retry and the runs it takes (oldest event first); its workflow is started next."""
    if not name.strip():
        raise InvalidInput("name the bulk retry (say which incident it recovers from)")
    now = utcnow()
    with store.session() as session:
        _check(session, shop_id, selection)
        runs = session.exec(
            select(_FAILED.id, _FAILED.kind, _FAILED.manual_retries)
            .join(Event, col(Event.id) == col(_FAILED.event_id))
            .where(*_conditions(shop_id, selection, now))
            .order_by(col(Event.created_at), col(_FAILED.id))
            .limit(MAX_RUNS + 1)
        ).all()
        if not runs:
            raise Conflict("no failed runs match: nothing to retry")
        if len(runs) > MAX_RUNS:
            raise InvalidInput(f"more than {MAX_RUNS} failed runs match; narrow the query or the window")
        bulk_id = str(uuid.uuid4())
        bulk = BulkRetry(
            id=bulk_id,
            shop_id=shop_id,
            name=name.strip(),
            selection=selection.to_json(now),
            total=len(runs),
            source=source,
            workflow_id=bulk_retry_workflow_id(shop_id, bulk_id),
            created_at=now,
        )
        session.add(bulk)
        session.add_all(
            BulkRetryItem(
                bulk_retry_id=bulk_id, position=i, run_id=run_id, kind=RunKind(kind).value, retries_before=retries
            )
            for i, (run_id, kind, retries) in enumerate(runs)
        )
        return bulk


async def start_bulk_retry(
    settings: Settings,
    store: Store,
    client: Client,
    shop_id: str,
    selection: RetrySelection,
    name: str,
    *,
    source: ChangeSource,
    rate_per_second: float = DEFAULT_RATE,
) -> BulkRetryView:
    """Record the bulk retry and start its workflow; returns it as its page shows it."""
    if rate_per_second <= 0:
        raise InvalidInput("the rate must be above 0 retries per second")
    bulk = await asyncio.to_thread(create_bulk_retry, store, shop_id, selection, name, source)
    batch = min(BATCH_SIZE, max(1, int(rate_per_second)))
    try:
        await client.start_workflow(
            BULK_RETRY_WORKFLOW,
            BulkRetryInput(
                bulk_retry_id=bulk.id,
                shop_id=shop_id,
                total=bulk.total,
                batch_size=batch,
                seconds_per_batch=batch / rate_per_second,
                time_scale=settings.time_scale,
            ),
            id=bulk.workflow_id,
            task_queue=settings.temporal.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(SHOP_ID, shop_id)]),
            static_summary=f"bulk retry {bulk.name!r}: {bulk.total} failed run(s)",
        )
    except RPCError as exc:
        await asyncio.to_thread(finish_bulk_retry, store, bulk.id, "cancelled")
        raise Unavailable(f"cannot start the bulk retry: {exc}") from exc
    return await asyncio.to_thread(get_bulk_retry, store, shop_id, bulk.id)


async def retry_batch(
    settings: Settings, store: Store, client: Client, bulk_retry_id: str, first_position: int, count: int
) -> tuple[int, int]:
    """Retry the batch's runs not yet done, recording each outcome; (retried, refused) of this call.

    Safe to repeat: runs with an outcome are skipped, and a run whose manual retries grew since
    it was chosen is counted retried (a crash came between its retry and the record of it).
    """
    items, bulk = await asyncio.to_thread(_pending_items, store, bulk_retry_id, first_position, count)
    retried = refused = 0
    for item in items:
        try:
            await retry_run(settings, store, client, bulk.shop_id, item.run_id, f"bulk retry {bulk.name!r}")
            outcome, detail = "retried", None
        except RetryRefused as exc:
            outcome, detail = "refused", exc.reason
            if await asyncio.to_thread(_retried_since, store, item):
                outcome, detail = "retried", None
        except NotFound as exc:
            outcome, detail = "refused", str(exc)
        await asyncio.to_thread(_record, store, item, outcome, detail)
        retried += outcome == "retried"
        refused += outcome == "refused"
    return retried, refused


def _pending_items(store: Store, bulk_retry_id: str, first: int, count: int) -> tuple[list[BulkRetryItem], BulkRetry]:
    with store.session() as session:
        bulk = session.get(BulkRetry, bulk_retry_id)
        if bulk is None:
            raise NotFound(f"unknown bulk retry {bulk_retry_id!r}")
        items = session.exec(
            select(BulkRetryItem)
            .where(
                BulkRetryItem.bulk_retry_id == bulk_retry_id,
                col(BulkRetryItem.position) >= first,
                col(BulkRetryItem.position) < first + count,
                col(BulkRetryItem.outcome).is_(None),
            )
            .order_by(col(BulkRetryItem.position))
        ).all()
        return list(items), bulk


def _retried_since(store: Store, item: BulkRetryItem) -> bool:
    with store.session() as session:
        run = session.get(Run, item.run_id)
        return run is not None and run.manual_retries > item.retries_before


def _record(store: Store, item: BulkRetryItem, outcome: str, detail: str | None) -> None:
    with store.session() as session:
        row = session.get(BulkRetryItem, (item.bulk_retry_id, item.position))
        if row is not None:
            row.outcome, row.detail, row.done_at = outcome, detail, utcnow()
            session.add(row)


def finish_bulk_retry(store: Store, bulk_retry_id: str, state: str) -> None:
    with store.session() as session:
        bulk = session.get(BulkRetry, bulk_retry_id)
        if bulk is not None and bulk.finished_at is None:
            bulk.state, bulk.finished_at = state, utcnow()
            session.add(bulk)


def get_bulk_retry(store: Store, shop_id: str, bulk_retry_id: str) -> BulkRetryView:
    with store.session() as session:
        bulk = session.get(BulkRetry, bulk_retry_id)
        if bulk is None or bulk.shop_id != shop_id:
            raise NotFound(f"unknown bulk retry {bulk_retry_id!r}")
        counts = dict(
            session.exec(
                select(BulkRetryItem.outcome, func.count())
                .where(BulkRetryItem.bulk_retry_id == bulk.id, col(BulkRetryItem.outcome).is_not(None))
                .group_by(col(BulkRetryItem.outcome))
            ).all()
        )
        refusals = session.exec(
            select(BulkRetryItem)
            .where(BulkRetryItem.bulk_retry_id == bulk.id, BulkRetryItem.outcome == "refused")
            .order_by(col(BulkRetryItem.position))
        ).all()
        return _view(bulk, counts, [{"run_id": r.run_id, "kind": r.kind, "reason": r.detail} for r in refusals])


def list_bulk_retries(store: Store, shop_id: str, limit: int = 50) -> list[BulkRetryView]:
    """The shop's bulk retries, newest first, with their progress (not their refusals)."""
    with store.session() as session:
        rows = session.exec(
            select(BulkRetry)
            .where(BulkRetry.shop_id == shop_id)
            .order_by(col(BulkRetry.created_at).desc())
            .limit(limit)
        ).all()
        ids = [r.id for r in rows]
        tallies: dict[str, dict[str, int]] = {i: {} for i in ids}
        for bulk_id, outcome, n in session.exec(
            select(BulkRetryItem.bulk_retry_id, BulkRetryItem.outcome, func.count())
            .where(col(BulkRetryItem.bulk_retry_id).in_(ids), col(BulkRetryItem.outcome).is_not(None))
            .group_by(col(BulkRetryItem.bulk_retry_id), col(BulkRetryItem.outcome))
        ).all():
            tallies[bulk_id][str(outcome)] = int(n)
        return [_view(r, tallies[r.id], []) for r in rows]


def _view(bulk: BulkRetry, counts: dict[Any, int], refusals: list[dict[str, Any]]) -> BulkRetryView:
    return BulkRetryView(
        id=bulk.id,
        shop_id=bulk.shop_id,
        name=bulk.name,
        state=bulk.state,
        source=bulk.source,
        selection=bulk.selection,
        workflow_id=bulk.workflow_id,
        total=bulk.total,
        retried=counts.get("retried", 0),
        refused=counts.get("refused", 0),
        created_at=bulk.created_at,
        finished_at=bulk.finished_at,
        refusals=refusals,
    )


async def cancel_bulk_retry(store: Store, client: Client, shop_id: str, bulk_retry_id: str) -> None:
    """Stop the bulk retry before its next batch (runs already retried stay retried)."""
    bulk = await asyncio.to_thread(get_bulk_retry, store, shop_id, bulk_retry_id)
    if bulk.state != "running":
        raise Conflict(f"bulk retry {bulk.name!r} is {bulk.state}")
    try:
        await client.get_workflow_handle(bulk.workflow_id).signal(BULK_RETRY_CANCEL_SIGNAL)
    except RPCError as exc:
        raise Unavailable(f"cannot cancel the bulk retry: {exc}") from exc
