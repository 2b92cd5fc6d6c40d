"""Shops connected by an OAuth grant: expiring tokens, their grants, install links, previous secrets.

Shops get when their token is renewed and the previous webhook secret, valid for a while after
a rotation; `shopify_grants` says how each token is renewed; `shopify_install_states` holds the
install links not yet used.

Revision ID: a9c3e1f4d2b6
Revises: b81f3c6d2a57
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "a9c3e1f4d2b6"
down_revision: str | None = "b81f3c6d2a57"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A database made by `create_all` of these models has them already (see e4b7ee94cb90).
    inspector = sa.inspect(op.get_bind())
    columns = {column["name"] for column in inspector.get_columns("shops")}
    new_columns: list[sa.Column[object]] = [
        sa.Column("access_token_renew_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_webhook_secret", sa.String(length=512), nullable=True),
        sa.Column("previous_webhook_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    ]
    missing = [column for column in new_columns if column.name not in columns]
    if missing:
        with op.batch_alter_table("shops", schema=None) as batch_op:
            for column in missing:
                batch_op.add_column(column)
    if inspector.has_table("shopify_grants"):
        return
    op.create_table(
        "shopify_grants",
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("grant", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_token", sa.String(length=512), nullable=True),
        sa.Column("refresh_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewal_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    op.create_table(
        "shopify_install_states",
        sa.Column("state", sa.String(length=128), nullable=False),
        sa.Column("shop_id", sa.String(length=255), nullable=False),
        sa.Column("shopify_domain", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.String(length=512), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state"),
    )


def downgrade() -> None:
    op.drop_table("shopify_install_states")
    op.drop_table("shopify_grants")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("previous_webhook_secret_expires_at")
        batch_op.drop_column("previous_webhook_secret")
        batch_op.drop_column("access_token_renew_at")
