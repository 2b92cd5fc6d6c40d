"""Task versions (and the version each task-run attempt rendered) and bulk retries.

A database made by `create_all` of newer tables carries no revision and may have all of these:
each table, column and index is created only if missing. Tasks that exist at upgrade time start at version 0: their first recorded change is version 1,
and attempts they rendered before it show no version.

Revision ID: 5b8c1e7d2a40
Revises: a9c3e1f4d2b6
Create Date: 2026-12-07 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "5b8c1e7d2a40"
down_revision: str | None = "a9c3e1f4d2b6"
branch_labels: str | None = None
depends_on: str | None = None


def _add_column_if_missing(table: str, column: sa.Column[int]) -> None:
    if column.name not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(column)


def upgrade() -> None:
    _add_column_if_missing("tasks", sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    _add_column_if_missing("runs", sa.Column("task_version", sa.Integer(), nullable=True))
    _add_column_if_missing("run_attempts", sa.Column("task_version", sa.Integer(), nullable=True))
    op.create_table(
        "task_versions",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("change", sa.String(length=255), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("task_id", "version"),
        if_not_exists=True,
    )
    op.create_table(
        "bulk_retries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("workflow_id", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index("ix_bulk_retries_shop_id", "bulk_retries", ["shop_id"], if_not_exists=True)
    op.create_table(
        "bulk_retry_items",
        sa.Column("bulk_retry_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("retries_before", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("bulk_retry_id", "position"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("bulk_retry_items")
    op.drop_index("ix_bulk_retries_shop_id", table_name="bulk_retries")
    op.drop_table("bulk_retries")
    op.drop_table("task_versions")
    with op.batch_alter_table("run_attempts", schema=None) as batch_op:
        batch_op.drop_column("task_version")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("task_version")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("version")
