"""Ingress benchmark: durable webhook acceptance vs raw `start_workflow`, and latency to first action vs bare.

    uv run python benchmarks/ingress.py [--requests 600] [--rounds 4] [--concurrency 32]
                                        [--latency-samples 30] [--profile ingress.txt]

Starts its own Temporal dev server (same settings as `ratchet dev`), runs `ratchet serve`,
`worker.py` and the bare worker (benchmarks/bare.py) as separate processes, and drives them
from this process over loopback:

1. latency, unloaded (nothing else queued), one request at a time, Ratchet and bare samples
   alternating so both see the same machine: Ratchet from sending a signed webhook to its
   action run's `stopped_at` in the ledger; bare from `start_workflow` to the end of the third
   of its three trivial activities (same priority keys: 3, 2, 1). Both ends are timestamps
   taken in the worker, so how this process notices the end does not count.
2. raw: `start_workflow` calls with every option an event's start carries (search attributes,
   priority, the Web UI's summary and details) on a queue no worker polls;
3. accepted: signed Shopify webhooks to the ingress, each answered only once its event row is
   written and its workflow started — same server, same client process, same concurrency.
   The workers are stopped before 2, so nothing competes with the starts. 2 and 3 alternate
   in rounds (raw, accepted, accepted, raw, …): every start grows the server's database, and
   whichever side always ran second would always run on the larger one.

CPU-ms per request is each process's user+system CPU over its phase divided by the requests:
on a small machine the client's, the ingress's and the server's CPU come out of one budget.
So the webhooks are sent with aiohttp, whose client costs a tenth of httpx's CPU per request
(0.3 against 3.0 ms): with httpx the sender alone took more CPU than the ingress, and the
ratio measured the benchmark's load generator rather than Ratchet (Shopify sends from its
own machines).
`--profile FILE` samples the ingress's GIL holder with py-spy during phases 2–3 (collapsed
stacks, sample count last). The last two lines are the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlmodel import select
from temporalio.client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.common import Priority, WorkflowIDReusePolicy

from benchmarks.bare import BARE_QUEUE, BareEventWorkflow
from benchmarks.throughput import cpu_seconds, percentile, sampled
from ratchet.config import Settings, load_settings
from ratchet.core.runs import PRIORITY_EVENT, RunKind, RunState
from ratchet.engine.connection import connect
from ratchet.engine.contract import EventWorkflowInput
from ratchet.engine.devserver import DevServer, free_port
from ratchet.ingress.signatures import signature
from ratchet.services.events import event_workflow_options
from ratchet.store.database import Store, get_store
from ratchet.store.secrets import generate_key
from ratchet.store.tables import Run
from starter.api import Ratchet

SECRET = "bench-secret"
SHOP = "bench"
# Subscribed by the benchmark's task (latency); nothing subscribes to the throughput topic.
ACTION_TOPIC = "orders/create"
THROUGHPUT_TOPIC = "orders/updated"
WARM_UP_LATENCY_SAMPLES = 3


async def _burst(n: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> float:
    """Seconds to make `n` calls of `one`, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(n)))
    return time.perf_counter() - started


@dataclass
class Phase:
    """One side of the throughput comparison, measured over several bursts."""

    one: Callable[[int], Awaitable[object]]
    pids: dict[str, int]
    requests: int = 0
    seconds: float = 0.0
    cpu_used: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    async def burst(self, n: int, concurrency: int) -> None:
        before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.seconds += await _burst(n, concurrency, self.one)
        for name, pid in self.pids.items():
            self.cpu_used[name] += cpu_seconds(pid) - before[name]
        self.requests += n

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> dict[str, float]:
        return {name: round(1000 * used / self.requests, 2) for name, used in self.cpu_used.items()}


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


async def _action_stopped(store: Store, event_id: str, timeout: float = 60) -> float:
    """Epoch seconds at which the event's action run stopped, as the worker recorded it."""
    query = select(Run.stopped_at).where(
        Run.event_id == event_id, Run.kind == RunKind.action, Run.state == RunState.succeeded
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.session() as session:
            stopped = session.exec(query).first()
        if stopped is not None:
            return stopped.timestamp()
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no finished action for event {event_id}")


def _latency_summary(latencies: list[float]) -> str:
    return (
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )


@dataclass
class Bench:
    """The benchmark's own dev server, ledger and shop, and the processes it runs against them."""

    home: Path
    server: DevServer
    settings: Settings
    store: Store
    client: Client
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['RATCHET_HTTP_PORT']}"

    def spawn(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        with (self.home / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        process.wait(timeout=30)
        self.processes.remove(process)

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process)
        self.server.stop()


async def start_bench() -> Bench:
    """A fresh home: dev server, SQLite ledger, the shop and its one-action task."""
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
            "subscriptions": [f"shopify/{ACTION_TOPIC}"],
            "subscriptions_template": f"shopify/{ACTION_TOPIC}",
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
    return Bench(home, server, settings, store, client, env)


def webhook_sender(http: aiohttp.ClientSession, url: str) -> Callable[[int, str], Awaitable[dict[str, Any]]]:
    """Sends signed Shopify webhooks to the ingress; each returns the ingress's answer."""

    async def webhook(i: int, topic: str) -> dict[str, Any]:
        body = f'{{"id": {i}}}'.encode()
        headers = {
            "content-type": "application/json",
            "x-shopify-topic": topic,
            "x-shopify-event-id": str(uuid.uuid4()),
            "x-shopify-hmac-sha256": signature(SECRET, body),
        }
        async with http.post(f"{url}/webhooks/shopify/{SHOP}", data=body, headers=headers) as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json()
            return answer

    return webhook


async def measure_latency(
    bench: Bench, webhook: Callable[[int, str], Awaitable[dict[str, Any]]], samples: int
) -> tuple[list[float], list[float]]:
    """Phase 1, unloaded: seconds to the first action for Ratchet and bare, samples alternating."""
    worker = bench.spawn("worker", sys.executable, "worker.py")
    bare_worker = bench.spawn("bare-worker", sys.executable, "-m", "benchmarks.bare", bench.server.address)

    async def ratchet_latency(i: int) -> float:
        sent = time.time()
        event_id = (await webhook(i, ACTION_TOPIC))["event_id"]
        return await _action_stopped(bench.store, event_id, timeout=120) - sent

    async def bare_latency(i: int) -> float:
        sent = time.time()
        handle = await bench.client.start_workflow(
            BareEventWorkflow.run,
            id=f"bare/{uuid.uuid4()}",
            task_queue=BARE_QUEUE,
            priority=Priority(priority_key=PRIORITY_EVENT),
        )
        return datetime.fromisoformat(await handle.result()).timestamp() - sent

    # Warm-ups: both workers polling, first-use costs (imports, connections) paid.
    for i in range(WARM_UP_LATENCY_SAMPLES):
        await ratchet_latency(-1 - i)
        await bare_latency(-1 - i)
    ratchet_latencies, bare_latencies = [], []
    for i in range(samples):
        ratchet_latencies.append(await ratchet_latency(i))
        bare_latencies.append(await bare_latency(i))
    bench.stop(worker)
    bench.stop(bare_worker)
    return ratchet_latencies, bare_latencies


def raw_starter(bench: Bench) -> Callable[[int], Awaitable[None]]:
    """Phase 2's request: a raw `start_workflow` with every option an event's start carries."""

    async def raw(i: int) -> None:
        event_id = str(uuid.uuid4())
        event = {
            "id": event_id,
            "shop_id": SHOP,
            "topic": f"shopify/{THROUGHPUT_TOPIC}",
            "source": "shopify",
            "parent_id": None,
        }
        await bench.client.start_workflow(
            "EventWorkflow",
            EventWorkflowInput(
                event_id=event_id, event_run_id=event_id, shop_id=SHOP, topic=event["topic"], closes_when_settled=True
            ),
            id=f"raw/{event_id}",
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            **{**event_workflow_options(bench.settings, event, RunState.due), "task_queue": "bench-raw"},
        )

    return raw


async def measure_rates(
    bench: Bench,
    webhook: Callable[[int, str], Awaitable[dict[str, Any]]],
    ingress: subprocess.Popen[bytes],
    args: argparse.Namespace,
) -> tuple[Phase, Phase]:
    """Phases 2 and 3 in alternating rounds: raw starts against webhooks accepted durably."""

    async def accepted(i: int) -> None:
        await webhook(i, THROUGHPUT_TOPIC)

    raw = raw_starter(bench)
    # Every connection of both sides open before either is timed.
    await _burst(args.concurrency, args.concurrency, raw)
    await _burst(args.concurrency, args.concurrency, accepted)
    assert bench.server.process is not None
    client_and_server = {"client": os.getpid(), "server": bench.server.process.pid}
    raw_phase = Phase(raw, client_and_server)
    accepted_phase = Phase(accepted, {**client_and_server, "ingress": ingress.pid})
    with sampled(ingress.pid, args.profile):
        for round_ in range(args.rounds):
            # ABBA order: the server's database grows with every start, and neither side may
            # always run on the larger one.
            for phase in (raw_phase, accepted_phase) if round_ % 2 == 0 else (accepted_phase, raw_phase):
                await phase.burst(args.requests // args.rounds, args.concurrency)
    return raw_phase, accepted_phase


def report(args: argparse.Namespace, latencies: tuple[list[float], list[float]], raw: Phase, accepted: Phase) -> None:
    ratchet_latencies, bare_latencies = latencies
    ratchet_p50, bare_p50 = statistics.median(ratchet_latencies), statistics.median(bare_latencies)
    print(
        f"machine: {os.cpu_count()} CPUs; dev server SQLite WAL, 1 partition, fairness on; "
        f"{args.requests} requests each side in {args.rounds} alternating rounds, concurrency {args.concurrency}; "
        f"{args.latency_samples} sequential latency samples each"
    )
    print(f"raw start_workflow:          {raw.rate:7.1f} starts/s    CPU-ms per start {raw.cpu_ms_per_request}")
    print(
        f"webhooks accepted durably:   {accepted.rate:7.1f} requests/s  "
        f"CPU-ms per request {accepted.cpu_ms_per_request}"
    )
    print(f"latency to first action:     Ratchet {_latency_summary(ratchet_latencies)}")
    print(f"bare workflow, 3 activities: bare    {_latency_summary(bare_latencies)}")
    print(f"ratio accepted / raw:        {accepted.rate / raw.rate:7.2f}")
    print(f"ratio latency p50 Ratchet / bare: {ratchet_p50 / bare_p50:.2f}")


async def main(args: argparse.Namespace) -> None:
    bench = await start_bench()
    try:
        ingress = bench.spawn("ingress", str(Path(sys.executable).parent / "ratchet"), "serve")
        await _wait_http(f"{bench.url}/healthz")
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60), connector=aiohttp.TCPConnector(limit=args.concurrency)
        ) as http:
            webhook = webhook_sender(http, bench.url)
            # 1. latency, unloaded: the first thing this server sees besides the warm-ups.
            latencies = await measure_latency(bench, webhook, args.latency_samples)
            raw, accepted = await measure_rates(bench, webhook, ingress, args)
    finally:
        bench.stop_all()
    # Kept when something failed, for its logs; removed on success.
    shutil.rmtree(bench.home, ignore_errors=True)
    report(args, latencies, raw, accepted)
    sys.stdout.flush()
    os._exit(0)  # temporalio/sdk-python#300: never let interpreter teardown turn success into a crash


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=4, help="alternating raw/accepted bursts the requests split into")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--profile", type=Path, help="write py-spy collapsed stacks of the ingress here")
    asyncio.run(main(parser.parse_args()))
