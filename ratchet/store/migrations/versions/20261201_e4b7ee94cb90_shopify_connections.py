"""Shopify connection snapshots and webhook registrations.

These tables came to main (by `create_all`) shortly before migrations did, so a database may
already have them while carrying no revision: it is stamped as the baseline, and they are
created here only if missing.

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


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_table("shopify_webhook_subscriptions")
    op.drop_table("shopify_connections")
