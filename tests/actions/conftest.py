"""Fixtures for action tests: a shop id per test and an ActionContext factory for it.

The stores (tests/support/stores.py) are shared for the session; every test works under its own shop
id and deletes its cache rows afterwards, so tests never see each other's keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete
from sqlmodel import col

from ratchet.actions.base import ActionContext
from ratchet.config import Settings
from ratchet.services.events import EventService
from ratchet.store.database import Store
from ratchet.store.tables import CacheEntry, Shop
from tests.support.actions import action_context


@pytest.fixture
def shop_id(request: pytest.FixtureRequest) -> Iterator[str]:
    shop_id = f"actions-test-{uuid.uuid4().hex}"
    yield shop_id
    if "db_store" in request.fixturenames:
        store: Store = request.getfixturevalue("db_store")
        with store.session() as session:
            session.execute(delete(CacheEntry).where(col(CacheEntry.shop_id) == shop_id))


@pytest.fixture
def make_ctx(sqlite_store: Store, shop_id: str) -> Callable[..., ActionContext]:
    """An ActionContext for this test's shop; a fresh run id per call unless one is given."""

    def make(
        *,
        store: Store | None = None,
        settings: Settings | None = None,
        events: EventService | None = None,
        run_id: str | None = None,
        timezone: str = "UTC",
    ) -> ActionContext:
        return action_context(
            store or sqlite_store,
            Shop(id=shop_id, timezone=timezone),
            settings=settings,
            events=events,
            run_id=run_id,
        )

    return make
