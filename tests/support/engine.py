"""The engine under test.

One real Temporal dev server per session, its settings and store (SQLite, or PostgreSQL with
RATCHET_TEST_LEDGER=postgresql), a worker, and the starter API bound to a fresh shop per test.

Engine waits run at RATCHET_TIME_SCALE=0.05 (twenty times faster): Mechanic's 30 s first retry
becomes 1.5 s, above Temporal's ~1 s timer floor.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from ratchet.config import Settings, load_settings
from ratchet.engine.connection import connect
from ratchet.engine.devserver import DevServer, free_port
from ratchet.store.database import Store
from starter.api import Ratchet
from tests.support.integration_fakes import IntegrationFakes

TIME_SCALE = 0.05


@pytest.fixture(scope="session")
def tmp_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ratchet-home")


@pytest.fixture(scope="session")
async def dev_server(tmp_home: Path) -> AsyncIterator[DevServer]:
    address = os.environ.get("RATCHET_TEST_TEMPORAL_ADDRESS")
    server = DevServer(
        db_path=tmp_home / "temporal.db", port=free_port(), ui_port=None, log_path=tmp_home / "temporal.log"
    )
    if address:
        server.port = int(address.rsplit(":", 1)[1])
        yield server
        return
    await server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ledger_url(tmp_home: Path, request: pytest.FixtureRequest) -> str:
    """The engine's ledger: SQLite in the session's home, or a fresh PostgreSQL database.

    RATCHET_TEST_LEDGER=postgresql chooses PostgreSQL (tests/support/stores.py), so the engine's
    tests run on either ledger.
    """
    if os.environ.get("RATCHET_TEST_LEDGER") == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_home / 'ratchet.db'}"


@pytest.fixture(scope="session")
def base_settings(
    tmp_home: Path, dev_server: DevServer, integration_fakes: IntegrationFakes, ledger_url: str
) -> Settings:
    return load_settings(
        home=tmp_home,
        database_url=ledger_url,
        time_scale=TIME_SCALE,
        shop="default",
        temporal={"address": dev_server.address, "task_queue": "ratchet-tests"},
        integrations=integration_fakes.integration_settings(),
    )


@pytest.fixture(scope="session")
async def client(base_settings: Settings) -> Client:
    return await connect(base_settings)


@pytest.fixture(scope="session")
def store(base_settings: Settings) -> Store:
    from ratchet.store.database import get_store

    return get_store(base_settings.effective_database_url)


@pytest.fixture(scope="session")
async def worker(client: Client, base_settings: Settings, store: Store) -> AsyncIterator[None]:
    from ratchet.engine.retry_desk import ensure_retry_desk
    from worker import build_worker

    async with build_worker(client, base_settings, store):
        # As `ratchet worker` does at start: the desk takes the Web UI's retry signals.
        await ensure_retry_desk(client, base_settings)
        yield


@pytest.fixture
async def shop(ratchet_api: Ratchet) -> str:
    """A fresh shop per test, so tests never see each other's tasks or runs."""
    shop_id = f"shop-{uuid.uuid4().hex[:10]}"
    await ratchet_api.shops.add(shop_id, timezone_name="UTC")
    return shop_id


@pytest.fixture(scope="session")
async def ratchet_api(base_settings: Settings, store: Store, client: Client) -> Ratchet:
    return Ratchet(base_settings, store, client)


@pytest.fixture
def api(ratchet_api: Ratchet, shop: str, worker: None) -> Ratchet:
    """The starter API bound to this test's shop, with the session worker running."""
    return Ratchet(ratchet_api.settings.updated(shop=shop), ratchet_api.store, ratchet_api.client)
