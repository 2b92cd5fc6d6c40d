"""Fixtures for action tests: real local servers (HTTP, SMTP; shared in tests/support/servers.py) and real stores.

The stores are shared for the session; every test works under its own shop id and deletes its
cache rows afterwards, so tests never see each other's keys.
"""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import delete

from ratchet.actions.base import ActionContext
from ratchet.config import Settings, load_settings
from ratchet.store.database import Store
from ratchet.store.tables import CacheEntry, Shop
from tests.support.servers import (  # noqa: F401  (fixtures and helpers used by this package's tests)
    RecordingSmtpHandler,
    SmtpServer,
    http_server,
    smtp_env,
    smtp_server,
    start_smtp,
)

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- stores -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("actions") / "ratchet.db"
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def postgres_store() -> Iterator[Store]:
    store = Store(POSTGRES_URL)
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def cache_store(request: pytest.FixtureRequest) -> Store:
    store: Store = request.getfixturevalue(f"{request.param}_store")
    return store


@pytest.fixture
def shop_id(request: pytest.FixtureRequest) -> Iterator[str]:
    shop_id = f"actions-test-{uuid.uuid4().hex}"
    yield shop_id
    if "cache_store" in request.fixturenames:
        store: Store = request.getfixturevalue("cache_store")
        with store.session() as session:
            session.execute(delete(CacheEntry).where(CacheEntry.shop_id == shop_id))  # type: ignore[arg-type]


@pytest.fixture
def make_ctx(sqlite_store: Store, shop_id: str) -> Callable[..., ActionContext]:
    """An ActionContext for this test's shop; a fresh run id per call unless one is given."""

    def make(
        *,
        store: Store | None = None,
        settings: Settings | None = None,
        services: dict[str, Any] | None = None,
        run_id: str | None = None,
        timezone: str = "UTC",
    ) -> ActionContext:
        return ActionContext(
            settings=settings or load_settings(),
            store=store or sqlite_store,
            shop=Shop(id=shop_id, timezone=timezone),
            run_id=run_id or str(uuid.uuid4()),
            event_id=str(uuid.uuid4()),
            task_id=str(uuid.uuid4()),
            task_name="action test",
            shopify_api_version=None,
            attempt=1,
            services=services or {},
        )

    return make


def scaled_settings(time_scale: float) -> Settings:
    return dataclasses.replace(load_settings(), time_scale=time_scale)


# -- SMTP server with AUTH (the plain servers live in tests/support/servers.py) ------------------------


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def smtp_auth_server() -> Iterator[SmtpServer]:
    # Plain-text AUTH is fine on loopback; it keeps the test free of certificates.
    controller, server = start_smtp(authenticator=_authenticate, auth_required=True, auth_require_tls=False)
    yield server
    controller.stop()
