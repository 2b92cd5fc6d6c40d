"""Shopify connection snapshots, webhook registrations, bulk operations, and the API version of shops and runs.

These reached main by `create_all` shortly before migrations did, so a database may already
have some of them while carrying no revision: it is stamped as the baseline, and each table
and column here is created only if missing.

Revision ID: e4b7ee94cb90
Revises: c4f1a9e2b7d0
Create Date: 2026-12-01 20:56:19.398483
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "e4b7ee94cb90"
down_revision: str | None = "c4f1a9e2b7d0"
branch_labels: str | None = None
depends_on: str | None = None


def _add_column_if_missing(table: str, column: sa.Column[str]) -> None:
    if column.name not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(column)


def upgrade() -> None:
    op.create_table(
        "bulk_operations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("gid", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("task_name", sa.String(length=512), nullable=True),
        sa.Column("action_run_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("shopify_api_version", sa.String(length=16), nullable=True),
        sa.Column("workflow_id", sa.String(length=512), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("results_path", sa.String(length=1024), nullable=True),
        sa.Column("object_count", sa.Integer(), nullable=True),
        sa.Column("report_event_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "gid", name="uq_bulk_operation_shop_gid"),
        if_not_exists=True,
    )
    for column in ("action_run_id", "shop_id", "status"):
        op.create_index(f"ix_bulk_operations_{column}", "bulk_operations", [column], if_not_exists=True)
    op.create_table(
        "shopify_connections",
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("access_scopes", sa.JSON(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shop_id"),
        if_not_exists=True,
    )
    op.create_table(
        "shopify_webhook_subscriptions",
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("shopify_id", sa.String(length=255), nullable=True),
        sa.Column("callback_url", sa.String(length=1024), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shop_id", "topic"),
        if_not_exists=True,
    )
    _add_column_if_missing("runs", sa.Column("shopify_api_version", sa.String(length=16), nullable=True))
    _add_column_if_missing("shops", sa.Column("shopify_api_version", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("shopify_api_version")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("shopify_api_version")
    op.drop_table("shopify_webhook_subscriptions")
    op.drop_table("shopify_connections")
    op.drop_table("bulk_operations")
