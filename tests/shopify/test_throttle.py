"""Shared throttle state on SQLite and PostgreSQL: recording and projecting recovery."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlmodel import col

from ratchet.shopify import AsyncShopifyClient, ShopifyConfig, ShopifyThrottled, ShopTarget
from ratchet.shopify.throttle import (
    GRAPHQL_RECOVERED_FRACTION,
    GraphQLThrottleStatus,
    get_state,
    record_graphql,
    record_rest,
    record_throttled,
    seconds_until_available,
)
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyThrottleState
from tests.support.shopify_fake import ShopifyFake

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def shop_id(db_store: Store) -> Iterator[str]:
    shop_id = f"throttle-test-{uuid.uuid4().hex[:12]}"
    yield shop_id
    with db_store.session() as session:
        session.execute(delete(ShopifyThrottleState).where(col(ShopifyThrottleState.shop_id) == shop_id))


def test_unknown_shop_is_available(db_store: Store, shop_id: str) -> None:
    assert seconds_until_available(db_store, shop_id, T0) == 0.0


def test_graphql_above_threshold_is_available(db_store: Store, shop_id: str) -> None:
    record_graphql(db_store, shop_id, GraphQLThrottleStatus(1000, 100, 50), observed_at=T0)
    assert seconds_until_available(db_store, shop_id, T0) == 0.0


def test_graphql_exhaustion_projects_recovery(db_store: Store, shop_id: str) -> None:
    record_graphql(db_store, shop_id, GraphQLThrottleStatus(1000, 50, 50), observed_at=T0)
    state = get_state(db_store, shop_id)
    assert state is not None
    assert (state.graphql_currently_available, state.graphql_maximum_available, state.graphql_restore_rate) == (
        50,
        1000,
        50,
    )

    # 50 of 1000 is below 10 %: wait until half the bucket is back, at 50 points/s.
    assert seconds_until_available(db_store, shop_id, T0) == pytest.approx((500 - 50) / 50)
    # Half a second later 75 points are back: still exhausted, the wait shrinks accordingly.
    assert seconds_until_available(db_store, shop_id, at(0.5)) == pytest.approx((500 - 75) / 50)
    assert seconds_until_available(db_store, shop_id, at(9.0)) == 0.0


def test_projection_honours_time_scale(db_store: Store, shop_id: str) -> None:
    record_graphql(db_store, shop_id, GraphQLThrottleStatus(1000, 0, 100), observed_at=T0)
    wait = seconds_until_available(db_store, shop_id, T0, time_scale=0.05)
    assert wait == pytest.approx(GRAPHQL_RECOVERED_FRACTION * 1000 / 100)
    # After the engine's scaled wait, the same projection says the shop has recovered ...
    scaled_wait = wait * 0.05
    assert seconds_until_available(db_store, shop_id, T0 + timedelta(seconds=scaled_wait), time_scale=0.05) == 0.0
    # ... whereas unscaled, that little wall time restored almost nothing.
    assert seconds_until_available(db_store, shop_id, T0 + timedelta(seconds=scaled_wait)) > 0


def test_rest_call_limit_projects_leak(db_store: Store, shop_id: str) -> None:
    record_rest(db_store, shop_id, 37, 40, observed_at=T0)
    assert seconds_until_available(db_store, shop_id, T0) == 0.0

    record_rest(db_store, shop_id, 39, 40, observed_at=at(1))
    # 39/40 >= 38: wait until the bucket leaks (2/s for a bucket of 40) down to 20.
    assert seconds_until_available(db_store, shop_id, at(1)) == pytest.approx((39 - 20) / 2)
    assert seconds_until_available(db_store, shop_id, at(1 + 9.5)) == 0.0


def test_retry_after_window(db_store: Store, shop_id: str) -> None:
    record_throttled(db_store, shop_id, 3.0, observed_at=T0)
    assert seconds_until_available(db_store, shop_id, at(1)) == pytest.approx(2.0)
    assert seconds_until_available(db_store, shop_id, at(3)) == 0.0


def test_longest_wait_wins(db_store: Store, shop_id: str) -> None:
    record_graphql(db_store, shop_id, GraphQLThrottleStatus(1000, 0, 100), observed_at=T0)  # 5 s
    record_rest(db_store, shop_id, 40, 40, observed_at=T0)  # 10 s
    record_throttled(db_store, shop_id, 2.0, observed_at=T0)
    assert seconds_until_available(db_store, shop_id, T0) == pytest.approx(10.0)
    # Half a second on, REST (39 used) is still exhausted and still the longest wait.
    assert seconds_until_available(db_store, shop_id, at(0.5)) == pytest.approx((39 - 20) / 2)


def test_older_observation_never_overwrites_newer(db_store: Store, shop_id: str) -> None:
    record_graphql(db_store, shop_id, GraphQLThrottleStatus(1000, 900, 50), observed_at=at(10))
    record_graphql(db_store, shop_id, GraphQLThrottleStatus(1000, 5, 50), observed_at=at(5))
    record_rest(db_store, shop_id, 3, 40, observed_at=at(10))
    record_rest(db_store, shop_id, 40, 40, observed_at=at(5))
    state = get_state(db_store, shop_id)
    assert state is not None
    assert state.graphql_currently_available == 900
    assert state.rest_used == 3
    assert seconds_until_available(db_store, shop_id, at(10)) == 0.0


def test_shops_are_independent(db_store: Store, shop_id: str) -> None:
    other = f"{shop_id}-other"
    try:
        record_throttled(db_store, other, 30.0, observed_at=T0)
        assert seconds_until_available(db_store, shop_id, T0) == 0.0
        assert seconds_until_available(db_store, other, T0) == pytest.approx(30.0)
    finally:
        with db_store.session() as session:
            session.execute(delete(ShopifyThrottleState).where(col(ShopifyThrottleState.shop_id) == other))


async def test_saturated_fake_recovers_after_projected_scaled_wait(
    db_store: Store, db_shop: Shop, fake: ShopifyFake
) -> None:
    """End to end: drain the fake's bucket, wait what the projection says (scaled), call again."""
    scale = 0.05
    fake.reset(time_scale=scale)
    fake.set_graphql_bucket(maximum=1000, restore_rate=50, available=1000)
    fake.on_graphql("expensive", {"shop": {"name": "Fake"}}, cost=400)
    config = ShopifyConfig(time_scale=scale)
    async with AsyncShopifyClient(ShopTarget.from_shop(db_shop), config=config, store=db_store) as client:
        with pytest.raises(ShopifyThrottled) as throttled:
            for _ in range(10):
                await client.graphql("{ expensive: shop { name } }")
        assert throttled.value.retry_after_seconds > 0

        wait = seconds_until_available(db_store, db_shop.id, time_scale=scale)
        assert wait > 0
        await asyncio.sleep(wait * scale)
        assert seconds_until_available(db_store, db_shop.id, time_scale=scale) == 0.0

        response = await client.graphql("{ expensive: shop { name } }")
    assert response["data"] == {"shop": {"name": "Fake"}}
    assert response["extensions"]["cost"]["actualQueryCost"] == 400
