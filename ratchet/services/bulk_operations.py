"""Bulk operations a task started: tracking, monitoring steps, the follow-up event, the results.

The path of one operation:

1. A `shopify` action run's response starts an operation (`track_from_action`): a
   `bulk_operations` row names the shop, the task and the action run, and the monitoring
   workflow starts (id from shop + operation, so never twice).
2. The workflow (workflows/bulk_operations.py) wakes on the `bulk_operations/finish` webhook
   (`signal_finished`, from the ingress) or on its polling timer, and asks `check`.
3. On a terminal status, `collect` streams the result file to RATCHET_HOME and indexes it, then
   `report` creates one `mechanic/shopify/bulk_operation` event for the originating task only.
4. The task run renders with `bulkOperation.objects` read lazily from that file
   (`render_objects`); after the retention window the workflow calls `delete_results`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from ratchet.config import Settings
from ratchet.core.bulk_operations import (
    BULK_OPERATION_TOPIC,
    NODE_QUERY,
    TERMINAL_STATUSES,
    StartedBulkOperation,
    detect_bulk_operations,
    is_bulk_operation_gid,
    is_terminal,
    monitor_workflow_id,
    operation_attributes,
    report_idempotency_key,
)
from ratchet.core.clock import utcnow
from ratchet.core.runs import PRIORITY_EVENT
from ratchet.engine.contract import (
    BULK_FINISHED_SIGNAL,
    BULK_OPERATION_WORKFLOW,
    SHOP_ID,
    BulkCheck,
    BulkMonitorInput,
)
from ratchet.errors import InvalidInput
from ratchet.services.events import EventService, NewEvent
from ratchet.services.followups import FOLLOWUP_SOURCE
from ratchet.shopify.bulk_results import BulkResults, ResultsUnavailable, build_index, delete_results, download_results
from ratchet.shopify.client import AsyncShopifyClient, ShopifyConfig, ShopTarget
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import BulkOperation, Event, Run, Shop

log = logging.getLogger(__name__)

RESULTS_ROOT = "bulk-operations"


class BulkOperationGone(LookupError):
    """A tracked operation's shop is gone or unconnected, or Shopify no longer knows the operation."""


@dataclass(frozen=True)
class BulkOperationView:
    """What `ratchet runs show` and `ratchet shop status` say about one operation."""

    id: str
    type: str
    status: str
    error_code: str | None
    task_name: str | None
    action_run_id: str
    workflow_id: str
    object_count: int | None
    report_event_id: str | None
    created_at: str | None

    @classmethod
    def of(cls, row: BulkOperation) -> BulkOperationView:
        """The view of a `bulk_operations` row."""
        return cls(
            id=row.gid,
            type=row.type,
            status=row.status,
            error_code=row.error_code,
            task_name=row.task_name,
            action_run_id=row.action_run_id,
            workflow_id=row.workflow_id,
            object_count=row.object_count,
            report_event_id=row.report_event_id,
            created_at=row.created_at.isoformat() if row.created_at else None,
        )


def row_id(shop_id: str, gid: str) -> str:
    return ledger.derived_id("bulk-operation", shop_id, gid)


def monitor_input(settings: Settings, shop_id: str, gid: str) -> BulkMonitorInput:
    return BulkMonitorInput(
        shop_id=shop_id,
        gid=gid,
        time_scale=settings.time_scale,
        history_limit=settings.history_limit,
        retention_days=settings.retention_days,
    )


class BulkOperationService:
    """Tracks, monitors and reports the bulk operations tasks start (the steps numbered above).

    Args:
        events: creates the one `mechanic/shopify/bulk_operation` event per operation.
    """

    def __init__(self, settings: Settings, store: Store, client: Client, events: EventService) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.events = events

    # -- 1. tracking -------------------------------------------------------------------------------

    async def track_from_action(self, run: Run, query: str, response: Any, api_version: str | None) -> None:
        """Follow every operation a successful `shopify` action run started. Never raises.

        The action's side effect is done and recorded: failing now would start the operation a
        second time. An operation that cannot be followed is noted on the run; the row is kept,
        so the next worker start resumes its monitor.
        """
        if not isinstance(response, dict):
            return
        for started in detect_bulk_operations(query, response):
            try:
                await asyncio.to_thread(self._record, run, started, api_version)
                await self.start_monitor(run.shop_id, started.gid, run.task_name)
                note = f"bulk operation {started.gid} ({started.type}) started; monitored by workflow " + (
                    monitor_workflow_id(run.shop_id, started.gid)
                )
            except Exception as exc:
                log.exception("bulk operation %s of run %s is not monitored", started.gid, run.id)
                note = f"bulk operation {started.gid} not monitored yet ({type(exc).__name__}: {exc}); resumed at the next worker start"
            # The note is for operators; the monitor already runs, so a failed write only loses the note.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._note, run.id, note)

    def _note(self, run_id: str, note: str) -> None:
        with self.store.engine.begin() as conn:
            ledger.add_note(conn, run_id, note)

    def _record(self, run: Run, started: StartedBulkOperation, api_version: str | None) -> None:
        assert run.task_id is not None
        now = utcnow()
        with self.store.session() as session:
            self.store.insert_ignore(
                session,
                BulkOperation,
                [
                    {
                        "id": row_id(run.shop_id, started.gid),
                        "shop_id": run.shop_id,
                        "gid": started.gid,
                        "type": started.type,
                        "status": started.status or "CREATED",
                        "task_id": run.task_id,
                        "task_name": run.task_name,
                        "action_run_id": run.id,
                        "event_id": run.event_id,
                        "shopify_api_version": api_version,
                        "workflow_id": monitor_workflow_id(run.shop_id, started.gid),
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )

    async def start_monitor(self, shop_id: str, gid: str, task_name: str | None, *, finished: bool = False) -> None:
        """Start the operation's workflow unless it exists; `finished` also signals it (signal-with-start).

        REJECT_DUPLICATE keeps a closed monitor closed: an operation is reported once, however
        late a webhook or a resumed start arrives.
        """
        # A closed monitor raises WorkflowAlreadyStartedError: reported already (or never ours).
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                BULK_OPERATION_WORKFLOW,
                monitor_input(self.settings, shop_id, gid),
                id=monitor_workflow_id(shop_id, gid),
                task_queue=self.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal=BULK_FINISHED_SIGNAL if finished else None,
                search_attributes=TypedSearchAttributes([SearchAttributePair(SHOP_ID, shop_id)]),
                priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=shop_id),
                static_summary=f"bulk operation {gid} · {shop_id} · task {task_name or '(unknown yet)'}",
                static_details=f"shop: {shop_id}\ntask: {task_name or '(unknown yet)'}\noperation: {gid}",
            )

    async def signal_finished(self, shop_id: str, gid: str) -> None:
        """The finish webhook: wake the operation's monitor, starting it if the webhook came first."""
        if not is_bulk_operation_gid(gid):
            raise InvalidInput(f"bulk_operations/finish without a bulk operation id (got {gid!r})")
        row = await asyncio.to_thread(self._row, shop_id, gid)
        await self.start_monitor(shop_id, gid, row.task_name if row else None, finished=True)

    async def resume_monitors(self) -> int:
        """At worker start: make sure every unreported operation has its monitor (idempotent)."""
        rows = await asyncio.to_thread(self._unreported)
        for row in rows:
            await self.start_monitor(row.shop_id, row.gid, row.task_name)
        return len(rows)

    def _unreported(self) -> list[BulkOperation]:
        with self.store.session() as session:
            return list(session.exec(select(BulkOperation).where(col(BulkOperation.report_event_id).is_(None))))

    def _row(self, shop_id: str, gid: str) -> BulkOperation | None:
        with self.store.session() as session:
            return session.get(BulkOperation, row_id(shop_id, gid))

    # -- 2. checking -------------------------------------------------------------------------------

    async def check(self, shop_id: str, gid: str) -> BulkCheck:
        """Ask Shopify for the operation (`node(id:)`) and record what it says."""
        row = await asyncio.to_thread(self._row, shop_id, gid)
        if row is None:
            return BulkCheck(tracked=False)
        if row.report_event_id is not None or (is_terminal(row.status) and row.attributes):
            # Known to be finished (a continued or restarted monitor): no need to ask again.
            return BulkCheck(tracked=True, status=row.status, terminal=True)
        with self.store.session() as session:
            shop = session.get(Shop, shop_id)
        if shop is None:
            raise BulkOperationGone(f"shop {shop_id!r} no longer exists")
        async with AsyncShopifyClient(
            ShopTarget.from_shop(shop),
            api_version=row.shopify_api_version,
            config=ShopifyConfig.from_settings(self.settings),
            store=self.store,
        ) as shopify:
            response = await shopify.graphql(NODE_QUERY, {"id": gid})
        data = response.get("data")
        node = data.get("node") if isinstance(data, dict) else None
        if isinstance(data, dict) and node is None:
            # Asking again cannot bring it back; the monitor stops (a failed workflow in the UI).
            raise BulkOperationGone(f"Shopify does not know bulk operation {gid} on shop {shop_id!r}")
        if not isinstance(node, dict):
            raise RuntimeError(f"Shopify did not return bulk operation {gid}: {response.get('errors')}")
        attributes = operation_attributes(node, row.type)
        await asyncio.to_thread(self._update, shop_id, gid, attributes=attributes)
        status = str(attributes["status"])
        return BulkCheck(tracked=True, status=status, terminal=status in TERMINAL_STATUSES)

    def _update(self, shop_id: str, gid: str, **fields: Any) -> None:
        with self.store.session() as session:
            row = session.get(BulkOperation, row_id(shop_id, gid))
            if row is None:
                return
            attributes = fields.pop("attributes", None)
            if attributes is not None:
                row.attributes = attributes
                row.status = str(attributes.get("status") or row.status)
                row.error_code = attributes.get("errorCode")
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            session.add(row)

    # -- 3. collecting and reporting ---------------------------------------------------------------

    def results_directory(self, shop_id: str, gid: str) -> Path:
        """Where an operation's result file and its index live, under RATCHET_HOME."""
        return self.settings.home / RESULTS_ROOT / row_id(shop_id, gid)

    async def collect(
        self, shop_id: str, gid: str, on_progress: Callable[[int], Awaitable[None] | None] | None = None
    ) -> int:
        """Download and index a completed operation's results (resumable); returns the object count.

        Failed, canceled and expired operations, and completed ones without a file (nothing
        matched), have no objects: Mechanic reports them with `objects` empty.
        """
        row = await asyncio.to_thread(self._row, shop_id, gid)
        if row is None or not row.attributes:
            raise RuntimeError(f"bulk operation {gid} has not been checked yet")
        url = row.attributes.get("url")
        if row.status != "COMPLETED" or not url:
            await asyncio.to_thread(self._update, shop_id, gid, object_count=0)
            return 0
        directory = self.results_directory(shop_id, gid)
        await download_results(url, directory, on_progress=on_progress)
        count = await asyncio.to_thread(build_index, directory)
        relative = str(directory.relative_to(self.settings.home))
        await asyncio.to_thread(self._update, shop_id, gid, results_path=relative, object_count=count)
        return count

    async def report(self, shop_id: str, gid: str) -> str:
        """Create the one `mechanic/shopify/bulk_operation` event, for the originating task only."""
        row = await asyncio.to_thread(self._row, shop_id, gid)
        if row is None or not row.attributes:
            raise RuntimeError(f"bulk operation {gid} has not been checked yet")
        report = NewEvent(
            shop_id=shop_id,
            topic=BULK_OPERATION_TOPIC,
            # Attributes only: `objects` is read from the result file when the task renders.
            data=operation_attributes(row.attributes, row.type),
            source=FOLLOWUP_SOURCE,
            parent_id=row.event_id,
            task_ids=[row.task_id],
            idempotency_key=report_idempotency_key(gid),
        )
        created = await self.events.create(report)
        await asyncio.to_thread(self._update, shop_id, gid, report_event_id=created.id)
        return created.id

    async def delete_results(self, shop_id: str, gid: str) -> None:
        """Delete the operation's result files and note when (its monitor asks once the retention window has passed)."""
        await asyncio.to_thread(delete_results, self.results_directory(shop_id, gid))
        await asyncio.to_thread(self._update, shop_id, gid, results_deleted_at=utcnow())


# -- 4. rendering -------------------------------------------------------------------------------------


@contextlib.contextmanager
def render_objects(settings: Settings, store: Store, event: Event) -> Iterator[Sequence[Any]]:
    """`bulkOperation.objects` for a task run of this event: lazy over the result file, or empty.

    Raises ResultsUnavailable (the task run fails with that message) when the file is gone.
    """
    data = event.data if isinstance(event.data, dict) else {}
    gid = data.get("id")
    with store.session() as session:
        row = session.get(BulkOperation, row_id(event.shop_id, gid)) if isinstance(gid, str) else None
    if row is None or not row.results_path:
        yield []
        return
    if row.results_deleted_at is not None:
        raise ResultsUnavailable(
            f"the results of bulk operation {gid} were deleted after the retention window; start a new operation"
        )
    directory = settings.home / row.results_path
    try:
        results = BulkResults(directory)
    except ResultsUnavailable as exc:
        raise ResultsUnavailable(
            f"the results of bulk operation {gid} are not in {directory}; workers must share RATCHET_HOME"
        ) from exc
    with results:
        yield results.objects


# -- visibility ---------------------------------------------------------------------------------------


def operations_of_run(session: Session, run_id: str) -> list[BulkOperationView]:
    """The bulk operations an action run started (shown by `ratchet runs show`)."""
    rows = session.exec(select(BulkOperation).where(BulkOperation.action_run_id == run_id))
    return [BulkOperationView.of(row) for row in rows]


def running_operations(session: Session, shop_id: str) -> list[BulkOperationView]:
    """Operations not yet reported to their task (shown by `ratchet shop status`)."""
    rows = session.exec(
        select(BulkOperation)
        .where(BulkOperation.shop_id == shop_id, col(BulkOperation.report_event_id).is_(None))
        .order_by(col(BulkOperation.created_at))
    )
    return [BulkOperationView.of(row) for row in rows]
