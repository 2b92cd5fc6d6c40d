"""Fixtures: the Shopify fake on a real local server, real SQLite and PostgreSQL stores, a shop row."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from ratchet.actions.base import ActionContext
from ratchet.config import Settings
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyThrottleState
from tests.shopify_fake import ShopifyFake
from tests.support.servers import shopify_fake_server  # noqa: F401  (fixture)

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def fake(shopify_fake_server: ShopifyFake) -> ShopifyFake:
    shopify_fake_server.reset(time_scale=1.0)
    return shopify_fake_server


@pytest.fixture(scope="session")
def _postgres_store() -> Iterator[Store]:
    store = Store(POSTGRES_URL)
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'ratchet.db'}")
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_store(request: pytest.FixtureRequest) -> Store:
    """Each throttle-state test runs on both supported databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_store")
    return request.getfixturevalue("_postgres_store")


def _add_shop(store: Store, fake: ShopifyFake) -> Iterator[Shop]:
    # A unique id per test: PostgreSQL is shared with other test runs, so only our rows are touched.
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
        session.execute(delete(ShopifyThrottleState).where(ShopifyThrottleState.shop_id == shop.id))  # type: ignore[arg-type]
        session.execute(delete(Shop).where(Shop.id == shop.id))  # type: ignore[arg-type]


@pytest.fixture
def db_shop(db_store: Store, fake: ShopifyFake) -> Iterator[Shop]:
    yield from _add_shop(db_store, fake)


@pytest.fixture
def sqlite_shop(sqlite_store: Store, fake: ShopifyFake) -> Iterator[Shop]:
    yield from _add_shop(sqlite_store, fake)


def make_ctx(store: Store, shop: Shop, *, api_version: str | None = None, time_scale: float = 1.0) -> ActionContext:
    settings = dataclasses.replace(Settings(), time_scale=time_scale)
    return ActionContext(
        settings=settings,
        store=store,
        shop=shop,
        run_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        task_id=None,
        task_name="shopify test",
        shopify_api_version=api_version,
        attempt=1,
    )
