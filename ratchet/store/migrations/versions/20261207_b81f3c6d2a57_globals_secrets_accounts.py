"""Per-shop globals, secrets and connected integration accounts (issue 26).

Revision ID: b81f3c6d2a57
Revises: 7d2e5a1c9b34
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "b81f3c6d2a57"
down_revision: str | None = "7d2e5a1c9b34"
branch_labels: str | None = None
depends_on: str | None = None

ENCRYPTED = sa.String(length=16384)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    # A database created by `create_all` of these models has them already (see e4b7ee94cb90).
    if "shop_globals" in existing:
        return
    op.create_table(
        "shop_globals",
        sa.Column("shop_id", sa.String(length=255), primary_key=True),
        sa.Column("name", sa.String(length=255), primary_key=True),
        sa.Column("value", sa.JSON()),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "shop_secrets",
        sa.Column("shop_id", sa.String(length=255), primary_key=True),
        sa.Column("name", sa.String(length=255), primary_key=True),
        sa.Column("value", ENCRYPTED, nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "connected_accounts",
        sa.Column("shop_id", sa.String(length=255), primary_key=True),
        sa.Column("provider", sa.String(length=16), primary_key=True),
        sa.Column("name", sa.String(length=255), primary_key=True),
        sa.Column("credential", ENCRYPTED, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("connected_accounts")
    op.drop_table("shop_secrets")
    op.drop_table("shop_globals")
