"""cache action and the Liquid-facing view, on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from ratchet.actions.base import ActionContext, ActionOptionsError, PermanentActionError, get_handler
from ratchet.core.clock import utcnow
from ratchet.services.shop_cache import MAX_TTL_SECONDS, CacheView, cache_get, cache_set, purge_expired
from ratchet.store.database import Store
from ratchet.store.tables import CacheEntry
from tests.support.actions import scaled_settings

handler = get_handler("cache")
MakeCtx = Callable[..., ActionContext]


async def run(options: Any, ctx: ActionContext) -> Any:
    return await handler.perform(handler.validate(options), ctx)


def expires_at(store: Store, shop_id: str, key: str) -> Any:
    with store.session() as session:
        return session.exec(
            select(CacheEntry.expires_at).where(CacheEntry.shop_id == shop_id, CacheEntry.key == key)
        ).one()


# -- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["set", "bad key!", 1], "key"),
        (["set", "", 1], "key"),
        (["set", "a" * 1025, 1], "key"),
        ({"set": {"key": "k\n", "value": 1}}, "key"),
        (["setex", "k", 0, "v"], "ttl"),
        (["setex", "k", MAX_TTL_SECONDS + 1, "v"], "ttl"),
        (["setex", "k", "soon", "v"], "ttl"),
        (["incrby", "k", 1.5], "increment"),
        (["decrby", "k", True], "decrement"),
        (["set", "k", "x" * (256 * 1024)], "value"),
        (["flush", "k"], "command"),
        (["set", "k"], "options"),
        ("set k v", "options"),
        ({"set": {"key": "k"}}, "value"),
        ({"incrby": {"key": "k"}}, "increment"),
        ({"set": {"key": "k", "value": 1, "expire": 5}}, "expire"),
        ({"set": {"key": "k", "value": 1}, "del": {"key": "k"}}, "command"),
    ],
)
def test_invalid_options_name_the_field(options: Any, field: str) -> None:
    with pytest.raises(ActionOptionsError) as raised:
        handler.validate(options)
    assert raised.value.field_name == field
    assert not raised.value.retryable


def test_both_forms_normalise_alike() -> None:
    assert handler.validate(["setex", "a/b:c-d.e_f", "600", {"x": [1]}]) == handler.validate(
        {"setex": {"key": "a/b:c-d.e_f", "ttl": 600, "value": {"x": [1]}}}
    )
    assert handler.validate(["decrby", "n", 3]) == {
        "command": "incrby",
        "key": "n",
        "ttl": MAX_TTL_SECONDS,
        "delta": -3,
    }
    assert handler.validate({"incr": {"key": "n", "ttl": 60}})["ttl"] == 60
    # The value limit counts the serialised JSON: a value just under 256 KB passes.
    handler.validate(["set", "big", "x" * (256 * 1024 - 2)])


# -- commands ---------------------------------------------------------------------------------------


async def test_set_get_del_and_numeric_commands(db_store: Store, shop_id: str, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(store=db_store)
    value = {"nested": ["json", 1, None, True]}
    assert await run(["set", "doc", value], ctx) == value
    assert cache_get(db_store, shop_id, "doc") == value
    assert await run({"del": {"key": "doc"}}, ctx) is None
    assert cache_get(db_store, shop_id, "doc") is None

    # Missing numeric keys start at 0.
    assert await run(["incr", "n"], ctx) == 1
    assert await run(["incrby", "n", 10], ctx) == 11
    assert await run(["decr", "n"], ctx) == 10
    assert await run({"decrby": {"key": "n", "decrement": 15}}, ctx) == -5
    assert await run(["decr", "fresh"], ctx) == -1
    assert cache_get(db_store, shop_id, "n") == -5


async def test_incr_on_non_integer_is_permanent_and_keeps_the_value(
    db_store: Store, shop_id: str, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(store=db_store)
    for value in ("5", 1.5, True, None):
        await run(["set", "k", value], ctx)
        with pytest.raises(PermanentActionError, match="not an integer"):
            await run(["incr", "k"], ctx)
        assert cache_get(db_store, shop_id, "k") == value


async def test_incr_is_atomic_under_concurrency(db_store: Store, shop_id: str, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(store=db_store)
    await asyncio.gather(*(run(["incr", "counter"], ctx) for _ in range(25)))
    assert cache_get(db_store, shop_id, "counter") == 25


async def test_keys_are_per_shop(db_store: Store, shop_id: str, make_ctx: MakeCtx) -> None:
    await run(["set", "shared", 1], make_ctx(store=db_store))
    assert cache_get(db_store, "some-other-shop", "shared") is None


# -- TTL --------------------------------------------------------------------------------------------


async def test_every_write_resets_the_ttl_scaled(db_store: Store, shop_id: str, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(store=db_store, settings=scaled_settings(0.001))

    def bounds(before: Any, after: Any, seconds: float) -> Callable[[Any], bool]:
        ttl = timedelta(seconds=seconds * 0.001)
        return lambda stored: before + ttl <= stored <= after + ttl

    before = utcnow()
    await run(["setex", "k", 600, 1], ctx)
    assert bounds(before, utcnow(), 600)(expires_at(db_store, shop_id, "k"))

    # incr without a TTL resets it to the default (60 days), not keeping the setex one.
    before = utcnow()
    await run(["incr", "k"], ctx)
    assert bounds(before, utcnow(), MAX_TTL_SECONDS)(expires_at(db_store, shop_id, "k"))

    before = utcnow()
    await run({"incrby": {"key": "k", "increment": 2, "ttl": 30}}, ctx)
    assert bounds(before, utcnow(), 30)(expires_at(db_store, shop_id, "k"))

    before = utcnow()
    await run(["set", "k", "again"], ctx)
    assert bounds(before, utcnow(), MAX_TTL_SECONDS)(expires_at(db_store, shop_id, "k"))


async def test_expired_keys_vanish_and_count_from_zero(db_store: Store, shop_id: str, make_ctx: MakeCtx) -> None:
    # setex 1000 s at scale 0.001 = 1 s of real time.
    ctx = make_ctx(store=db_store, settings=scaled_settings(0.001))
    await run(["setex", "flag", 1000, "up"], ctx)
    await run(["setex", "n", 1000, 41], ctx)
    await run(["set", "keeper", "stays"], ctx)
    view = CacheView(db_store, shop_id)
    assert dict(view) == {"flag": "up", "keeper": "stays", "n": 41}

    await asyncio.sleep(1.2)
    assert cache_get(db_store, shop_id, "flag") is None
    assert "flag" not in view and view.get("flag") is None
    assert dict(view) == {"keeper": "stays"} and len(view) == 1
    with pytest.raises(KeyError):
        view["flag"]
    # An expired counter restarts at 0, not from its stale value.
    assert await run(["incr", "n"], ctx) == 1


async def test_purge_expired_removes_only_expired_rows(db_store: Store, shop_id: str) -> None:
    cache_set(db_store, shop_id, "live", 2, timedelta(hours=1))
    cache_set(db_store, f"{shop_id}-other", "old", 1, timedelta(seconds=-1))  # a shop never written again
    assert purge_expired(db_store) >= 1
    with db_store.session() as session:
        keys = session.exec(
            select(CacheEntry.key).where(col(CacheEntry.shop_id).in_([shop_id, f"{shop_id}-other"]))
        ).all()
    assert keys == ["live"]


async def test_view_reads_values_and_json_null(db_store: Store, shop_id: str, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(store=db_store)
    await run(["set", "nothing", None], ctx)
    await run(["set", "list", [1, 2]], ctx)
    view = CacheView(db_store, shop_id)
    assert view["list"] == [1, 2]
    assert "nothing" in view and view["nothing"] is None
    assert list(view) == ["list", "nothing"]
    assert 5 not in view


async def test_a_write_sweeps_the_shops_expired_keys(db_store: Store, shop_id: str) -> None:
    """Keys that are never written again must not stay in the table forever."""
    cache_set(db_store, shop_id, "stale", 1, timedelta(seconds=-1))
    cache_set(db_store, shop_id, "fresh", 2, timedelta(minutes=5))
    with db_store.session() as session:
        keys = sorted(row.key for row in session.exec(select(CacheEntry).where(CacheEntry.shop_id == shop_id)))
    assert keys == ["fresh"]
