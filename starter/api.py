"""The Python starter API: everything the CLI does, for programs.

async with await Ratchet.connect() as ratchet:
    task = await ratchet.import_task(Path("task.json"))
    event_id = await ratchet.run_task(task.id)
    runs = await ratchet.list_runs(event_id=event_id)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel
from sqlmodel import col, or_, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from ratchet.config import Settings, load_settings
from ratchet.core.api_versions import check_api_version
from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.core.subscriptions import BUTTON_TOPICS, parse_subscriptions, validate_topic
from ratchet.engine.connection import connect
from ratchet.engine.contract import RETRY_RUN_IN_FLIGHT, RetryAccepted, RetryRequest
from ratchet.errors import RatchetError
from ratchet.services.compatibility import CompatibilityWarning
from ratchet.services.events import EventService, UnknownShop
from ratchet.services.shop_connection import (
    ShopConnectionError,
    connection_for_update,
    save_connection,
    sync_connection,
)
from ratchet.shopify.client import ShopifyConfig
from ratchet.store import ledger
from ratchet.store.database import Store, get_store
from ratchet.store.tables import Event, Run, RunAttempt, Shop, Task
from workflows.event import EventWorkflow


class RunView(BaseModel):
    """A run as `ratchet runs list --json` prints it."""

    id: str
    kind: RunKind
    state: RunState
    topic: str
    event_id: str
    parent_id: str | None
    task_id: str | None
    task_name: str | None
    action_type: str | None
    attempts: int
    run_at: datetime | None
    enqueued_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    elapsed_time_ms: int | None
    ok: bool | None
    error: str | None

    @classmethod
    def of(cls, run: Run) -> RunView:
        return cls.model_validate(run, from_attributes=True)


class RunDetail(RunView):
    subscription: str | None
    action_options: Any
    action_meta: Any
    result: Any
    result_meta: Any
    manual_retries: int
    notes: list[dict[str, Any]]
    attempt_log: list[dict[str, Any]]


@dataclass
class ImportedTask:
    task: Task
    missing_required_options: list[str]
    replaced: bool
    # What a re-import changed, or kept, of the user's task (empty for a first import or --reset).
    changes: list[str] = field(default_factory=list)
    # Features of the task that will not work on this installation.
    warnings: list[CompatibilityWarning] = field(default_factory=list)


def _parse_when(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise RatchetError(f"invalid time {value!r}: use ISO 8601 (2026-11-23T10:00:00Z) or Unix seconds") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RatchetError(f"unknown time zone {name!r}: use an IANA name such as America/New_York") from exc
    return name


class Ratchet:
    def __init__(self, settings: Settings, store: Store, client: Client | None) -> None:
        self.settings = settings
        self.store = store
        self._client = client

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, temporal: bool = True) -> Ratchet:
        settings = settings or load_settings()
        store = get_store(settings.effective_database_url)
        client = None
        if temporal:
            try:
                client = await connect(settings)
            except RuntimeError as exc:
                raise RatchetError(
                    f"cannot reach Temporal at {settings.effective_temporal_address}: is `ratchet dev` running?"
                ) from exc
        return cls(settings, store, client)

    async def __aenter__(self) -> Ratchet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RatchetError("this operation needs Temporal; connect with temporal=True")
        return self._client

    @property
    def events(self) -> EventService:
        return EventService(self.settings, self.store, self.client)

    async def _db(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _sync_schedules(self, shop_id: str) -> None:
        """Match the shop's scheduler schedules to its tasks; offline (no Temporal) the next worker start does it."""
        from ratchet.engine.schedules import sync_schedules
        from ratchet.engine.webhook_reconcile import request_reconcile

        client = self._client
        if client is None:
            try:
                client = await asyncio.wait_for(connect(self.settings), timeout=5)
            except (TimeoutError, RuntimeError):
                return
        await sync_schedules(client, self.store, shop_id, task_queue=self.settings.task_queue)
        # The same task and shop changes decide which Shopify webhooks the shop needs.
        await request_reconcile(client, self.settings, shop_id)

    # -- shops -----------------------------------------------------------------------------------

    async def set_shop(
        self,
        shop_id: str,
        *,
        create: bool,
        timezone_name: str | None = None,
        shopify_domain: str | None = None,
        access_token: str | None = None,
        webhook_secret: str | None = None,
        api_version: str | None = None,
    ) -> Shop:
        """Create or change a shop; `api_version` is the Admin API version of tasks that name none."""
        if timezone_name is not None:
            _check_timezone(timezone_name)
        if api_version is not None:
            check_api_version(api_version, today=utcnow().date())
        try:
            fetched = await connection_for_update(
                self.store,
                shop_id,
                shopify_domain=shopify_domain,
                access_token=access_token,
                timezone_name=timezone_name,
                config=ShopifyConfig.from_settings(self.settings),
            )
        except ShopConnectionError as exc:
            raise RatchetError(str(exc)) from exc
        zone_changed = False

        def write() -> Shop:
            nonlocal zone_changed
            with self.store.session() as session:
                shop = session.get(Shop, shop_id)
                if create and shop is not None:
                    raise RatchetError(f"shop {shop_id!r} already exists; use `ratchet shop set`")
                if not create and shop is None:
                    raise RatchetError(f"unknown shop {shop_id!r}; use `ratchet shop add`")
                shop = shop or Shop(id=shop_id, created_at=utcnow())
                for field, value in (
                    ("timezone", timezone_name),
                    ("shopify_domain", shopify_domain),
                    ("access_token", access_token),
                    ("webhook_secret", webhook_secret),
                    ("shopify_api_version", api_version),
                ):
                    if value is not None:
                        setattr(shop, field, value)
                session.add(shop)
                if fetched is not None:
                    zone_changed = save_connection(session, shop, fetched)
                return shop

        shop = await self._db(write)
        if timezone_name is not None or zone_changed or fetched is not None:
            await self._sync_schedules(shop_id)
        return shop

    async def sync_shop(self, shop_id: str) -> Shop:
        """Refresh the shop's Shopify snapshot (zone, currency, scopes); schedules and webhooks follow."""
        try:
            await sync_connection(self.store, shop_id, ShopifyConfig.from_settings(self.settings))
        except ShopConnectionError as exc:
            raise RatchetError(str(exc)) from exc
        await self._sync_schedules(shop_id)
        return await self.get_shop(shop_id)

    async def get_shop(self, shop_id: str) -> Shop:
        def read() -> Shop:
            with self.store.session() as session:
                shop = session.get(Shop, shop_id)
                if shop is None:
                    raise RatchetError(f"unknown shop {shop_id!r}")
                return shop

        return await self._db(read)

    # -- tasks -----------------------------------------------------------------------------------

    async def import_task(
        self, source: Path | str | dict[str, Any], shop_id: str | None = None, *, reset: bool = False
    ) -> ImportedTask:
        """Import a Mechanic export; enabled when its required options are filled, else disabled.

        Importing over a task with the same name replaces its code but keeps what the user set:
        its enabled state and the values of options both versions have (`changes` says what
        differs). `reset` replaces those too, as a first import would.
        """
        from ratchet.core.task_export import TaskImportError, keep_user_options, parse_export
        from ratchet.services.check import compatibility_warnings

        shop_id = shop_id or self.settings.shop
        if isinstance(source, Path):
            try:
                source = source.read_text(encoding="utf-8")
            except OSError as exc:
                raise RatchetError(f"cannot read {source}: {exc.strerror}") from exc
        try:
            exported = parse_export(source)
        except TaskImportError as exc:
            raise RatchetError(f"invalid task export: {exc}") from exc
        await self.get_shop(shop_id)
        warnings = compatibility_warnings(exported)

        def write() -> ImportedTask:
            now = utcnow()
            with self.store.session() as session:
                task = session.exec(select(Task).where(Task.shop_id == shop_id, Task.name == exported.name)).first()
                replaced = task is not None
                keep_settings = task is not None and not reset
                definition, changes = exported, list[str]()
                if task is not None and keep_settings:
                    try:
                        definition, changes = keep_user_options(exported, task.options or {})
                    except TaskImportError as exc:
                        raise RatchetError(f"{exc}; re-import with --reset to take the export's values") from exc
                    if task.script != definition.script:
                        changes.append("script changed")
                    if set(task.subscriptions or []) != set(definition.subscriptions):
                        changes.append("subscriptions now: " + (", ".join(definition.subscriptions) or "none"))
                task = task or Task(id=str(uuid.uuid4()), shop_id=shop_id, name=definition.name, created_at=now)
                was_enabled = task.enabled if keep_settings else True
                task.script = definition.script
                task.options = definition.options
                task.subscriptions = definition.subscriptions
                task.subscriptions_template = definition.subscriptions_template
                task.shopify_api_version = definition.shopify_api_version
                task.perform_action_runs_in_sequence = definition.perform_action_runs_in_sequence
                task.halt_action_run_sequence_on_error = definition.halt_action_run_sequence_on_error
                task.docs = definition.docs
                task.preview_event_definitions = definition.preview_event_definitions
                task.online_store_javascript = definition.online_store_javascript
                task.order_status_javascript = definition.order_status_javascript
                task.tags = definition.tags
                task.enabled = was_enabled and not definition.missing_required_options
                if keep_settings and was_enabled and not task.enabled:
                    changes.append("disabled until its empty required options are set")
                task.updated_at = now
                session.add(task)
                return ImportedTask(task, list(definition.missing_required_options), replaced, changes, warnings)

        imported = await self._db(write)
        await self._sync_schedules(shop_id)
        return imported

    def _find_task(self, session: Any, shop_id: str, ref: str) -> Task:
        task = session.exec(select(Task).where(Task.shop_id == shop_id, or_(Task.id == ref, Task.name == ref))).first()
        if task is None:
            raise RatchetError(f"unknown task {ref!r} in shop {shop_id!r}")
        return task

    async def get_task(self, ref: str, shop_id: str | None = None) -> Task:
        def read() -> Task:
            with self.store.session() as session:
                return self._find_task(session, shop_id or self.settings.shop, ref)

        return await self._db(read)

    async def list_tasks(self, shop_id: str | None = None) -> list[Task]:
        def read() -> list[Task]:
            with self.store.session() as session:
                return list(
                    session.exec(
                        select(Task).where(Task.shop_id == (shop_id or self.settings.shop)).order_by(Task.name)
                    )
                )

        return await self._db(read)

    async def set_enabled(self, ref: str, enabled: bool, shop_id: str | None = None) -> Task:
        from ratchet.core.task_export import missing_required

        def write() -> Task:
            with self.store.session() as session:
                task = self._find_task(session, shop_id or self.settings.shop, ref)
                if enabled:
                    missing = missing_required(task.options or {})
                    if missing:
                        raise RatchetError(
                            f"task {task.name!r} has empty required options: {', '.join(missing)}; "
                            "set them with `ratchet task configure`"
                        )
                task.enabled = enabled
                task.updated_at = utcnow()
                session.add(task)
                return task

        task = await self._db(write)
        await self._sync_schedules(task.shop_id)
        return task

    async def configure_task(
        self, ref: str, updates: dict[str, Any], shop_id: str | None = None, *, api_version: str | None = None
    ) -> Task:
        """Set option values and/or the task's Admin API version (checked before anything is saved)."""
        from ratchet.core.task_export import TaskDefinition, TaskImportError, configure_options

        if api_version is not None:
            check_api_version(api_version, today=utcnow().date())

        def write() -> Task:
            with self.store.session() as session:
                task = self._find_task(session, shop_id or self.settings.shop, ref)
                current = TaskDefinition(
                    name=task.name,
                    script=task.script,
                    options=task.options or {},
                    subscriptions_template=task.subscriptions_template,
                    subscriptions=task.subscriptions or [],
                    exported_subscriptions=task.subscriptions or [],
                )
                try:
                    configured = configure_options(current, updates)
                except TaskImportError as exc:
                    raise RatchetError(str(exc)) from exc
                task.options = configured.options
                task.subscriptions = configured.subscriptions
                if api_version is not None:
                    task.shopify_api_version = api_version
                task.updated_at = utcnow()
                session.add(task)
                return task

        task = await self._db(write)
        await self._sync_schedules(task.shop_id)
        return task

    # -- events ----------------------------------------------------------------------------------

    async def send_event(
        self,
        topic: str,
        data: Any = None,
        *,
        shop_id: str | None = None,
        run_at: str | datetime | None = None,
        idempotency_key: str | None = None,
        task_ids: list[str] | None = None,
        source: str = "user",
    ) -> str:
        shop_id = shop_id or self.settings.shop
        try:
            topic = validate_topic(topic)
        except ValueError as exc:
            raise RatchetError(str(exc)) from exc
        if topic in BUTTON_TOPICS and not task_ids:
            raise RatchetError(
                f"{topic} events reach only the task whose run button made them; use `ratchet task run TASK`"
            )
        try:
            created = await self.events.create(
                shop_id=shop_id,
                topic=topic,
                data=data,
                run_at=_parse_when(run_at),
                idempotency_key=idempotency_key,
                task_ids=task_ids,
                source=source,
            )
        except UnknownShop as exc:
            raise RatchetError(str(exc)) from exc
        return created.id

    async def run_task(self, ref: str, *, text: str | None = None, shop_id: str | None = None) -> str:
        """The run button: a mechanic/user/trigger (or /text) event only this task receives."""
        shop_id = shop_id or self.settings.shop
        task = await self.get_task(ref, shop_id)
        topic = "mechanic/user/text" if text is not None else "mechanic/user/trigger"
        if topic not in {s.topic for s in parse_subscriptions(task.subscriptions or [])}:
            raise RatchetError(f"task {task.name!r} does not subscribe to {topic}")
        if not task.enabled:
            raise RatchetError(f"task {task.name!r} is disabled; enable it first")
        return await self.send_event(topic, text, shop_id=shop_id, task_ids=[task.id])

    # -- runs ------------------------------------------------------------------------------------

    async def list_runs(
        self,
        *,
        shop_id: str | None = None,
        kind: RunKind | None = None,
        state: RunState | None = None,
        task: str | None = None,
        event_id: str | None = None,
        limit: int = 200,
    ) -> list[RunView]:
        shop_id = shop_id or self.settings.shop

        def read() -> list[RunView]:
            with self.store.session() as session:
                query = select(Run).where(Run.shop_id == shop_id)
                if kind is not None:
                    query = query.where(Run.kind == kind)
                if state is not None:
                    query = query.where(Run.state == state)
                if task is not None:
                    query = query.where(Run.task_id == self._find_task(session, shop_id, task).id)
                if event_id is not None:
                    if session.get(Event, event_id) is None:
                        raise RatchetError(f"unknown event {event_id!r}")
                    query = query.where(Run.event_id == event_id)
                query = query.order_by(col(Run.enqueued_at).desc(), col(Run.run_at).desc(), col(Run.position)).limit(
                    limit
                )
                return [RunView.of(r) for r in session.exec(query)]

        return await self._db(read)

    async def get_run(self, run_id: str, shop_id: str | None = None) -> RunDetail:
        def read() -> RunDetail:
            with self.store.session() as session:
                run = session.get(Run, run_id)
                if run is None or run.shop_id != (shop_id or self.settings.shop):
                    raise RatchetError(f"unknown run {run_id!r}")
                attempts = session.exec(
                    select(RunAttempt).where(RunAttempt.run_id == run_id).order_by(col(RunAttempt.attempt))
                )
                data = RunView.of(run).model_dump()
                return RunDetail(
                    **data,
                    subscription=run.subscription,
                    action_options=run.action_options,
                    action_meta=run.action_meta,
                    result=run.result,
                    result_meta=run.result_meta,
                    manual_retries=run.manual_retries,
                    notes=run.notes or [],
                    attempt_log=[a.model_dump(mode="json") for a in attempts],
                )

        return await self._db(read)

    async def retry_run(self, run_id: str, reason: str = "", shop_id: str | None = None) -> RetryAccepted:
        """Manual retry through the workflow's validated update: ineligible runs are refused with the reason."""
        shop_id = shop_id or self.settings.shop
        run = await self.get_run(run_id, shop_id)
        handle = self.client.get_workflow_handle(ledger.event_workflow_id(shop_id, run.event_id))
        request = RetryRequest(run_id=run_id, reason=reason)
        # The ledger records a run's end a moment before its workflow hears of it; a retry asked
        # for in that moment is let through once the workflow has caught up.
        for _ in range(20):
            try:
                return await handle.execute_update(EventWorkflow.retry_update, request)
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                in_flight = isinstance(cause, ApplicationError) and cause.type == RETRY_RUN_IN_FLIGHT
                if not (run.state.terminal and in_flight):
                    raise RatchetError(f"cannot retry: {getattr(cause, 'message', None) or cause}") from exc
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise RatchetError(
                        f"cannot retry: the event's retention window has passed ({run.event_id})"
                    ) from exc
                raise RatchetError(f"cannot retry: {exc}") from exc
            await asyncio.sleep(0.25)
        raise RatchetError(f"cannot retry: run {run_id} is still being performed")


def load_json_argument(value: str) -> Any:
    """`--data` takes JSON text or @path to a JSON file."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            value = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RatchetError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise RatchetError(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
