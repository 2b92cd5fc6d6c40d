"""The per-shop key/value cache: written by the `cache` action, read through Liquid's `cache`.

Entries live in our store (SQLite or PostgreSQL) with an absolute expiry; expired rows are
invisible to every read and are overwritten by the next write, so expiry needs no timer.
`purge_expired` reclaims the space of keys that are never written again.

Every write runs in one transaction that *starts* by writing the row (an insert-ignore of a
placeholder): on SQLite that first write takes the database write lock, on PostgreSQL the
following `SELECT … FOR UPDATE` locks the row, so concurrent increments never lose an update.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from ratchet.core.clock import utcnow
from ratchet.errors import InvalidInput
from ratchet.store.tables import MAX_CACHE_KEY_LENGTH, CacheEntry

if TYPE_CHECKING:
    from ratchet.store.database import Store

MAX_TTL_SECONDS = 5_184_000  # 60 days; also the default (spec section 0)
DEFAULT_TTL_SECONDS = MAX_TTL_SECONDS
MAX_VALUE_BYTES = 256 * 1024
MAX_KEY_LENGTH = MAX_CACHE_KEY_LENGTH
# Spec section 13.4: whole-string match, case-insensitive.
KEY_RE = re.compile(r"[A-Za-z0-9_:\-./]+")


class CacheValueError(InvalidInput):
    """A command does not apply to the stored value (incr on a non-integer)."""


def serialised_size(value: Any) -> int:
    """Bytes the value takes as compact JSON: what the 256 KB limit measures."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _live(shop_id: str, now: datetime) -> Any:
    return (col(CacheEntry.shop_id) == shop_id) & (col(CacheEntry.expires_at) > now)


def _ensure_row(store: Store, session: Session, shop_id: str, key: str, now: datetime) -> None:
    """Write first (see the module docstring); a new row starts already expired, i.e. missing.

    Every write also sweeps the shop's other expired keys, so keys that are never written again
    do not stay in the table forever (the worker sweeps all shops when it starts).
    """
    session.execute(
        delete(CacheEntry).where(
            col(CacheEntry.shop_id) == shop_id, col(CacheEntry.expires_at) <= now, col(CacheEntry.key) != key
        )
    )
    store.insert_ignore(session, CacheEntry, [{"shop_id": shop_id, "key": key, "value": None, "expires_at": now}])


def _write(session: Session, shop_id: str, key: str, value: Any, expires_at: datetime) -> None:
    session.execute(
        update(CacheEntry)
        .where(col(CacheEntry.shop_id) == shop_id, col(CacheEntry.key) == key)
        .values(value=value, expires_at=expires_at)
    )


def cache_set(store: Store, shop_id: str, key: str, value: Any, ttl: timedelta) -> Any:
    """Store a value, replacing any previous one and its expiry. Returns the value.

    Args:
        store: The store that holds the cache.
        shop_id: The shop whose cache it is.
        key: The cache key.
        value: Any JSON value, up to 256 KB as compact JSON.
        ttl: How long the entry lives from now.
    """
    now = utcnow()
    with store.session() as session:
        _ensure_row(store, session, shop_id, key, now)
        _write(session, shop_id, key, value, now + ttl)
    return value


def cache_incrby(store: Store, shop_id: str, key: str, delta: int, ttl: timedelta) -> int:
    """Add to an integer value (a missing or expired key counts as 0); returns the new value.

    Args:
        store: The store that holds the cache.
        shop_id: The shop whose cache it is.
        key: The cache key.
        delta: What to add (negative to decrement).
        ttl: How long the entry lives from now; every increment renews it.
    """
    now = utcnow()
    with store.session() as session:
        _ensure_row(store, session, shop_id, key, now)
        statement = (
            select(CacheEntry)
            .where(col(CacheEntry.shop_id) == shop_id, col(CacheEntry.key) == key)
            .with_for_update()  # PostgreSQL: hold the row until commit; SQLite: already locked
        )
        row = session.execute(statement).scalar_one()
        current = row.value if row.expires_at > now else 0
        # bool is an int subclass in Python but not a number in JSON.
        if not isinstance(current, int) or isinstance(current, bool):
            raise CacheValueError(f"cache key {key!r} holds {json.dumps(current)[:80]}, not an integer")
        new_value = current + delta
        _write(session, shop_id, key, new_value, now + ttl)
    return new_value


def cache_delete(store: Store, shop_id: str, key: str) -> None:
    with store.session() as session:
        session.execute(delete(CacheEntry).where(col(CacheEntry.shop_id) == shop_id, col(CacheEntry.key) == key))


def cache_get(store: Store, shop_id: str, key: str) -> Any:
    """The live value of a key, or None when it is missing or expired."""
    return CacheView(store, shop_id).get(key)


def purge_expired(store: Store) -> int:
    """Delete every expired entry (all shops); returns how many. Run when a worker starts."""
    with store.session() as session:
        result = session.execute(delete(CacheEntry).where(col(CacheEntry.expires_at) <= utcnow()))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult at runtime


class CacheView(Mapping[str, Any]):
    """Read-only view of one shop's live cache entries, for Liquid's `cache` object.

    Each access reads the store, so a value becomes visible as soon as the writing action run
    commits and disappears at its expiry.
    """

    def __init__(self, store: Store, shop_id: str) -> None:
        self._store = store
        self._shop_id = shop_id

    def __getitem__(self, key: str) -> Any:
        with self._store.session() as session:
            statement = select(col(CacheEntry.value)).where(_live(self._shop_id, utcnow()), col(CacheEntry.key) == key)
            rows = session.execute(statement).all()
        if not rows:
            raise KeyError(key)
        return rows[0][0]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._store.session() as session:
            statement = select(col(CacheEntry.key)).where(_live(self._shop_id, utcnow()), col(CacheEntry.key) == key)
            return session.execute(statement).first() is not None

    def __iter__(self) -> Iterator[str]:
        with self._store.session() as session:
            statement = select(col(CacheEntry.key)).where(_live(self._shop_id, utcnow())).order_by(col(CacheEntry.key))
            keys = list(session.execute(statement).scalars())
        return iter(keys)

    def __len__(self) -> int:
        with self._store.session() as session:
            statement = select(func.count()).select_from(CacheEntry).where(_live(self._shop_id, utcnow()))
            return int(session.execute(statement).scalar_one())
