"""Mechanic webhooks: CLI-configured URLs that turn any HTTP request into a user/… event (spec 10.1)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from sqlmodel import select

from ratchet.core.runs import RunKind, RunState
from ratchet.ingress.signatures import signature
from ratchet.services.events import event_id_for
from ratchet.services.mechanic_webhooks import add_webhook
from ratchet.store.tables import Event
from starter.api import Ratchet
from tests.support.cli import ratchet
from tests.support.ingress import Ingress, count_events
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs


def _event_for_request(api: Ratchet, shop: str, request_id: str) -> Event:
    with api.store.session() as session:
        (event,) = session.exec(
            select(Event).where(Event.shop_id == shop, Event.webhook_request_id == request_id)
        ).all()
        return event


async def test_cli_adds_a_webhook_whose_url_makes_events_that_run(
    api: Ratchet, shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    await add_task(api, "Hook echo", '{% action "echo", got: event.data %}', ["user/order/received"])
    added = await ratchet(
        api.settings, api.settings.shop, "webhook", "add", "Orders in", "--topic", "user/order/received"
    )
    assert added.returncode == 0, added.stderr
    path = "/" + added.stdout.strip().splitlines()[-1].split("/", 3)[3]
    assert path.startswith("/webhooks/")

    response = await http.post(f"{ingress.url}{path}?source=erp&id=1", json={"id": 42, "lines": [1, 2]})
    assert response.status_code == 204 and response.content == b""
    request_id = response.headers["x-request-id"]
    event = _event_for_request(api, shop, request_id)
    assert event.topic == "user/order/received"
    # Auto mode: body params over query params.
    assert event.data == {"source": "erp", "id": 42, "lines": [1, 2]}
    runs = await wait_for_runs(api, event.id, settled(1))
    (action,) = of_kind(runs, RunKind.action)
    assert action.state == RunState.succeeded

    listed = await ratchet(api.settings, api.settings.shop, "webhook", "list", "--json")
    assert '"Orders in"' in listed.stdout
    removed = await ratchet(api.settings, api.settings.shop, "webhook", "remove", "Orders in")
    assert removed.returncode == 0, removed.stderr
    # Like Mechanic: 204 even for an unknown id, and no event.
    gone = await http.post(f"{ingress.url}{path}", json={"id": 43})
    assert gone.status_code == 204 and count_events(api.store, shop) == 1


async def test_cli_rejects_non_user_topics(api: Ratchet, shop: str) -> None:
    result = await ratchet(api.settings, api.settings.shop, "webhook", "add", "Bad", "--topic", "mechanic/user/trigger")
    assert result.returncode == 1 and "start with user/" in result.stderr


async def test_auto_mode_mappings(api: Ratchet, shop: str, ingress: Ingress, http: httpx.AsyncClient) -> None:
    hook = add_webhook(api.store, shop, "auto", "user/auto/mapped")
    url = f"{ingress.url}/webhooks/{hook.id}"
    cases: list[tuple[dict[str, Any], str, Any]] = [
        (
            {"content": b"a=1&b[]=x&b[]=y&c[d]=z", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            "",
            {"a": "1", "b": ["x", "y"], "c": {"d": "z"}},
        ),
        ({"content": b"[1, 2, 3]", "headers": {"content-type": "application/json"}}, "?q=1", [1, 2, 3]),
        ({"content": b"{broken json", "headers": {"content-type": "application/json"}}, "?q=1", {"q": "1"}),
        ({"content": b"{broken json", "headers": {"content-type": "application/json"}}, "", "{broken json"),
        ({"content": b"plain text body", "headers": {"content-type": "text/plain"}}, "", "plain text body"),
        ({"content": b""}, "", None),
        ({"json": {"q": "body"}}, "?q=query&r=2", {"q": "body", "r": "2"}),
    ]
    for kwargs, query, expected in cases:
        response = await http.post(url + query, **kwargs)
        assert response.status_code == 204, response.text
        assert _event_for_request(api, shop, response.headers["x-request-id"]).data == expected, kwargs


async def test_multipart_files_and_full_request_mode(
    api: Ratchet, shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    hook = add_webhook(api.store, shop, "full", "user/full/request", mode="full")
    content = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    response = await http.post(
        f"{ingress.url}/webhooks/{hook.id}?x=1&x=2",
        data={"note": "hello"},
        files={"upload": ("report.bin", content, "application/octet-stream")},
        headers={"X-Custom": "a"},
    )
    assert response.status_code == 204
    request_id = response.headers["x-request-id"]
    data = _event_for_request(api, shop, request_id).data
    upload = data["body"]["upload"]
    assert base64.b64decode(upload["content_base64"]) == content
    assert {k: upload[k] for k in ("mime_type", "name", "size")} == {
        "mime_type": "application/octet-stream",
        "name": "report.bin",
        "size": len(content),
    }
    assert data["body"]["note"] == "hello"
    assert data["mime_type"] == "multipart/form-data"
    assert data["query_string"] == "x=1&x=2" and data["query"] == {"x": "2"}
    assert data["headers"]["x-custom"] == ["a"] and data["client_ip"] == "127.0.0.1"
    assert data["request_id"] == request_id and data["webhook_id"] == hook.id
    assert base64.b64decode(data["body_base64"]).endswith(b"--\r\n")


async def test_signed_webhook_requires_a_valid_hmac_and_idempotency_key_dedupes(
    api: Ratchet, shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    hook = add_webhook(api.store, shop, "signed", "user/signed/thing", secret="s3cret")
    url = f"{ingress.url}/webhooks/{hook.id}"
    body = b'{"ok": true}'
    unsigned = await http.post(url, content=body)
    forged = await http.post(url, content=body, headers={"x-ratchet-hmac-sha256": signature("guess", body)})
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    assert "X-Ratchet-Hmac-SHA256" in unsigned.json()["error"]["message"]
    assert count_events(api.store, shop) == 0

    headers = {
        "x-ratchet-hmac-sha256": signature("s3cret", body),
        "content-type": "application/json",
        "idempotency-key": "order-7",
    }
    first, replay = [await http.post(url, content=body, headers=headers) for _ in range(2)]
    assert first.status_code == replay.status_code == 204
    assert first.headers["x-request-id"] == replay.headers["x-request-id"]
    assert count_events(api.store, shop) == 1
    event = _event_for_request(api, shop, first.headers["x-request-id"])
    assert event.id == event_id_for(shop, f"webhook:{hook.id}:{first.headers['x-request-id']}") and event.data == {
        "ok": True
    }


async def test_only_post_and_cors_preflight(api: Ratchet, shop: str, ingress: Ingress, http: httpx.AsyncClient) -> None:
    hook = add_webhook(api.store, shop, "methods", "user/method/check")
    url = f"{ingress.url}/webhooks/{hook.id}"
    assert (await http.get(url)).status_code == 405
    assert (await http.put(url, content=b"x")).status_code == 405
    preflight = await http.options(
        url, headers={"origin": "https://example.com", "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    assert count_events(api.store, shop) == 0
