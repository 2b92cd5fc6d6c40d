"""Fixtures: the Shopify fake reset for each test, and a shop row pointing at it on each database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlmodel import col

from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyThrottleState
from tests.support.shopify_fake import ShopifyFake


@pytest.fixture
def fake(shopify_fake_server: ShopifyFake) -> ShopifyFake:
    shopify_fake_server.reset(time_scale=1.0)
    return shopify_fake_server


def _add_shop(store: Store, fake: ShopifyFake) -> Iterator[Shop]:
    # A unique id per test: the stores are shared by the session, so only our rows are touched.
    shop = Shop(
        id=f"shopify-test-{uuid.uuid4().hex[:12]}",
        shopify_domain=fake.base_url,
        access_token=fake.access_token,
        timezone="UTC",
    )
    with store.session() as session:
        session.add(shop)
    yield shop
    with store.session() as session:
        session.execute(delete(ShopifyThrottleState).where(col(ShopifyThrottleState.shop_id) == shop.id))
        session.execute(delete(Shop).where(col(Shop.id) == shop.id))


@pytest.fixture
def db_shop(db_store: Store, fake: ShopifyFake) -> Iterator[Shop]:
    yield from _add_shop(db_store, fake)


@pytest.fixture
def sqlite_shop(sqlite_store: Store, fake: ShopifyFake) -> Iterator[Shop]:
    yield from _add_shop(sqlite_store, fake)
