"""Shop globals: visible JSON values tasks read as `{{ globals.name }}`.

https://learn.mechanic.dev/platform/globals-and-secrets

Names are lower snake case starting with a letter. Values are any JSON (a text global is a JSON
string). Renders read them when a task run starts, so a change applies to the next task run.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, bindparam, select
from sqlmodel import SQLModel
from sqlmodel import select as model_select

from ratchet.core.clock import utcnow
from ratchet.core.secret_refs import NAME
from ratchet.errors import InvalidInput, NotFound
from ratchet.services.shops import require_shop
from ratchet.store.database import Read, Store, table_of
from ratchet.store.tables import ShopGlobal

M = TypeVar("M", bound=SQLModel)

# Globals are configuration; this keeps one from swelling every task run's render.
MAX_GLOBAL_BYTES = 256 * 1024


def check_name(kind: str, name: str) -> str:
    name = name.strip()
    if not NAME.match(name) or len(name) > 255:
        raise InvalidInput(
            f"invalid {kind} name {name!r}: lower snake case, starting with a letter (letters, digits, underscores)"
        )
    return name


def set_global(store: Store, shop_id: str, name: str, value: Any) -> bool:
    """Create or replace a global; True when it replaced one."""
    name = check_name("global", name)
    if len(json.dumps(value)) > MAX_GLOBAL_BYTES:
        raise InvalidInput(f"global {name!r} is larger than {MAX_GLOBAL_BYTES // 1024} KB")
    with store.session() as session:
        require_shop(session, shop_id)
        row = session.get(ShopGlobal, (shop_id, name))
        replaced = row is not None
        row = row or ShopGlobal(shop_id=shop_id, name=name)
        row.value = value
        row.updated_at = utcnow()
        session.add(row)
    return replaced


def list_globals(store: Store, shop_id: str) -> list[ShopGlobal]:
    return list_named(store, ShopGlobal, shop_id)


def list_named(store: Store, model: type[M], shop_id: str) -> list[M]:
    """A shop's globals or secrets (rows with `shop_id` and `name`), by name."""
    with store.session() as session:
        require_shop(session, shop_id)
        table = table_of(model)
        return list(session.exec(model_select(model).where(table.c.shop_id == shop_id).order_by(table.c.name)))


def delete_global(store: Store, shop_id: str, name: str) -> None:
    delete_named(store, ShopGlobal, shop_id, name, "global")


def delete_named(store: Store, model: type[SQLModel], shop_id: str, name: str, kind: str) -> None:
    """Delete a shop's global or secret by name; NotFound names what is missing."""
    with store.session() as session:
        require_shop(session, shop_id)
        row = session.get(model, (shop_id, name.strip()))
        if row is None:
            raise NotFound(f"no {kind} named {name!r} in shop {shop_id!r}")
        session.delete(row)


def shop_globals(conn: Connection, shop_id: str) -> dict[str, Any]:
    """The Liquid `globals` object: name → value (read at every task run's start, so prepared)."""
    return {row["name"]: row["value"] for row in shop_globals_read(shop_id).execute(conn).rows}


def shop_globals_read(shop_id: str) -> Read:
    """The read `shop_globals` runs (for `reads_ahead`)."""
    return Read("shop_globals", _shop_globals_statement, {"b_shop_id": shop_id})


def _shop_globals_statement() -> Select[Any]:
    table = table_of(ShopGlobal)
    return select(table.c.name, table.c.value).where(table.c.shop_id == bindparam("b_shop_id"))
