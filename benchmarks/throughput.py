"""Throughput: N events through event run → task run → one echo action, against bare Temporal.

Both run in the same invocation on the same freshly started embedded dev server (WAL, one
partition, fairness), each with one worker process of its own:
  * bare:    a workflow running three trivial activities in sequence with the same priority
             keys (event 3, task 2, action 1) — the same activity shape without Ratchet's work;
  * ratchet: the real engine (ledger writes, Liquid render, action registry).
Events/s = N / (last action done − first start); latency = action done − start, per event.
CPU-ms per event is each process's user+system CPU over its phase divided by N.

    uv run python benchmarks/throughput.py [--events 300] [--concurrency 50] [--ledger sqlite|postgresql]
                                           [--profile worker.txt]

`--ledger postgresql` puts the ledger in a fresh database on the PostgreSQL server at
RATCHET_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432), dropped afterwards.
`--profile FILE` samples the Ratchet worker during its phase with py-spy and writes the collapsed
stacks there (one line per stack, sample count last), for flame graphs or per-function totals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.common import Priority

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bare import BARE_QUEUE, BareEventWorkflow
from ratchet.config import Settings, load_settings
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.connection import connect
from ratchet.engine.devserver import DevServer, free_port
from ratchet.store.database import get_store
from ratchet.store.secrets import generate_key
from ratchet.store.tables import Run
from starter.api import Ratchet

BENCH_TOPIC = "user/bench/go"
BENCH_TASK = {
    "name": "Bench",
    "script": '{% action "echo", i: event.data.i %}',
    "options": {},
    "subscriptions": [BENCH_TOPIC],
    "subscriptions_template": BENCH_TOPIC,
    "docs": "",
}


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux), to show where a phase spent its work."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def ledger_database(kind: str, home: Path) -> Iterator[str]:
    """The ledger's database URL for this run: a file in `home`, or a throwaway PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{home / 'ratchet.db'}"
        return
    server = os.environ.get("RATCHET_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    name = f"ratchet_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/test", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/test", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def sampled(pid: int, output: Path | None) -> Iterator[None]:
    """Sample `pid` with py-spy (non-blocking, so the worker is not slowed) while the block runs."""
    if output is None:
        yield
        return
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--nonblocking", "--rate", "200", "-o", str(output)],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        spy.wait()


async def start_engine(home: Path, database_url: str) -> tuple[DevServer, Settings, dict[str, str]]:
    """A fresh embedded dev server on free ports, its settings, and the environment for worker processes."""
    server = DevServer(db_path=home / "temporal.db", port=free_port(), ui_port=None, log_path=home / "temporal.log")
    await server.start()
    # A ledger given by URL needs a key for stored secrets, in this process and the workers alike.
    os.environ.setdefault("RATCHET_SECRET_KEY", generate_key())
    settings = load_settings(home=home, database_url=database_url, shop="default", temporal={"address": server.address})
    env = {
        **os.environ,
        "RATCHET_HOME": str(home),
        "RATCHET_DATABASE_URL": settings.effective_database_url,
        "RATCHET_TEMPORAL_ADDRESS": server.address,
    }
    return server, settings, env


@asynccontextmanager
async def bench_api(settings: Settings) -> AsyncIterator[Ratchet]:
    """The Python API on the benchmark's ledger, with the benchmark task imported."""
    store = get_store(settings.effective_database_url)
    try:
        api = Ratchet(settings, store, await connect(settings))
        await api.tasks.import_(BENCH_TASK)
        yield api
    finally:
        store.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bounded(concurrency: int, jobs: list) -> list:
    gate = asyncio.Semaphore(concurrency)

    async def run(job):
        async with gate:
            return await job()

    return await asyncio.gather(*(run(j) for j in jobs))


async def measure_bare(address: str, n: int, concurrency: int) -> dict:
    client = await Client.connect(address)
    starts: dict[str, datetime] = {}

    async def start(i: int):
        wid = f"bare-{i}-{time.time_ns()}"
        starts[wid] = datetime.now(UTC)
        return await client.start_workflow(
            BareEventWorkflow.run, id=wid, task_queue=BARE_QUEUE, priority=Priority(priority_key=3)
        )

    handles = await bounded(concurrency, [lambda i=i: start(i) for i in range(n)])
    finished = await asyncio.gather(*(h.result() for h in handles))
    done = {h.id: datetime.fromisoformat(f) for h, f in zip(handles, finished, strict=False)}
    return summarize(starts, done)


async def measure_ratchet(api: Ratchet, n: int, concurrency: int) -> dict:
    """Send `n` events and wait for their actions (only these events' actions count)."""
    starts: dict[str, datetime] = {}

    async def send(i: int):
        at = datetime.now(UTC)
        event_id = await api.events.send(BENCH_TOPIC, {"i": i})
        starts[event_id] = at

    await bounded(concurrency, [lambda i=i: send(i) for i in range(n)])

    def finished() -> dict[str, datetime]:
        with api.store.session() as session:
            rows = session.exec(
                # Only these events: a poll must not cost more as earlier events pile up in the ledger.
                select(Run.event_id, Run.stopped_at).where(
                    col(Run.event_id).in_(list(starts)),
                    Run.kind == RunKind.action,
                    Run.state == RunState.succeeded,
                )
            ).all()
        return {event_id: stopped for event_id, stopped in rows if stopped is not None}

    while True:
        done = await asyncio.to_thread(finished)
        if len(done) >= n:
            return summarize(starts, done)
        await asyncio.sleep(0.5)


def summarize(starts: dict[str, datetime], done: dict[str, datetime]) -> dict:
    latencies = [(done[k] - starts[k]).total_seconds() for k in starts]
    span = (max(done.values()) - min(starts.values())).total_seconds()
    return {
        "events": len(starts),
        "events_per_s": round(len(starts) / span, 2),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
    }


def per_event_ms(cpu_s: dict[str, float], n: int) -> dict[str, float]:
    return {name: round(1000 * seconds / n, 1) for name, seconds in cpu_s.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--ledger", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--profile", type=Path, help="write py-spy collapsed stacks of the Ratchet worker here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ledger_database(args.ledger, Path(tmp)) as database_url:
        server, settings, env = await start_engine(Path(tmp), database_url)
        workers = [
            subprocess.Popen([sys.executable, "-m", "benchmarks.bare", server.address], env=env, cwd=REPO),
            subprocess.Popen([sys.executable, "worker.py"], env=env, cwd=REPO),
        ]
        try:
            async with bench_api(settings) as api:
                await asyncio.sleep(2)  # let both workers start polling
                # Warm-up: first-use costs (connections, sandbox imports) are not throughput.
                await measure_bare(server.address, 10, args.concurrency)
                await measure_ratchet(api, 10, args.concurrency)
                assert server.process is not None
                pids = {"server": server.process.pid, "bare_worker": workers[0].pid, "ratchet_worker": workers[1].pid}
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                bare = await measure_bare(server.address, args.events, args.concurrency)
                middle = {name: cpu_seconds(pid) for name, pid in pids.items()}
                with sampled(workers[1].pid, args.profile):
                    ours = await measure_ratchet(api, args.events, args.concurrency)
                after = {name: cpu_seconds(pid) for name, pid in pids.items()}
                bare["cpu_ms_per_event"] = per_event_ms(
                    {
                        "server": middle["server"] - before["server"],
                        "worker": middle["bare_worker"] - before["bare_worker"],
                    },
                    args.events,
                )
                ours["cpu_ms_per_event"] = per_event_ms(
                    {
                        "server": after["server"] - middle["server"],
                        "worker": after["ratchet_worker"] - middle["ratchet_worker"],
                    },
                    args.events,
                )
        finally:
            for proc in workers:
                proc.terminate()
                proc.wait()
            server.stop()
    ratio = ours["events_per_s"] / bare["events_per_s"]
    print(json.dumps({"ledger": args.ledger, "bare_temporal": bare, "ratchet": ours}, indent=2))
    cpu = ours["cpu_ms_per_event"]
    bare_cpu = bare["cpu_ms_per_event"]
    print(
        f"CPU-ms per event: worker {cpu['worker']} vs bare {bare_cpu['worker']}, "
        f"server {cpu['server']} vs bare {bare_cpu['server']}"
    )
    print(
        f"ratchet ({args.ledger}) {ours['events_per_s']} events/s vs bare Temporal {bare['events_per_s']} "
        f"workflows/s: ratio {ratio:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
