"""A burst of 2,000 Shopify webhooks (plus redeliveries) through the real ingress.

Every one is accounted for — one event, one workflow, one finished event run each — and none
duplicated.
"""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest
from sqlmodel import func, select

from ratchet.core.runs import RunKind, RunState
from ratchet.store.tables import Run
from starter.api import Ratchet
from tests.support.ingress import SHOPIFY_SECRET, count_events, running_ingress, shopify_body, shopify_headers
from tests.support.waiting import eventually
from worker import build_worker

pytestmark = pytest.mark.reliability
BURST = 2000
REDELIVERIES = 200
CONCURRENCY = 64


async def test_burst_of_webhooks_is_fully_accounted_for(ratchet_api: Ratchet) -> None:
    shop = f"burst-{uuid.uuid4().hex[:8]}"
    settings = ratchet_api.settings.updated(shop=shop, temporal={"task_queue": f"burst-{shop}"})
    api = Ratchet(settings, ratchet_api.store, ratchet_api.client)
    await api.shops.add(shop, timezone_name="UTC", webhook_secret=SHOPIFY_SECRET)
    deliveries = [(str(uuid.uuid4()), shopify_body({"id": n})) for n in range(BURST)]
    # Shopify redelivers some webhooks, sometimes while the first delivery is still in flight.
    sends = deliveries + random.Random(7).sample(deliveries, REDELIVERIES)
    random.Random(8).shuffle(sends)
    gate = asyncio.Semaphore(CONCURRENCY)

    async with (
        running_ingress(settings, api.store, api.client) as ingress,
        build_worker(api.client, settings, api.store),
    ):
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=CONCURRENCY)) as http:

            async def send(event_key: str, body: bytes) -> tuple[str, int, str | None]:
                async with gate:
                    response = await http.post(
                        f"{ingress.url}/webhooks/shopify/{shop}",
                        content=body,
                        headers=shopify_headers(body, event_id=event_key),
                    )
                return (
                    event_key,
                    response.status_code,
                    response.json().get("event_id") if response.status_code == 200 else None,
                )

            started = asyncio.get_running_loop().time()
            results = await asyncio.gather(*(send(key, body) for key, body in sends))
            accepted_in = asyncio.get_running_loop().time() - started

        def finished_event_runs() -> int:
            with api.store.session() as session:
                return int(
                    session.exec(
                        select(func.count()).where(
                            Run.shop_id == shop, Run.kind == RunKind.event, Run.state == RunState.succeeded
                        )
                    ).one()
                )

        await eventually(lambda: asyncio.to_thread(lambda: finished_event_runs() == BURST), timeout=600, interval=1)

    statuses = {status for _, status, _ in results}
    ids_by_key: dict[str, set[str | None]] = {}
    for key, _, event_id in results:
        ids_by_key.setdefault(key, set()).add(event_id)
    workflows = (await api.client.count_workflows(f"ShopId='{shop}'")).count
    print(
        f"\ningress burst: {len(sends)} requests ({BURST} unique + {REDELIVERIES} redeliveries) accepted in {accepted_in:.1f} s "
        f"({len(sends) / accepted_in:.0f}/s); HTTP statuses {sorted(statuses)}; events {count_events(api.store, shop)}; "
        f"event workflows {workflows}; finished event runs {finished_event_runs()}"
    )
    assert statuses == {200}
    assert all(len(ids) == 1 for ids in ids_by_key.values())  # a redelivery names the same event
    assert len({next(iter(ids)) for ids in ids_by_key.values()}) == BURST
    assert count_events(api.store, shop) == BURST
    assert await eventually(lambda: _count(api, shop), timeout=30) == BURST


async def _count(api: Ratchet, shop: str) -> int | None:
    # Visibility is eventually consistent; wait for it to catch up rather than read it once.
    count = (await api.client.count_workflows(f"ShopId='{shop}'")).count
    return count if count == BURST else None
