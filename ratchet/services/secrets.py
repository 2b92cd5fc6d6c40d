"""Shop secrets: write-only strings tasks reach as `{{ secrets.name }}`.

https://learn.mechanic.dev/platform/globals-and-secrets

Stored encrypted (ratchet/store/secrets.py); never listed with their values. Liquid sees an
opaque reference (ratchet/core/secret_refs.py); `resolve` turns references into values inside an
action activity, for the option fields its action type declares, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from ratchet.actions.base import ActionError, PermanentActionError, TransientActionError
from ratchet.core.clock import utcnow
from ratchet.core.secret_refs import has_references, new_tag, redact, redact_text, reference, substitute
from ratchet.errors import InvalidInput, RatchetError
from ratchet.services.globals import check_name, delete_named, list_named
from ratchet.services.shops import require_shop
from ratchet.store.database import Read, Store, table_of
from ratchet.store.tables import ShopSecret

# Generous for PEM private keys and service-account JSON; the encrypted column holds it.
MAX_SECRET_CHARACTERS = 8192


class UnknownSecret(InvalidInput):
    """An action names a secret the shop no longer has (deleted, or deleted and created anew)."""


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret: never its value."""

    name: str
    updated_at: datetime | None


@dataclass(frozen=True)
class Resolved:
    """Options with references replaced, and the values used (to redact them from what the action returns)."""

    options: Any
    values: frozenset[str] = frozenset()

    def redact(self, value: Any) -> Any:
        """An action's result (any JSON) without the resolved values (spec 7.2: stored data keeps placeholders)."""
        return redact(value, self.values)

    def scrub(self, exc: Exception) -> Exception:
        """An error safe to record: `exc` itself when no secret was resolved.

        Otherwise an error of the same retry class whose message, result and cause chain cannot
        carry a value (Temporal records an error's causes in history).
        """
        if not self.values:
            return exc
        message = redact_text(str(exc) or type(exc).__name__, self.values)
        if isinstance(exc, ActionError):
            scrubbed: ActionError = type(exc).__new__(type(exc))
            ActionError.__init__(scrubbed, message, result=self.redact(exc.result))
            scrubbed.__dict__.update({k: v for k, v in exc.__dict__.items() if k not in ("message", "result")})
            return scrubbed
        if isinstance(exc, RatchetError) and not exc.retryable:
            return PermanentActionError(message)
        return TransientActionError(f"{type(exc).__name__}: {message}")


def set_secret(store: Store, shop_id: str, name: str, value: str) -> bool:
    """Create or replace a secret; True when it replaced one.

    A replaced secret keeps its reference, so queued action runs use the new value.
    """
    name = check_name("secret", name)
    if not value:
        raise InvalidInput(f"secret {name!r} needs a value (an empty one was given)")
    if len(value) > MAX_SECRET_CHARACTERS:
        raise InvalidInput(f"secret {name!r} is longer than {MAX_SECRET_CHARACTERS} characters")
    with store.session() as session:
        require_shop(session, shop_id)
        row = session.get(ShopSecret, (shop_id, name))
        replaced = row is not None
        row = row or ShopSecret(shop_id=shop_id, name=name, tag=new_tag(), value=value)
        row.value = value
        row.updated_at = utcnow()
        session.add(row)
    return replaced


def list_secrets(store: Store, shop_id: str) -> list[SecretInfo]:
    return [SecretInfo(row.name, row.updated_at) for row in list_named(store, ShopSecret, shop_id)]


def delete_secret(store: Store, shop_id: str, name: str) -> None:
    delete_named(store, ShopSecret, shop_id, name, "secret")


def secret_references(conn: Connection, shop_id: str) -> dict[str, str]:
    """The Liquid `secrets` object: name → opaque reference.

    Values are not read. Prepared, since every task run's start reads it.
    """
    rows = secret_references_read(shop_id).execute(conn).rows
    return {row["name"]: reference(row["name"], row["tag"]) for row in rows}


def secret_references_read(shop_id: str) -> Read:
    """The read `secret_references` runs (for `reads_ahead`)."""
    return Read("secret_references", _references_statement, {"b_shop_id": shop_id})


def _references_statement() -> Select[Any]:
    table = table_of(ShopSecret)
    return select(table.c.name, table.c.tag).where(table.c.shop_id == bindparam("b_shop_id"))


def resolve(store: Store, shop_id: str, options: Any, fields: Iterable[str]) -> Resolved:
    """`options` with the references in its top-level `fields` replaced by the shop's secret values.

    Other fields keep their references as placeholders. A reference to a secret the shop no longer
    has (or one re-created since, with a new tag) fails: sending the placeholder would be wrong.
    """
    wanted = [name for name in fields if isinstance(options, dict) and name in options]
    if not has_references([options[name] for name in wanted]):
        return Resolved(options)
    values: dict[str, str] = {}
    with store.session() as session:

        def value_of(name: str, tag: str) -> str:
            row = session.get(ShopSecret, (shop_id, name))
            if row is None or row.tag != tag:
                raise UnknownSecret(f"secret {name!r} does not exist in shop {shop_id!r} (deleted or re-created)")
            values[name] = row.value
            return row.value

        resolved = dict(options)
        for name in wanted:
            resolved[name] = substitute(options[name], value_of)
    return Resolved(resolved, frozenset(values.values()))
