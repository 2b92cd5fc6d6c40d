"""Ingress benchmark: durable webhook acceptance vs raw `start_workflow`, and latency to first action.

    uv run python benchmarks/ingress.py [--requests 600] [--concurrency 32] [--latency-samples 30]

Starts its own Temporal dev server (same settings as `ratchet dev`), runs `ratchet serve` and
`worker.py` as separate processes, and loads them from this process over loopback:

1. raw: `start_workflow` calls (the event workflow's options) on a queue no worker polls;
2. accepted: signed Shopify webhooks to the ingress, each answered only once its event row is
   written and its workflow started — same server, same concurrency, also unpolled;
3. latency: one webhook at a time with a worker running, from sending the request to the
   action run's completion in the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from ratchet.config import load_settings
from ratchet.core.runs import (
    PRIORITY_EVENT,
    RunKind,
    RunState,
)
from ratchet.engine.connection import connect
from ratchet.engine.contract import (
    RUN_STATE,
    SHOP_ID,
    TOPIC,
    EventWorkflowInput,
)
from ratchet.engine.devserver import DevServer, free_port
from ratchet.ingress.webhooks import signature
from ratchet.store.database import Store, get_store
from ratchet.store.secrets import generate_key
from ratchet.store.tables import Run
from starter.api import Ratchet

SECRET = "bench-secret"
SHOP = "bench"


async def _burst(n: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(n)))
    return n / (time.perf_counter() - started)


async def _wait_http(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def main(requests: int, concurrency: int, samples: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="ratchet-bench-"))
    server = DevServer(db_path=home / "temporal.db", port=free_port(), ui_port=None, log_path=home / "temporal.log")
    await server.start()
    # A ledger given by URL needs a key for stored secrets, in this process and `ratchet serve` alike.
    os.environ.setdefault("RATCHET_SECRET_KEY", generate_key())
    settings = load_settings(
        home=home,
        database_url=f"sqlite:///{home / 'ratchet.db'}",
        shop=SHOP,
        temporal={"address": server.address, "task_queue": "bench"},
    )
    client = await connect(settings)
    store = get_store(settings.effective_database_url)
    api = Ratchet(settings, store, client)
    await api.shops.add(SHOP, timezone_name="UTC", webhook_secret=SECRET)
    await api.tasks.import_(
        {
            "name": "Bench",
            "script": '{% action "echo", id: order.id %}',
            "subscriptions": ["shopify/orders/create"],
            "subscriptions_template": "shopify/orders/create",
            "options": {},
        }
    )
    env = {
        **os.environ,
        "RATCHET_DATABASE_URL": settings.effective_database_url,
        "RATCHET_TEMPORAL_ADDRESS": server.address,
        "RATCHET_TASK_QUEUE": settings.temporal.task_queue,
        "RATCHET_HTTP_PORT": str(free_port()),
        "RATCHET_HOME": str(home),
    }
    url = f"http://127.0.0.1:{env['RATCHET_HTTP_PORT']}"
    ratchet = str(Path(sys.executable).parent / "ratchet")
    ingress = subprocess.Popen([ratchet, "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    worker: subprocess.Popen[bytes] | None = None
    try:
        await _wait_http(f"{url}/healthz")

        # 1. raw start_workflow rate, with the options EventService uses.
        async def raw(i: int) -> None:
            event_id = str(uuid.uuid4())
            await client.start_workflow(
                "EventWorkflow",
                EventWorkflowInput(
                    event_id=event_id, event_run_id=event_id, shop_id=SHOP, topic="shopify/orders/updated"
                ),
                id=f"raw/{event_id}",
                task_queue="bench-raw",
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SHOP_ID, SHOP),
                        SearchAttributePair(TOPIC, "shopify/orders/updated"),
                        SearchAttributePair(RUN_STATE, "Due"),
                    ]
                ),
                priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=SHOP),
            )

        raw_rate = await _burst(requests, concurrency, raw)

        # 2. webhooks accepted durably (no worker yet: nothing competes with the starts).
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as http:

            async def webhook(i: int, topic: str = "orders/updated") -> httpx.Response:
                body = f'{{"id": {i}}}'.encode()
                headers = {
                    "content-type": "application/json",
                    "x-shopify-topic": topic,
                    "x-shopify-event-id": str(uuid.uuid4()),
                    "x-shopify-hmac-sha256": signature(SECRET, body),
                }
                response = await http.post(f"{url}/webhooks/shopify/{SHOP}", content=body, headers=headers)
                response.raise_for_status()
                return response

            accepted_rate = await _burst(requests, concurrency, webhook)

            # 3. latency to the first action, one request at a time, worker running.
            worker = subprocess.Popen(
                [sys.executable, "worker.py"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            await webhook(-1, "orders/create")  # warm-up: the worker is polling once this completes
            await _action_done(store, None, timeout=120)
            latencies = []
            for i in range(samples):
                sent = time.time()
                event_id = (await webhook(i, "orders/create")).json()["event_id"]
                stopped = await _action_done(store, event_id)
                latencies.append(stopped - sent)
    finally:
        for process in (worker, ingress):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        server.stop()

    latencies.sort()
    print(
        f"machine: {os.cpu_count()} CPUs; dev server SQLite WAL, 1 partition, fairness on; {requests} requests, concurrency {concurrency}"
    )
    print(f"raw start_workflow:          {raw_rate:7.1f} starts/s")
    print(f"webhooks accepted durably:   {accepted_rate:7.1f} requests/s")
    print(f"ratio accepted / raw:        {accepted_rate / raw_rate:7.2f}")
    print(
        f"latency to first action:     p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms ({samples} sequential requests)"
    )
    sys.stdout.flush()
    os._exit(0)  # temporalio/sdk-python#300: never let interpreter teardown turn success into a crash


async def _action_done(store: Store, event_id: str | None, timeout: float = 60) -> float:
    """Wall-clock time (epoch seconds) the event's action run stopped (any action when event_id is None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.session() as session:
            query = select(Run).where(Run.kind == RunKind.action, Run.state == RunState.succeeded)
            if event_id is not None:
                query = query.where(Run.event_id == event_id)
            run = session.exec(query).first()
        if run is not None and run.stopped_at is not None:
            return run.stopped_at.timestamp()
        await asyncio.sleep(0.005)
    raise TimeoutError(f"no finished action for event {event_id}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-samples", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency, args.latency_samples))
