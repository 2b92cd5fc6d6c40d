"""Baseline: the schema `create_all` made before migrations existed.

A database made by that release is stamped with this revision instead of running it.

Revision ID: c4f1a9e2b7d0
Revises:
Create Date: 2026-12-01 20:25:36.905283
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "c4f1a9e2b7d0"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cache_entries",
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "key"),
    )
    with op.batch_alter_table("cache_entries", schema=None) as batch_op:
        batch_op.create_index("ix_cache_entries_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "event_filters",
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shop_id", "name"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("task_ids", sa.JSON(), nullable=True),
        sa.Column("webhook_request_id", sa.String(length=64), nullable=True),
        sa.Column("workflow_id", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_topic"), ["topic"], unique=False)

    op.create_table(
        "mechanic_webhooks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("secret", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "name", name="uq_webhook_shop_name"),
    )
    with op.batch_alter_table("mechanic_webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mechanic_webhooks_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "run_attempts",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "attempt"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.Enum("event", "task", "action", name="runkind"), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("task_name", sa.String(length=512), nullable=True),
        sa.Column("subscription", sa.String(length=512), nullable=True),
        sa.Column("action_type", sa.String(length=64), nullable=True),
        sa.Column("action_options", sa.JSON(), nullable=True),
        sa.Column("action_meta", sa.JSON(), nullable=True),
        sa.Column("perform_event", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("unscheduled", "scheduled", "due", "started", "failed", "succeeded", name="runstate"),
            nullable=False,
        ),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("result_meta", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("manual_retries", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("elapsed_time_ms", sa.Integer(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_event_kind", ["event_id", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index("ix_runs_shop_state", ["shop_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs_task_id"), ["task_id"], unique=False)

    op.create_table(
        "shopify_throttle_state",
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("graphql_currently_available", sa.Float(), nullable=True),
        sa.Column("graphql_maximum_available", sa.Float(), nullable=True),
        sa.Column("graphql_restore_rate", sa.Float(), nullable=True),
        sa.Column("graphql_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rest_used", sa.Integer(), nullable=True),
        sa.Column("rest_limit", sa.Integer(), nullable=True),
        sa.Column("rest_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("throttled_retry_after_seconds", sa.Float(), nullable=True),
        sa.Column("throttled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    op.create_table(
        "shops",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("shopify_domain", sa.String(length=255), nullable=True),
        sa.Column("access_token", sa.String(length=512), nullable=True),
        sa.Column("webhook_secret", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("subscriptions", sa.JSON(), nullable=True),
        sa.Column("subscriptions_template", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("shopify_api_version", sa.String(length=16), nullable=True),
        sa.Column("perform_action_runs_in_sequence", sa.Boolean(), nullable=False),
        sa.Column("halt_action_run_sequence_on_error", sa.Boolean(), nullable=False),
        sa.Column("docs", sa.Text(), nullable=True),
        sa.Column("preview_event_definitions", sa.JSON(), nullable=True),
        sa.Column("online_store_javascript", sa.Text(), nullable=True),
        sa.Column("order_status_javascript", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "name", name="uq_task_shop_name"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_shop_id"), ["shop_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_shop_id"))

    op.drop_table("tasks")
    op.drop_table("shops")
    op.drop_table("shopify_throttle_state")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_task_id"))
        batch_op.drop_index("ix_runs_shop_state")
        batch_op.drop_index(batch_op.f("ix_runs_parent_id"))
        batch_op.drop_index("ix_runs_event_kind")

    op.drop_table("runs")
    op.drop_table("run_attempts")
    with op.batch_alter_table("mechanic_webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mechanic_webhooks_shop_id"))

    op.drop_table("mechanic_webhooks")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_topic"))
        batch_op.drop_index(batch_op.f("ix_events_shop_id"))
        batch_op.drop_index(batch_op.f("ix_events_parent_id"))

    op.drop_table("events")
    op.drop_table("event_filters")
    with op.batch_alter_table("cache_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_cache_entries_expires_at")

    op.drop_table("cache_entries")
    # PostgreSQL keeps enum types after their tables are dropped.
    sa.Enum(name="runstate").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="runkind").drop(op.get_bind(), checkfirst=True)
