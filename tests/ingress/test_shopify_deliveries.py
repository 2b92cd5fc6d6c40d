"""Shopify deliveries: verified, topic-mapped, deduplicated by X-Shopify-Event-Id, durable before 200."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from ratchet.config import Settings
from ratchet.core.runs import RunKind, RunState
from ratchet.ingress.signatures import signature
from ratchet.store.tables import Event
from starter.api import Ratchet
from tests.support.ingress import (
    SHOPIFY_SECRET,
    Ingress,
    count_events,
    running_ingress,
    shopify_body,
    shopify_headers,
)
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs


@pytest.fixture
async def shopify_shop(api: Ratchet, shop: str) -> str:
    await api.shops.set(shop, webhook_secret=SHOPIFY_SECRET)
    return shop


async def test_verified_webhook_becomes_a_shopify_event_that_runs(
    api: Ratchet, shopify_shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    await add_task(api, "Order echo", '{% action "echo", name: order.name %}', ["shopify/orders/create"])
    body = shopify_body({"id": 1, "name": "#1001"})
    response = await http.post(
        f"{ingress.url}/webhooks/shopify/{shopify_shop}", content=body, headers=shopify_headers(body)
    )
    assert response.status_code == 200, response.text
    event_id = response.json()["event_id"]
    # Durable before the 200: the event row exists and its workflow has started.
    with api.store.session() as session:
        event = session.get(Event, event_id)
    assert event is not None and event.topic == "shopify/orders/create" and event.source == "shopify"
    await api.client.get_workflow_handle(event.workflow_id).describe()
    runs = await wait_for_runs(api, event_id, settled(1))
    (action,) = of_kind(runs, RunKind.action)
    assert action.state == RunState.succeeded
    assert (await api.runs.get(action.id)).result == {"name": "#1001"}


async def test_redelivery_with_the_same_event_id_creates_no_second_event(
    api: Ratchet, shopify_shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    body = shopify_body({"id": 2})
    headers = shopify_headers(body, event_id=str(uuid.uuid4()))
    url = f"{ingress.url}/webhooks/shopify/{shopify_shop}"
    # Concurrent and sequential redeliveries alike.
    responses = await asyncio.gather(*(http.post(url, content=body, headers=headers) for _ in range(5)))
    responses.append(await http.post(url, content=body, headers=headers))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["event_id"] for r in responses}) == 1
    # Which concurrent copy "won" is a race; a later redelivery is always reported as one.
    assert responses[-1].json()["duplicate"] is True
    assert count_events(api.store, shopify_shop) == 1


@pytest.mark.parametrize(
    ("mutate", "status", "message"),
    [
        (lambda body, h: h.update({"x-shopify-hmac-sha256": signature("wrong", body)}), 401, "Hmac"),
        (lambda body, h: h.pop("x-shopify-hmac-sha256"), 401, "Hmac"),
        (lambda body, h: h.update({"x-shopify-hmac-sha256": "%%%not-base64"}), 401, "Hmac"),
        (lambda body, h: h.update({"x-shopify-topic": "Orders/../create"}), 400, "X-Shopify-Topic"),
        (lambda body, h: h.pop("x-shopify-topic"), 400, "X-Shopify-Topic"),
    ],
    ids=["wrong-secret", "no-hmac", "garbage-hmac", "bad-topic", "no-topic"],
)
async def test_rejected_deliveries_create_nothing(
    api: Ratchet, shopify_shop: str, ingress: Ingress, http: httpx.AsyncClient, mutate, status: int, message: str
) -> None:
    body = shopify_body({"id": 3})
    headers = shopify_headers(body)
    mutate(body, headers)
    response = await http.post(f"{ingress.url}/webhooks/shopify/{shopify_shop}", content=body, headers=headers)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert count_events(api.store, shopify_shop) == 0


async def test_invalid_json_is_400_after_a_valid_signature(
    api: Ratchet, shopify_shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    body = b'{"id": 4,'
    response = await http.post(
        f"{ingress.url}/webhooks/shopify/{shopify_shop}", content=body, headers=shopify_headers(body)
    )
    assert response.status_code == 400 and "invalid JSON" in response.json()["error"]["message"]
    assert count_events(api.store, shopify_shop) == 0


async def test_unknown_shop_is_404_and_shop_without_secret_is_401(
    api: Ratchet, shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    body = shopify_body({})
    response = await http.post(
        f"{ingress.url}/webhooks/shopify/no-such-shop", content=body, headers=shopify_headers(body)
    )
    assert response.status_code == 404 and response.json()["error"]["status"] == 404
    response = await http.post(f"{ingress.url}/webhooks/shopify/{shop}", content=body, headers=shopify_headers(body))
    assert response.status_code == 401 and "no webhook secret" in response.json()["error"]["message"]


async def test_oversized_bodies_are_413_declared_or_streamed(
    api: Ratchet, shopify_shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    limit = ingress.config.max_body_bytes
    body = b"x" * (limit + 1)
    url = f"{ingress.url}/webhooks/shopify/{shopify_shop}"
    declared = await http.post(url, content=body, headers=shopify_headers(body))
    assert declared.status_code == 413 and "RATCHET_MAX_BODY_BYTES" in declared.json()["error"]["message"]

    async def chunks():  # no Content-Length: chunked transfer, caught while reading
        for _ in range(limit // 65536 + 2):
            yield b"y" * 65536

    streamed = await http.post(url, content=chunks(), headers={k: v for k, v in shopify_headers(b"").items()})
    assert streamed.status_code == 413
    assert count_events(api.store, shopify_shop) == 0


async def test_a_refused_workflow_start_is_503_and_leaves_no_event(
    api: Ratchet, shopify_shop: str, base_settings: Settings, http: httpx.AsyncClient
) -> None:
    # A namespace the server does not have: the row is written, the start is refused.
    refusing = Client(api.client.service_client, namespace="no-such-namespace", data_converter=pydantic_data_converter)
    async with running_ingress(base_settings, api.store, refusing) as ingress:
        body = shopify_body({"id": 5})
        response = await http.post(
            f"{ingress.url}/webhooks/shopify/{shopify_shop}", content=body, headers=shopify_headers(body)
        )
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "retry later" in response.json()["error"]["message"]
    # The sender's retry will find nothing half-made that could swallow it as a duplicate.
    assert count_events(api.store, shopify_shop) == 0


async def test_a_delivery_waits_out_another_writers_lock_without_stalling_the_ingress(
    api: Ratchet, shopify_shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    if not api.store.is_sqlite:
        pytest.skip("SQLite's write lock: PostgreSQL writers do not lock each other out")
    body = shopify_body({"id": 6})
    with api.store.engine.connect() as other_writer:
        other_writer.exec_driver_sql("BEGIN IMMEDIATE")  # holds SQLite's write lock
        delivery = asyncio.create_task(
            http.post(f"{ingress.url}/webhooks/shopify/{shopify_shop}", content=body, headers=shopify_headers(body))
        )
        await asyncio.sleep(0.5)
        # Waiting on the lock, yet the ingress still answers everything else.
        assert not delivery.done()
        assert (await http.get(f"{ingress.url}/healthz")).status_code == 200
        other_writer.exec_driver_sql("ROLLBACK")
    response = await delivery
    assert response.status_code == 200, response.text
    assert count_events(api.store, shopify_shop) == 1
