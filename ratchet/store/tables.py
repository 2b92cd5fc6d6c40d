"""Table models for the run ledger and configuration.

Temporal executes; these tables are the user's view (`ratchet runs`), survive Temporal's history
retention, and carry what Mechanic's error events expose for every run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from ratchet.core.runs import RunKind, RunState
from ratchet.store.secrets import EncryptedString

# Mechanic documents no cache-key length; ours keeps keys well inside index-entry limits.
MAX_CACHE_KEY_LENGTH = 1024
MAX_FILTER_NAME_LENGTH = 255


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns aware datetimes, on SQLite (which drops offsets) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime()))


def _json(default: Any = None) -> Any:
    if callable(default):
        return Field(default_factory=default, sa_column=Column(JSON))
    return Field(default=default, sa_column=Column(JSON))


class Shop(SQLModel, table=True):
    __tablename__ = "shops"

    id: str = Field(primary_key=True, max_length=255)
    timezone: str = Field(default="UTC", max_length=64)
    shopify_domain: str | None = Field(default=None, max_length=255)
    access_token: str | None = Field(default=None, sa_column=Column(EncryptedString(512)))
    # When Ratchet renews the access token, shortly before Shopify expires it (None: a token that
    # does not expire, e.g. a legacy one). ratchet/shopify/tokens.py.
    access_token_renew_at: datetime | None = _ts()
    # The app's client secret for apps connected by a grant: it signs webhooks and obtains tokens.
    webhook_secret: str | None = Field(default=None, sa_column=Column(EncryptedString(512)))
    # After a rotation Shopify may still sign deliveries with the previous secret for a while.
    previous_webhook_secret: str | None = Field(default=None, sa_column=Column(EncryptedString(512)))
    previous_webhook_secret_expires_at: datetime | None = _ts()
    # Admin API version for tasks that name none; None follows Ratchet's newest stable version.
    shopify_api_version: str | None = Field(default=None, max_length=16)
    created_at: datetime | None = _ts()


class ShopifyConnection(SQLModel, table=True):
    """What Shopify said about a connected shop, kept beside `shops` (one row per connected shop).

    `snapshot` is the shop in Shopify's REST shape (the Liquid `shop` object and the
    `shop/update` webhook payload share it), `access_scopes` the token's granted scopes.
    """

    __tablename__ = "shopify_connections"

    shop_id: str = Field(primary_key=True, max_length=255)
    snapshot: dict[str, Any] = _json(dict)
    access_scopes: list[str] = _json(list)
    synced_at: datetime | None = _ts()


class ShopifyGrant(SQLModel, table=True):
    """How a shop's expiring access token is renewed (one row per shop connected by an OAuth grant).

    The client secret is the shop's `webhook_secret`; the access token and its expiry live on `shops`.
    `renewal_lease_until` is the one-renewal-at-a-time lease every worker takes before calling the
    token endpoint (ratchet/shopify/tokens.py).
    """

    __tablename__ = "shopify_grants"

    shop_id: str = Field(primary_key=True, max_length=255)
    # "client_credentials" or "authorization_code" (renewed by its refresh token).
    grant: str = Field(max_length=32)
    client_id: str = Field(max_length=255)
    access_token_expires_at: datetime | None = _ts()
    refresh_token: str | None = Field(default=None, sa_column=Column(EncryptedString(512)))
    refresh_token_expires_at: datetime | None = _ts()
    renewal_lease_until: datetime | None = _ts()
    renewed_at: datetime | None = _ts()


class ShopifyInstallState(SQLModel, table=True):
    """An install link not yet used: its single-use `state` and what the callback needs to finish it."""

    __tablename__ = "shopify_install_states"

    state: str = Field(primary_key=True, max_length=128)
    shop_id: str = Field(max_length=255)
    shopify_domain: str = Field(max_length=255)
    client_id: str = Field(max_length=255)
    client_secret: str = Field(sa_column=Column(EncryptedString(512), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ShopifyWebhookSubscription(SQLModel, table=True):
    """One Shopify webhook subscription Ratchet wants (or had) for a shop, and how registering it went."""

    __tablename__ = "shopify_webhook_subscriptions"

    shop_id: str = Field(primary_key=True, max_length=255)
    # Shopify's topic name as webhooks spell it: `orders/create`.
    topic: str = Field(primary_key=True, max_length=255)
    shopify_id: str | None = Field(default=None, max_length=255)
    callback_url: str | None = Field(default=None, max_length=1024)
    # Why Shopify refused it (missing scope, topic not deliverable); None when registered.
    error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime | None = _ts()


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("shop_id", "name", name="uq_task_shop_name"),)

    id: str = Field(primary_key=True, max_length=36)
    shop_id: str = Field(index=True, max_length=255)
    name: str = Field(max_length=512)
    script: str = Field(default="", sa_column=Column(Text, nullable=False))
    options: dict[str, Any] = _json(dict)
    subscriptions: list[str] = _json(list)
    subscriptions_template: str = Field(default="", sa_column=Column(Text, nullable=False))
    enabled: bool = False
    shopify_api_version: str | None = Field(default=None, max_length=16)
    perform_action_runs_in_sequence: bool = False
    halt_action_run_sequence_on_error: bool = False
    docs: str | None = Field(default=None, sa_column=Column(Text))
    preview_event_definitions: list[dict[str, Any]] = _json(list)
    online_store_javascript: str | None = Field(default=None, sa_column=Column(Text))
    order_status_javascript: str | None = Field(default=None, sa_column=Column(Text))
    tags: list[str] = _json(list)
    # The number of its newest recorded version (task_versions); 0 before any was recorded.
    version: int = 0
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class TaskVersion(SQLModel, table=True):
    """What a task was after one change (import, save, configure, enable, restore), and who made it.

    `content` is the task's Mechanic export plus its `enabled` flag; `content_hash` its sha256,
    so an unchanged save records nothing. Versions go with their task when it is deleted.
    """

    __tablename__ = "task_versions"

    task_id: str = Field(primary_key=True, max_length=36)
    version: int = Field(primary_key=True)
    shop_id: str = Field(max_length=255)
    # Who made the change: cli, console or api.
    source: str = Field(max_length=16)
    # What the change was: import, save, configure, enable, disable, restore.
    change: str = Field(max_length=255)
    content: dict[str, Any] = _json(dict)
    content_hash: str = Field(max_length=64)
    created_at: datetime | None = _ts()


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        # Retention selects the oldest events first (ratchet/services/retention.py).
        Index("ix_events_created_at", "created_at"),
        # The console's Events list: a shop's newest first, paged by (created_at, id).
        Index("ix_events_shop_created", "shop_id", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    shop_id: str = Field(index=True, max_length=255)
    topic: str = Field(max_length=255, index=True)
    data: Any = _json()
    source: str = Field(default="user", max_length=255)
    parent_id: str | None = Field(default=None, max_length=36, index=True)
    # Internal routing restriction (run buttons, task_id targeting, perform/error follow-ups).
    task_ids: list[str] | None = _json()
    webhook_request_id: str | None = Field(default=None, max_length=64)
    workflow_id: str = Field(max_length=512)
    created_at: datetime | None = _ts()
    run_at: datetime | None = _ts()


class Run(SQLModel, table=True):
    """One row per event run, task run or action run."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_event_kind", "event_id", "kind"),
        Index("ix_runs_shop_state", "shop_id", "state"),
    )

    id: str = Field(primary_key=True, max_length=36)
    kind: RunKind = Field(max_length=8)
    shop_id: str = Field(max_length=255)
    event_id: str = Field(max_length=36)
    parent_id: str | None = Field(default=None, max_length=36, index=True)
    topic: str = Field(max_length=255)
    task_id: str | None = Field(default=None, max_length=36, index=True)
    task_name: str | None = Field(default=None, max_length=512)
    # Task runs: the subscription line that matched (with offset). Action runs: type and options.
    subscription: str | None = Field(default=None, max_length=512)
    action_type: str | None = Field(default=None, max_length=64)
    action_options: Any = _json()
    action_meta: Any = _json()
    # Action runs: the Admin API version their task run read when it started (spec 1.2).
    shopify_api_version: str | None = Field(default=None, max_length=16)
    perform_event: bool = True
    position: int = 0
    state: RunState = Field(default=RunState.unscheduled, max_length=16)
    ok: bool | None = None
    result: Any = _json()
    result_meta: Any = _json()
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    manual_retries: int = 0
    run_at: datetime | None = _ts()
    enqueued_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    stopped_at: datetime | None = _ts()
    elapsed_time_ms: int | None = None
    # Task runs: the task version their latest attempt rendered (None before versions were recorded).
    task_version: int | None = None
    # Things an operator should see on `ratchet runs show`, e.g. ignored retry signals.
    notes: list[dict[str, Any]] = _json(list)


class RunAttempt(SQLModel, table=True):
    """Every attempt of every run, keyed so a replayed activity rewrites rather than duplicates."""

    __tablename__ = "run_attempts"

    run_id: str = Field(primary_key=True, max_length=36)
    attempt: int = Field(primary_key=True)
    started_at: datetime | None = _ts()
    stopped_at: datetime | None = _ts()
    ok: bool | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    retry_at: datetime | None = _ts()
    # Task runs: the version of the task this attempt rendered.
    task_version: int | None = None


class CacheEntry(SQLModel, table=True):
    __tablename__ = "cache_entries"
    __table_args__ = (Index("ix_cache_entries_expires_at", "expires_at"),)

    shop_id: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=MAX_CACHE_KEY_LENGTH)
    value: Any = Field(default=None, sa_column=Column(JSON))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EventFilter(SQLModel, table=True):
    __tablename__ = "event_filters"

    shop_id: str = Field(primary_key=True, max_length=255)
    name: str = Field(primary_key=True, max_length=MAX_FILTER_NAME_LENGTH)
    template: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class MechanicWebhook(SQLModel, table=True):
    __tablename__ = "mechanic_webhooks"
    __table_args__ = (UniqueConstraint("shop_id", "name", name="uq_webhook_shop_name"),)

    id: str = Field(primary_key=True, max_length=36)
    shop_id: str = Field(index=True, max_length=255)
    name: str = Field(max_length=512)
    topic: str = Field(max_length=255)
    mode: str = Field(default="auto", max_length=8)
    # Optional shared secret: requests must then carry X-Ratchet-Hmac-SHA256.
    secret: str | None = Field(default=None, sa_column=Column(EncryptedString(512)))
    created_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ShopifyThrottleState(SQLModel, table=True):
    __tablename__ = "shopify_throttle_state"

    shop_id: str = Field(primary_key=True, max_length=255)
    graphql_currently_available: float | None = None
    graphql_maximum_available: float | None = None
    graphql_restore_rate: float | None = None
    graphql_observed_at: datetime | None = _ts()
    rest_used: int | None = None
    rest_limit: int | None = None
    rest_observed_at: datetime | None = _ts()
    # Last THROTTLED / 429: Shopify's wait, counted from throttled_at (the "retry-after window").
    throttled_retry_after_seconds: float | None = None
    throttled_at: datetime | None = _ts()


class BulkOperation(SQLModel, table=True):
    """A Shopify bulk operation a task's `shopify` action started, followed until it is reported.

    Written by the action run that saw the operation start; updated by its monitoring workflow's
    activities (status, attributes, where the result file is) and closed by the follow-up event.
    """

    __tablename__ = "bulk_operations"
    __table_args__ = (UniqueConstraint("shop_id", "gid", name="uq_bulk_operation_shop_gid"),)

    id: str = Field(primary_key=True, max_length=36)
    shop_id: str = Field(index=True, max_length=255)
    gid: str = Field(max_length=255)
    type: str = Field(max_length=16)
    status: str = Field(default="CREATED", max_length=16, index=True)
    error_code: str | None = Field(default=None, max_length=64)
    task_id: str = Field(max_length=36)
    task_name: str | None = Field(default=None, max_length=512)
    # The action run that started it and the event that action run belongs to.
    action_run_id: str = Field(max_length=36, index=True)
    event_id: str = Field(max_length=36)
    shopify_api_version: str | None = Field(default=None, max_length=16)
    workflow_id: str = Field(max_length=512)
    # Shopify's BulkOperation attributes as last seen (what the task receives as `bulkOperation`).
    attributes: dict[str, Any] | None = _json()
    # Relative to RATCHET_HOME; set once the result file is downloaded and indexed.
    results_path: str | None = Field(default=None, max_length=1024)
    object_count: int | None = None
    report_event_id: str | None = Field(default=None, max_length=36)
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    results_deleted_at: datetime | None = _ts()


# Encrypted values up to this many stored characters: a Google service-account JSON (~2.4 KB) or
# an RSA private key fits many times over once Fernet has expanded it by about a third.
MAX_ENCRYPTED_LENGTH = 16384


class ShopGlobal(SQLModel, table=True):
    """A shop's visible, reusable configuration value (`{{ globals.name }}`), any JSON."""

    __tablename__ = "shop_globals"

    shop_id: str = Field(primary_key=True, max_length=255)
    name: str = Field(primary_key=True, max_length=255)
    value: Any = Field(default=None, sa_column=Column(JSON))
    updated_at: datetime | None = _ts()


class ShopSecret(SQLModel, table=True):
    """A shop's write-only string (`{{ secrets.name }}`).

    Liquid sees a reference built from `tag`, never `value`; the random tag means text from outside
    (an event's data) cannot name a secret.
    """

    __tablename__ = "shop_secrets"

    shop_id: str = Field(primary_key=True, max_length=255)
    name: str = Field(primary_key=True, max_length=255)
    value: str = Field(sa_column=Column(EncryptedString(MAX_ENCRYPTED_LENGTH), nullable=False))
    tag: str = Field(max_length=32)
    updated_at: datetime | None = _ts()


class ConnectedAccount(SQLModel, table=True):
    """A third-party account an integration action names by `account` (Slack, Google, Airtable)."""

    __tablename__ = "connected_accounts"

    shop_id: str = Field(primary_key=True, max_length=255)
    provider: str = Field(primary_key=True, max_length=16)
    name: str = Field(primary_key=True, max_length=255)
    credential: str = Field(sa_column=Column(EncryptedString(MAX_ENCRYPTED_LENGTH), nullable=False))
    # What kind of credential (e.g. Google `service_account` or `authorized_user`), shown by `accounts list`.
    kind: str = Field(max_length=32)
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class BulkRetry(SQLModel, table=True):
    """A named retry of the failed runs a query selected, performed by its BulkRetryWorkflow.

    The runs are chosen once, when it is started (`bulk_retry_items`), so what the user
    confirmed is what is retried; the workflow works through them at a bounded rate.
    """

    __tablename__ = "bulk_retries"

    id: str = Field(primary_key=True, max_length=36)
    shop_id: str = Field(index=True, max_length=255)
    name: str = Field(max_length=512)
    # The query that chose the runs (task, topic, kinds, since, until), as the user gave it.
    selection: dict[str, Any] = _json(dict)
    total: int = 0
    # running, completed or cancelled.
    state: str = Field(default="running", max_length=16)
    source: str = Field(default="api", max_length=16)
    workflow_id: str = Field(max_length=512)
    created_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class BulkRetryItem(SQLModel, table=True):
    """One run of a bulk retry and what became of it (None until the workflow reaches it)."""

    __tablename__ = "bulk_retry_items"

    bulk_retry_id: str = Field(primary_key=True, max_length=36)
    position: int = Field(primary_key=True)
    run_id: str = Field(max_length=36)
    # event, task or action.
    kind: str = Field(max_length=8)
    # The run's manual retries when it was chosen: more later means this bulk retry's went through
    # (an activity retried after a crash finds it so, rather than a refusal of the run in flight).
    retries_before: int = 0
    # retried or refused.
    outcome: str | None = Field(default=None, max_length=16)
    # The refusal's one-line reason.
    detail: str | None = Field(default=None, sa_column=Column(Text))
    done_at: datetime | None = _ts()
