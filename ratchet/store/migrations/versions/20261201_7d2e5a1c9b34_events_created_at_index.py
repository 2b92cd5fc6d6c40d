"""Index events by creation time: the retention pass selects the oldest events first, in batches.

Shop tokens, webhook secrets and Mechanic-webhook secrets became encrypted (EncryptedString) in
the same change; their columns keep their type (VARCHAR(512)), and values stored before are
read as they are until `ratchet key rotate` encrypts them, so no data migration is needed.

Revision ID: 7d2e5a1c9b34
Revises: e4b7ee94cb90
Create Date: 2026-12-01 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "7d2e5a1c9b34"
down_revision: str | None = "e4b7ee94cb90"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A database created by `create_all` of these models has it already (see e4b7ee94cb90).
    if "ix_events_created_at" not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("events")}:
        op.create_index("ix_events_created_at", "events", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_events_created_at", table_name="events")
