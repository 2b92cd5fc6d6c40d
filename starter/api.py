"""The Python API: everything the CLI does, for programs. One attribute per resource.

    async with await Ratchet.connect() as ratchet:
        imported = await ratchet.tasks.import_(Path("task.json"))
        event_id = await ratchet.tasks.run(imported.task.id)
        runs = await ratchet.runs.list(event_id=event_id)

Resources: `shops`, `tasks`, `events`, `runs`, `filters`, `webhooks`, `schedules`, `status`,
`globals`, `secrets`, `accounts`, `key`.
Each is a thin async front for the use cases in ratchet/services (which own the rules and their
sessions); `shop_id` defaults to `settings.shop`. Errors are `ratchet.errors.RatchetError`
subclasses with one readable line.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client

from ratchet.config import Settings, load_settings
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.connection import connect
from ratchet.engine.contract import RetryAccepted
from ratchet.engine.schedules import SyncResult, sync_all_schedules, sync_schedules
from ratchet.engine.webhook_subscriptions import request_reconcile
from ratchet.errors import RatchetError, Unavailable
from ratchet.services import (
    access_scopes,
    accounts,
    bulk_retries,
    cancellations,
    event_filters,
    key_rotation,
    mechanic_webhooks,
    preview,
    resource_runs,
    retries,
    runs,
    shop_grants,
    shops,
    status,
    task_versions,
    tasks,
)
from ratchet.services import globals as globals_service
from ratchet.services import secrets as secrets_service
from ratchet.services.accounts import AccountInfo
from ratchet.services.bulk_retries import DEFAULT_RATE as DEFAULT_RATE  # re-exported for the CLI
from ratchet.services.bulk_retries import BulkRetryView, RetryPlan, RetrySelection
from ratchet.services.bulk_retries import parse_since as parse_since  # re-exported for the CLI
from ratchet.services.cancellations import CancelledEvent
from ratchet.services.event_filters import SavedFilter
from ratchet.services.events import EventService, NewEvent, parse_when
from ratchet.services.preview import PreviewSource, RecentEvent, TaskPreview
from ratchet.services.resource_runs import parse_refs as parse_refs  # the CLI parses ids the API's way
from ratchet.services.runs import RunDetail, RunView
from ratchet.services.secrets import SecretInfo
from ratchet.services.task_drafts import TaskDraft
from ratchet.services.task_versions import VersionView
from ratchet.services.tasks import ChangeSource, ImportedTask
from ratchet.services.webhook_subscriptions import public_url_note, webhook_problems
from ratchet.shopify.client import ShopifyConfig
from ratchet.store import secrets as secret_store
from ratchet.store.database import Store, get_store
from ratchet.store.tables import EventFilter, MechanicWebhook, Shop, ShopGlobal, Task

__all__ = [
    "BulkRetryView",
    "ImportedTask",
    "PreviewSource",
    "Ratchet",
    "RatchetError",
    "RetryPlan",
    "RetrySelection",
    "RunDetail",
    "RunView",
    "TaskDraft",
    "TaskPreview",
    "VersionView",
]

T = TypeVar("T")


class _Resource:
    def __init__(self, ratchet: Ratchet) -> None:
        self._ratchet = ratchet

    @property
    def _store(self) -> Store:
        return self._ratchet.store

    def _shop(self, shop_id: str | None) -> str:
        return shop_id or self._ratchet.settings.shop

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # Services are synchronous, one session each: off the event loop.
        return await asyncio.to_thread(fn, *args, **kwargs)


class Schedules(_Resource):
    """Temporal Schedules behind `mechanic/scheduler/*` topics."""

    async def sync(self, shop_id: str | None = None) -> SyncResult:
        """Match one shop's schedules to its enabled tasks and time zone."""
        shop_id = self._shop(shop_id)
        await self._db(shops.get_shop, self._store, shop_id)
        return await sync_schedules(
            self._ratchet.client, self._store, shop_id, task_queue=self._ratchet.settings.temporal.task_queue
        )

    async def sync_all(self) -> list[SyncResult]:
        return await sync_all_schedules(
            self._ratchet.client, self._store, task_queue=self._ratchet.settings.temporal.task_queue
        )

    async def follow(self, shop_id: str) -> None:
        """Re-sync schedules and Shopify webhook subscriptions after a task or shop change.

        Offline (no Temporal) the next worker start does it.
        """
        settings = self._ratchet.settings
        client = self._ratchet.optional_client
        if client is None:
            try:
                client = await asyncio.wait_for(connect(settings), timeout=5)
            except (TimeoutError, Unavailable):
                return
        await sync_schedules(client, self._store, shop_id, task_queue=settings.temporal.task_queue)
        # The same task and shop changes decide which Shopify webhooks the shop needs.
        await request_reconcile(client, settings, shop_id)


class Shops(_Resource):
    """Shops; Shopify credentials are verified before they are saved."""

    async def add(
        self,
        shop_id: str,
        *,
        timezone_name: str | None = None,
        shopify_domain: str | None = None,
        access_token: str | None = None,
        webhook_secret: str | None = None,
        api_version: str | None = None,
    ) -> Shop:
        """A new shop; its zone is UTC unless given, or Shopify's once connected.

        `api_version` is the Admin API version of tasks that name none.
        """
        return await self._save(shop_id, True, timezone_name, shopify_domain, access_token, webhook_secret, api_version)

    async def set(
        self,
        shop_id: str,
        *,
        timezone_name: str | None = None,
        shopify_domain: str | None = None,
        access_token: str | None = None,
        webhook_secret: str | None = None,
        api_version: str | None = None,
    ) -> Shop:
        """Change the given settings; a new zone or connection moves the shop's schedules and webhooks."""
        return await self._save(
            shop_id, False, timezone_name, shopify_domain, access_token, webhook_secret, api_version
        )

    async def _save(
        self,
        shop_id: str,
        create: bool,
        timezone_name: str | None,
        shopify_domain: str | None,
        access_token: str | None,
        webhook_secret: str | None,
        api_version: str | None,
    ) -> Shop:
        saved = await shops.save_shop(
            self._store,
            self._shopify_config,
            shop_id,
            create=create,
            timezone_name=timezone_name,
            shopify_domain=shopify_domain,
            access_token=access_token,
            webhook_secret=webhook_secret,
            api_version=api_version,
        )
        if saved.schedules_affected:
            await self._ratchet.schedules.follow(shop_id)
        return saved.shop

    async def connect(self, shop_id: str, *, shop: str, client_id: str, client_secret: str) -> Shop:
        """Connect (or reconnect) a shop of your organization's store by the client credentials grant.

        `shop` is `name`, `name.myshopify.com` or its admin URL. The token is renewed before it
        expires; `client_secret` also verifies webhooks, and a replaced one keeps doing so for an hour.
        """
        app = shop_grants.AppCredentials(client_id, client_secret)
        saved = await shop_grants.connect_by_client_credentials(self._store, self._shopify_config, shop_id, shop, app)
        await self._ratchet.schedules.follow(shop_id)
        return saved.shop

    async def install_url(
        self, shop_id: str, *, shop: str, client_id: str, client_secret: str, scopes: builtins.list[str]
    ) -> str:
        """An install link (authorization code grant) for a store outside your organization.

        The merchant opens it and approves `scopes`; Shopify sends them to
        RATCHET_PUBLIC_URL/shopify/auth/callback, which connects the shop as `shop_id`.
        """
        return await self._db(
            shop_grants.create_install_link,
            self._store,
            self._shopify_config,
            shop_id,
            shop_domain=shop,
            app=shop_grants.AppCredentials(client_id, client_secret),
            scopes=scopes,
            public_url=self._ratchet.settings.ingress.public_url,
        )

    async def needed_scopes(self, shop_id: str | None = None) -> builtins.list[str]:
        """The access scopes the shop's enabled tasks need (their `{% permissions %}`, topics and Admin API use)."""
        return await self._db(access_scopes.needed_scopes, self._store, self._shop(shop_id))

    async def sync(self, shop_id: str | None = None) -> Shop:
        """Refresh the shop's Shopify snapshot (zone, currency, scopes); schedules and webhooks follow."""
        shop_id = self._shop(shop_id)
        shop = await shops.sync_shop(self._store, self._shopify_config, shop_id)
        await self._ratchet.schedules.follow(shop_id)
        return shop

    async def get(self, shop_id: str | None = None) -> Shop:
        return await self._db(shops.get_shop, self._store, self._shop(shop_id))

    @property
    def _shopify_config(self) -> ShopifyConfig:
        return ShopifyConfig.from_settings(self._ratchet.settings)


class Tasks(_Resource):
    async def import_(
        self, source: Path | str | dict[str, Any], shop_id: str | None = None, *, reset: bool = False
    ) -> ImportedTask:
        """Import a Mechanic export (file, JSON text or dict); enabled when its required options are filled.

        Over a task with the same name the user's enabled state and option values are kept
        (`changes` lists what differs) unless `reset`.
        """
        shop_id = self._shop(shop_id)
        imported = await self._db(
            tasks.import_task,
            self._store,
            shop_id,
            source,
            reset=reset,
            changed_by=self._ratchet.source,
            pdf_browser=self._ratchet.settings.pdf_browser,
        )
        await self._ratchet.schedules.follow(shop_id)
        return imported

    async def save(self, ref: str, draft: TaskDraft, shop_id: str | None = None) -> Task:
        """Save edits (code, subscriptions template, options, runtime flags), validated as an import is."""
        task = await self._db(
            tasks.save_task, self._store, self._shop(shop_id), ref, draft, changed_by=self._ratchet.source
        )
        await self._ratchet.schedules.follow(task.shop_id)
        return task

    async def delete(self, ref: str, shop_id: str | None = None) -> Task:
        """Delete a task and its versions; its schedules and Shopify webhooks follow."""
        task = await self._db(tasks.delete_task, self._store, self._shop(shop_id), ref)
        await self._ratchet.schedules.follow(task.shop_id)
        return task

    async def export(self, ref: str, shop_id: str | None = None) -> dict[str, Any]:
        """The task's Mechanic export, ready for `json.dumps`."""
        return tasks.export_task(await self.get(ref, shop_id))

    async def preview(
        self, ref: str, draft: TaskDraft | None = None, source: PreviewSource | None = None, shop_id: str | None = None
    ) -> TaskPreview:
        """Render the task with unsaved edits (`draft`) against the events `source` names.

        By default its preview events; nothing is performed, cached or recorded.
        """
        return await self._db(
            preview.preview_task, self._store, self._shop(shop_id), ref, draft or TaskDraft(), source or PreviewSource()
        )

    async def recent_events(self, ref: str, shop_id: str | None = None) -> builtins.list[RecentEvent]:
        """The last 20 real events of the task's subscribed topics, newest first, to preview against."""
        return await self._db(preview.recent_events, self._store, self._shop(shop_id), ref)

    async def versions(self, ref: str, shop_id: str | None = None) -> builtins.list[VersionView]:
        """Every recorded version, newest first, with its diff from the one before."""
        return await self._db(task_versions.list_versions, self._store, self._shop(shop_id), ref)

    async def version(self, ref: str, version: int, shop_id: str | None = None) -> VersionView:
        return await self._db(task_versions.get_version, self._store, self._shop(shop_id), ref, version)

    async def restore(self, ref: str, version: int, shop_id: str | None = None) -> Task:
        """Make the task what `version` was (its name and enabled state stay); records a new version."""
        task = await self._db(
            task_versions.restore_version,
            self._store,
            self._shop(shop_id),
            ref,
            version,
            changed_by=self._ratchet.source,
        )
        await self._ratchet.schedules.follow(task.shop_id)
        return task

    async def get(self, ref: str, shop_id: str | None = None) -> Task:
        """A task by id or name."""
        return await self._db(tasks.get_task, self._store, self._shop(shop_id), ref)

    async def list(self, shop_id: str | None = None) -> builtins.list[Task]:
        return await self._db(tasks.list_tasks, self._store, self._shop(shop_id))

    async def webhook_problems(self, shop_id: str | None = None) -> dict[str, builtins.list[str]]:
        """Per task id, the Shopify topics it will not receive and why (refused by Shopify, or no such webhook)."""
        shop_id = self._shop(shop_id)
        listed = await self.list(shop_id)
        return await self._db(webhook_problems, self._store, shop_id, listed)

    async def set_enabled(self, ref: str, enabled: bool, shop_id: str | None = None) -> Task:
        task = await self._db(
            tasks.set_enabled, self._store, self._shop(shop_id), ref, enabled, changed_by=self._ratchet.source
        )
        await self._ratchet.schedules.follow(task.shop_id)
        return task

    async def enable(self, ref: str, shop_id: str | None = None) -> Task:
        """Refused (Conflict) while a required option is empty."""
        return await self.set_enabled(ref, True, shop_id)

    async def disable(self, ref: str, shop_id: str | None = None) -> Task:
        return await self.set_enabled(ref, False, shop_id)

    async def configure(
        self, ref: str, updates: dict[str, Any], shop_id: str | None = None, *, api_version: str | None = None
    ) -> Task:
        """Set option values and/or the task's Shopify Admin API version.

        Values are validated by their flags, and the subscriptions re-render.
        """
        task = await self._db(
            tasks.configure_task,
            self._store,
            self._shop(shop_id),
            ref,
            updates,
            api_version,
            changed_by=self._ratchet.source,
        )
        await self._ratchet.schedules.follow(task.shop_id)
        return task

    def webhook_registration_note(self, task: Task) -> str | None:
        """One line telling the user what to set when the task needs Shopify webhooks Ratchet cannot register."""
        return public_url_note(task, self._ratchet.settings.ingress.public_url)

    async def run(
        self,
        ref: str,
        *,
        text: str | None = None,
        form: dict[str, Any] | None = None,
        shop_id: str | None = None,
    ) -> str:
        """The run button: an event only this task receives; returns its id.

        mechanic/user/trigger; mechanic/user/text with `text`; mechanic/user/form with `form`,
        the values of its `userform` options (validated by their flags).
        """
        shop_id = self._shop(shop_id)
        task = await self.get(ref, shop_id)
        topic = tasks.run_button_topic(task, text, form=form is not None)
        data: Any = tasks.userform_data(task, form) if form is not None else text
        return await self._ratchet.events.send(topic, data, shop_id=shop_id, task_ids=[task.id])

    async def run_for(
        self, ref: str, resource: str, refs: builtins.list[str], shop_id: str | None = None
    ) -> builtins.list[str]:
        """Run the task for Shopify resources, as Mechanic's admin action links do; returns the event ids.

        `resource` is order, customer, draft_order or collection; `refs` are ids (or order names
        such as #1001). Each event carries the resources' REST representation: one event per
        resource (mechanic/user/order), or batches of 50 when the task subscribes to the plural
        topic (mechanic/user/orders). Nothing is sent unless every resource is found.
        """
        shop_id = self._shop(shop_id)
        task = await self.get(ref, shop_id)
        run = resource_runs.resource_run(task, resource)
        shop = await self._db(shops.get_shop, self._store, shop_id)
        config = ShopifyConfig.from_settings(self._ratchet.settings)
        found = await self._db(resource_runs.fetch_resources, config, shop, task, resource, refs)
        return [
            await self._ratchet.events.send(run.topic, data, shop_id=shop_id, task_ids=[task.id])
            for data in resource_runs.resource_events(run, found)
        ]


class Events(_Resource):
    async def send(
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
        """Send an event; returns its id (the same id again for a repeated `idempotency_key`).

        `run_at`: a datetime, ISO 8601 text or Unix seconds; the event waits until then.
        """
        event = NewEvent(
            shop_id=self._shop(shop_id),
            topic=topic,
            data=data,
            source=source,
            task_ids=task_ids,
            run_at=parse_when(run_at),
            idempotency_key=idempotency_key,
        )
        return (await self._ratchet.event_service.create(event)).id

    async def cancel(self, event_id: str, shop_id: str | None = None) -> CancelledEvent:
        """Cancel an event none of whose runs has started: its waiting runs fail as cancelled (Conflict otherwise)."""
        return await cancellations.cancel_event(self._store, self._ratchet.client, self._shop(shop_id), event_id)


class Runs(_Resource):
    async def list(
        self,
        *,
        shop_id: str | None = None,
        kind: RunKind | None = None,
        state: RunState | None = None,
        task: str | None = None,
        event_id: str | None = None,
        limit: int = 200,
    ) -> builtins.list[RunView]:
        """Newest first; `task` is a name or id; `event_id` gives an event's whole tree of runs."""
        return await self._db(
            runs.list_runs,
            self._store,
            self._shop(shop_id),
            kind=kind,
            state=state,
            task=task,
            event_id=event_id,
            limit=limit,
        )

    async def get(self, run_id: str, shop_id: str | None = None) -> RunDetail:
        """A run by id, or by a unique prefix of at least 8 characters (as `runs list` prints it)."""
        return await self._db(runs.get_run, self._store, self._shop(shop_id), run_id)

    async def retry(self, run_id: str, reason: str = "", shop_id: str | None = None) -> RetryAccepted:
        """Manual retry under Mechanic's rules: ineligible runs are refused (Conflict) with the reason."""
        ratchet = self._ratchet
        return await retries.retry_run(
            ratchet.settings, self._store, ratchet.client, self._shop(shop_id), run_id, reason
        )

    async def plan_retry(self, selection: RetrySelection, shop_id: str | None = None) -> RetryPlan:
        """How many failed runs a bulk retry of `selection` would take, by kind, with a sample."""
        return await self._db(bulk_retries.plan_bulk_retry, self._store, self._shop(shop_id), selection)

    async def retry_failed(
        self,
        selection: RetrySelection,
        name: str,
        *,
        rate_per_second: float = bulk_retries.DEFAULT_RATE,
        shop_id: str | None = None,
    ) -> BulkRetryView:
        """Start a durable bulk retry of the failed runs `selection` takes now, named after its incident.

        Each run goes through the same validated retry as `retry`, at most `rate_per_second`;
        refusals are recorded per run. Returns at once: follow it with `bulk_retry`.
        """
        ratchet = self._ratchet
        return await bulk_retries.start_bulk_retry(
            ratchet.settings,
            self._store,
            ratchet.client,
            self._shop(shop_id),
            selection,
            name,
            source=ratchet.source,
            rate_per_second=rate_per_second,
        )

    async def bulk_retry(self, bulk_retry_id: str, shop_id: str | None = None) -> BulkRetryView:
        """A bulk retry's progress and every refusal so far."""
        return await self._db(bulk_retries.get_bulk_retry, self._store, self._shop(shop_id), bulk_retry_id)

    async def bulk_retries(self, shop_id: str | None = None) -> builtins.list[BulkRetryView]:
        """The shop's bulk retries, newest first."""
        return await self._db(bulk_retries.list_bulk_retries, self._store, self._shop(shop_id))

    async def cancel_bulk_retry(self, bulk_retry_id: str, shop_id: str | None = None) -> None:
        """Stop a running bulk retry before its next batch."""
        await bulk_retries.cancel_bulk_retry(self._store, self._ratchet.client, self._shop(shop_id), bulk_retry_id)


class Filters(_Resource):
    """Store-level event filters: Liquid that outputs `false` drops an event."""

    async def save(self, name: str, template: str, shop_id: str | None = None) -> SavedFilter:
        """Add a filter, or replace the template of the one with this name."""
        return await self._db(event_filters.save_filter, self._store, self._shop(shop_id), name, template)

    async def list(self, shop_id: str | None = None) -> builtins.list[EventFilter]:
        return await self._db(event_filters.list_filters, self._store, self._shop(shop_id))

    async def remove(self, name: str, shop_id: str | None = None) -> None:
        await self._db(event_filters.remove_filter, self._store, self._shop(shop_id), name)


class Webhooks(_Resource):
    """Mechanic webhooks: URLs that turn HTTP requests into user/… events."""

    async def add(
        self, name: str, topic: str, *, mode: str = "auto", secret: str | None = None, shop_id: str | None = None
    ) -> MechanicWebhook:
        return await self._db(
            mechanic_webhooks.add_webhook, self._store, self._shop(shop_id), name, topic, mode, secret
        )

    async def list(self, shop_id: str | None = None) -> builtins.list[MechanicWebhook]:
        return await self._db(mechanic_webhooks.list_webhooks, self._store, self._shop(shop_id))

    async def remove(self, ref: str, shop_id: str | None = None) -> MechanicWebhook:
        """By name or id; its URL stops making events."""
        return await self._db(mechanic_webhooks.remove_webhook, self._store, self._shop(shop_id), ref)

    def url(self, hook: MechanicWebhook) -> str:
        return f"{self._ratchet.settings.ingress.base_url}/webhooks/{hook.id}"


class Key(_Resource):
    """The key that encrypts stored secrets (RATCHET_SECRET_KEY)."""

    @staticmethod
    def generate() -> str:
        return secret_store.generate_key()

    async def rotate(self) -> int:
        """Re-encrypt every stored secret with the first key; returns how many."""
        return await self._db(key_rotation.rotate_secrets, self._store)


class Globals(_Resource):
    """Shop globals: visible JSON values tasks read as `{{ globals.name }}`."""

    async def set(self, name: str, value: Any, shop_id: str | None = None) -> bool:
        """Create or replace; True when it replaced one."""
        return await self._db(globals_service.set_global, self._store, self._shop(shop_id), name, value)

    async def list(self, shop_id: str | None = None) -> builtins.list[ShopGlobal]:
        return await self._db(globals_service.list_globals, self._store, self._shop(shop_id))

    async def delete(self, name: str, shop_id: str | None = None) -> None:
        await self._db(globals_service.delete_global, self._store, self._shop(shop_id), name)


class Secrets(_Resource):
    """Shop secrets: write-only strings tasks reach as `{{ secrets.name }}` (values are never read back)."""

    async def set(self, name: str, value: str, shop_id: str | None = None) -> bool:
        """Create or replace; True when it replaced one."""
        return await self._db(secrets_service.set_secret, self._store, self._shop(shop_id), name, value)

    async def list(self, shop_id: str | None = None) -> builtins.list[SecretInfo]:
        """Names and change times only."""
        return await self._db(secrets_service.list_secrets, self._store, self._shop(shop_id))

    async def delete(self, name: str, shop_id: str | None = None) -> None:
        await self._db(secrets_service.delete_secret, self._store, self._shop(shop_id), name)


class Accounts(_Resource):
    """Connected Slack, Google and Airtable accounts the integration actions name by `account`."""

    async def add(self, provider: str, name: str, credential: str, shop_id: str | None = None) -> bool:
        """Connect, or replace the credential of the account with this name; True when replaced."""
        return await self._db(accounts.add_account, self._store, self._shop(shop_id), provider, name, credential)

    async def list(self, shop_id: str | None = None) -> builtins.list[AccountInfo]:
        """Providers, names and credential kinds; never the credentials."""
        return await self._db(accounts.list_accounts, self._store, self._shop(shop_id))

    async def remove(self, provider: str, name: str, shop_id: str | None = None) -> None:
        await self._db(accounts.remove_account, self._store, self._shop(shop_id), provider, name)


class Status(_Resource):
    async def get(self, shop_id: str | None = None) -> dict[str, Any]:
        """The shop's status: running and waiting runs, queue lag, top waiting work, the Shopify connection.

        Schedules too, when Temporal is connected.
        """
        return await status.shop_status(
            self._store,
            self._shop(shop_id),
            self._ratchet.optional_client,
            public_url=self._ratchet.settings.ingress.public_url,
        )


class Ratchet:
    def __init__(
        self, settings: Settings, store: Store, client: Client | None, *, source: ChangeSource = "api"
    ) -> None:
        self.settings = settings
        self.store = store
        self._client = client
        # Who this front acts for, recorded on task versions and bulk retries: cli, console or api.
        self.source: ChangeSource = source
        self.shops = Shops(self)
        self.tasks = Tasks(self)
        self.events = Events(self)
        self.runs = Runs(self)
        self.filters = Filters(self)
        self.webhooks = Webhooks(self)
        self.schedules = Schedules(self)
        self.status = Status(self)
        self.key = Key(self)
        self.globals = Globals(self)
        self.secrets = Secrets(self)
        self.accounts = Accounts(self)

    @classmethod
    async def connect(
        cls, settings: Settings | None = None, *, temporal: bool = True, source: ChangeSource = "api"
    ) -> Ratchet:
        """Open the store and, with `temporal`, a Temporal client (Unavailable when it cannot be reached).

        `source` names who acts (cli, console or api) on the task versions and bulk retries it records.
        """
        settings = settings or load_settings()
        store = get_store(settings.effective_database_url)
        client = None
        if temporal:
            client = await connect(settings)
        return cls(settings, store, client, source=source)

    def acting_for(self, source: ChangeSource) -> Ratchet:
        """The same store and client acting for `source` (the console's front says "console")."""
        return Ratchet(self.settings, self.store, self._client, source=source)

    async def __aenter__(self) -> Ratchet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise Unavailable("this operation needs Temporal; connect with temporal=True")
        return self._client

    @property
    def optional_client(self) -> Client | None:
        """The Temporal client when connected; for operations that work without it."""
        return self._client

    @property
    def event_service(self) -> EventService:
        return EventService(self.settings, self.store, self.client)
