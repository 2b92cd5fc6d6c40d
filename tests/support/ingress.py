"""The real ingress on a free loopback port, and helpers to talk to it like Shopify or a sender would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import func, select
from temporalio.client import Client

from ratchet.config import IngressSettings, Settings
from ratchet.engine.devserver import free_port
from ratchet.ingress.app import serve
from ratchet.ingress.signatures import signature
from ratchet.store.database import Store
from ratchet.store.tables import Event
from tests.support.waiting import until_answering

SHOPIFY_SECRET = "shpss_test_secret"


@dataclass(frozen=True)
class Ingress:
    url: str
    config: IngressSettings


@contextlib.asynccontextmanager
async def running_ingress(settings: Settings, store: Store, client: Client) -> AsyncIterator[Ingress]:
    """Uvicorn on a free loopback port, serving until the block ends."""
    config = settings.ingress.model_copy(update={"host": "127.0.0.1", "port": free_port()})
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings, store, client, stop, config))
    url = f"http://{config.host}:{config.port}"
    await until_answering(f"{url}/healthz")
    try:
        yield Ingress(url, config)
    finally:
        stop.set()
        await serving


@pytest.fixture(scope="session")
async def ingress(base_settings: Settings, store: Store, client: Client) -> AsyncIterator[Ingress]:
    async with running_ingress(base_settings, store, client) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


def shopify_headers(
    body: bytes, topic: str = "orders/create", event_id: str | None = None, secret: str = SHOPIFY_SECRET
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": signature(secret, body),
        "x-shopify-event-id": event_id or str(uuid.uuid4()),
        "x-shopify-shop-domain": "example.myshopify.com",
    }


def shopify_body(data: Any) -> bytes:
    return json.dumps(data).encode()


def count_events(store: Store, shop_id: str) -> int:
    with store.session() as session:
        return int(session.exec(select(func.count()).select_from(Event).where(Event.shop_id == shop_id)).one())
