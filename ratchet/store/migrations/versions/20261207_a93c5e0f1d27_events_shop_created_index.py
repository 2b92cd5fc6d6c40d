"""Index events by shop and creation time: the console's Events list reads a shop's newest first, in pages.

Keyset pagination on (created_at, id) within a shop walks this index backwards from the cursor,
so the first page of 100,000 events costs what any page costs (benchmarks/events_page.py).

Revision ID: a93c5e0f1d27
Revises: 5b8c1e7d2a40
Create Date: 2026-12-07 02:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "a93c5e0f1d27"
down_revision: str | None = "5b8c1e7d2a40"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A database created by `create_all` of these models has it already (see e4b7ee94cb90).
    if "ix_events_shop_created" not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("events")}:
        op.create_index("ix_events_shop_created", "events", ["shop_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_shop_created", table_name="events")
