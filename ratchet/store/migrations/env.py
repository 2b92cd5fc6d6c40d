"""Alembic's entry point, run by `ratchet.store.migrations` on a connection it already holds (and has locked)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import ratchet.store.tables  # noqa: F401  (registers every table on SQLModel.metadata)


def _render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import model code that later changes: a column of our own type
    # (UTCDateTime) or SQLModel's (AutoString) is written as the SQLAlchemy type it stores as.
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl!r}"
    return False


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=SQLModel.metadata,
    compare_type=True,
    render_item=_render_item,
    # SQLite cannot ALTER most things; batch mode rebuilds the table there and is a plain ALTER on PostgreSQL.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
