"""The production topology on one machine.

The Temporal server, two `ratchet worker` and two `ratchet serve` processes, PostgreSQL as the
ledger. Webhooks flood through both ingress processes, one worker is SIGKILLed mid-flood, and
still every accepted event completes with exactly one Succeeded action run, the receiver can
drop every duplicate by its Idempotency-Key, and both workers did work.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select
from temporalio.client import Client

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.devserver import free_port
from ratchet.store.database import get_store
from ratchet.store.tables import Event, Run
from starter.api import Ratchet
from tests.support.cli import REPO
from tests.support.ingress import SHOPIFY_SECRET, shopify_body, shopify_headers
from tests.support.tasks import add_task
from tests.support.waiting import eventually

pytestmark = pytest.mark.reliability
EVENTS = 300
CONCURRENCY = 16
KILL_AFTER_ACTIONS = 60


class Receiver:
    """The action's target: answers 200 and remembers each request's Idempotency-Key."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.port = free_port()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)}
        await reader.readexactly(int(headers.get("content-length", "0")))
        self.keys.append(headers["idempotency-key"])
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


def _process(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "ratchet"), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _worker_identities(client: Client, workflow_ids: list[str]) -> Counter[str]:
    """Which worker process (pid@host) started each activity, from the event workflows' histories."""
    identities: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.HasField("activity_task_started_event_attributes"):
                identities[event.activity_task_started_event_attributes.identity] += 1
    return identities


async def test_two_workers_two_ingresses_on_postgres_survive_a_worker_kill(
    ratchet_api: Ratchet, postgres_url: str
) -> None:
    shop = f"prod-{uuid.uuid4().hex[:8]}"
    settings = ratchet_api.settings.updated(
        database_url=postgres_url, temporal={"task_queue": f"prod-{shop}"}, shop=shop
    )
    api = Ratchet(settings, get_store(postgres_url), ratchet_api.client)
    await api.shops.add(shop, timezone_name="UTC", webhook_secret=SHOPIFY_SECRET)
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", receiver.port)
    url = f"http://127.0.0.1:{receiver.port}/orders"
    await add_task(
        api,
        "Notify",
        f'{{% action "http", method: "post", url: "{url}", body: event.data %}}',
        ["shopify/orders/create"],
    )

    env = {
        **os.environ,
        "RATCHET_TEMPORAL_ADDRESS": settings.effective_temporal_address,
        "RATCHET_DATABASE_URL": postgres_url,
        "RATCHET_TASK_QUEUE": settings.temporal.task_queue,
        "RATCHET_TIME_SCALE": str(settings.time_scale),
        "RATCHET_LOG_LEVEL": "WARNING",
    }
    workers = [_process(env, "worker") for _ in range(2)]
    ingress_ports = [free_port(), free_port()]
    ingresses = [_process(env, "serve", "--port", str(port)) for port in ingress_ports]
    try:
        async with httpx.AsyncClient(timeout=60) as http:

            async def ingresses_up() -> bool:
                try:
                    answers = [await http.get(f"http://127.0.0.1:{port}/healthz") for port in ingress_ports]
                except httpx.TransportError:
                    return False
                return all(answer.status_code == 200 for answer in answers)

            await eventually(ingresses_up)
            gate = asyncio.Semaphore(CONCURRENCY)

            async def send(n: int) -> str | None:
                body = shopify_body({"id": n})
                async with gate:
                    answer = await http.post(
                        f"http://127.0.0.1:{ingress_ports[n % 2]}/webhooks/shopify/{shop}",
                        content=body,
                        headers=shopify_headers(body, event_id=f"order-{n}"),
                    )
                return answer.json()["event_id"] if answer.status_code == 200 else None

            async def flood_under_way() -> bool:
                return len(receiver.keys) >= KILL_AFTER_ACTIONS

            async def kill_mid_flood() -> None:
                await eventually(flood_under_way, timeout=120)
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()

            killer = asyncio.create_task(kill_mid_flood())
            accepted = [event_id for event_id in await asyncio.gather(*(send(n) for n in range(EVENTS))) if event_id]
            await killer

        def completed() -> list[Run] | None:
            with api.store.session() as session:
                runs = list(session.exec(select(Run).where(Run.shop_id == shop)))
            done = all(run.state in (RunState.succeeded, RunState.failed) for run in runs)
            actions = [run for run in runs if run.kind == RunKind.action]
            return runs if done and len(actions) == len(accepted) else None

        runs = await eventually(lambda: asyncio.to_thread(completed), timeout=300)
        with api.store.session() as session:
            workflow_ids = list(session.exec(select(Event.workflow_id).where(col(Event.shop_id) == shop)))
        identities = await _worker_identities(api.client, workflow_ids)
    finally:
        for process in workers + ingresses:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        server.close()

    actions = [run for run in runs if run.kind == RunKind.action]
    per_event = Counter(run.event_id for run in actions)
    print(
        f"\nproduction topology: {len(accepted)}/{EVENTS} webhooks accepted through 2 ingresses, "
        f"{len(actions)} action runs, {Counter(run.state.value for run in actions)}; "
        f"receiver got {len(receiver.keys)} requests with {len(set(receiver.keys))} distinct Idempotency-Keys; "
        f"activities per worker: {dict(identities)}"
    )
    assert len(accepted) == EVENTS
    assert set(per_event) == set(accepted) and set(per_event.values()) == {1}  # one action run per event
    assert all(run.state == RunState.succeeded and run.ok for run in runs)
    assert set(receiver.keys) == {run.id for run in actions}  # duplicates carry their run's key
    worker_pids = {str(process.pid) for process in workers}
    assert {identity.split("@", 1)[0] for identity in identities} >= worker_pids  # both did work
