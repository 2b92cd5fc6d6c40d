"""Storage and the cost of history: database size per 1,000 events, and what N settled events cost.

An event's workflow closes once its runs settle (its runs stay retryable in the ledger), so a
busy shop leaves Temporal thousands of closed histories, kept for the namespace retention, and
the ledger thousands of rows. One freshly started embedded dev server (free ports, temporary
RATCHET_HOME) and one Ratchet worker process; every event goes event run → task run → one echo
action (benchmarks/throughput.py's task):

  1. a batch of new events on an empty home: events/s and latency;
  2. N more events, in chunks each completed before the next; after each chunk: event workflows
     still open (Temporal's count; 0 once settled), RSS of the dev server and the worker
     (VmRSS), the worker's workflow cache (the SDK's sticky cache gauge), and the databases on
     disk;
  3. a pause with nothing sent (CPU use of both processes; measured at the start too), then the
     same batch of new events after N.

Size per 1,000 events = growth during step 2 / N × 1,000. SQLite is measured as files on disk
(database, WAL and shared-memory index); a `--ledger postgresql` ledger as the sum of
`pg_total_relation_size` (tables with their indexes and TOAST) in a fresh database. The last line
is the new-event throughput after N events over that on the empty home.

    uv run python benchmarks/storage.py [--events 10000] [--batch 200] [--chunk 1000]
                                        [--concurrency 50] [--ledger sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from temporalio.client import Client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.throughput import bench_api, cpu_seconds, ledger_database, measure_ratchet, start_engine, summarize
from ratchet.engine.contract import EVENT_WORKFLOW
from ratchet.engine.devserver import free_port

T = TypeVar("T")
MB = 1024 * 1024
OPEN_EVENT_WORKFLOWS = f"WorkflowType = '{EVENT_WORKFLOW}' AND ExecutionStatus = 'Running'"
# The SDK's gauge of workflows the worker keeps in memory between activations (capped by the
# Worker's max_cached_workflows; evicted ones are replayed from history when they next wake).
STICKY_CACHE_GAUGE = "temporal_sticky_cache_size"


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc; psutil is not a dependency)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


def sqlite_bytes(path: Path) -> int:
    """A SQLite database on disk: the file, its write-ahead log and its shared-memory index."""
    files = [path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")]
    return sum(f.stat().st_size for f in files if f.exists())


def postgresql_bytes(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def gauge_total(prometheus_text: str, name: str) -> float:
    """The sum of a gauge over its label sets, from Prometheus text exposition."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in prometheus_text.splitlines()
        if line.startswith((f"{name}{{", f"{name} "))
    )


@dataclass
class Probe:
    """What the stack costs right now: open event workflows, memory, the worker's cache, disk."""

    client: Client
    server_pid: int
    worker_pid: int
    worker_metrics_url: str
    temporal_db: Path
    ledger_kind: str
    ledger_url: str

    def ledger_bytes(self) -> int:
        if self.ledger_kind == "sqlite":
            return sqlite_bytes(Path(self.ledger_url.removeprefix("sqlite:///")))
        return postgresql_bytes(self.ledger_url)

    async def snapshot(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(self.worker_metrics_url)).text
        return {
            "open_event_workflows": (await self.client.count_workflows(OPEN_EVENT_WORKFLOWS)).count,
            "server_rss_mb": rss_mb(self.server_pid),
            "worker_rss_mb": rss_mb(self.worker_pid),
            "worker_cached_workflows": int(gauge_total(metrics, STICKY_CACHE_GAUGE)),
            "ledger_bytes": await asyncio.to_thread(self.ledger_bytes),
            "temporal_bytes": sqlite_bytes(self.temporal_db),
        }


def per_thousand_mb(grown_bytes: int, events: int) -> float:
    return round(grown_bytes / MB / events * 1000, 2)


async def unless_exited(worker: subprocess.Popen[bytes], log: Path, work: Awaitable[T]) -> T:
    """`work`'s result, or an error as soon as the worker process exits (its events would never finish)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        if worker.poll() is not None:
            task.cancel()
            last_lines = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"the Ratchet worker exited with code {worker.returncode}:\n{last_lines}")
        await asyncio.wait({task}, timeout=1)
    return task.result()


async def idle_cpu_percent(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """CPU use of each process over a pause in which no events are sent."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    await asyncio.sleep(seconds)
    return {name: round(100 * (cpu_seconds(pid) - before[name]) / seconds, 1) for name, pid in pids.items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="settled events to build up")
    parser.add_argument("--batch", type=int, default=200, help="new events measured on the empty home and after N")
    parser.add_argument("--chunk", type=int, default=1000, help="events sent (and completed) per load step")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--idle", type=float, default=15.0, help="seconds of idle CPU measurement (at the start and after N)"
    )
    parser.add_argument("--ledger", choices=["sqlite", "postgresql"], default="sqlite")
    return parser.parse_args()


def start_worker(home: Path, env: dict[str, str], metrics_address: str) -> subprocess.Popen[bytes]:
    """`worker.py` serving metrics; its one log line per finished run goes to home/worker.log."""
    with (home / "worker.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "worker.py"],
            env={**env, "RATCHET_METRICS_ADDRESS": metrics_address},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def build_up(
    args: argparse.Namespace, probe: Probe, measured: Callable[[int], Awaitable[dict]], worker_pid: int
) -> dict[str, Any]:
    """Measure the empty home, settle `args.events` events chunk by chunk, then measure again."""
    # Warm-up: first-use costs (connections, sandbox imports) are not throughput.
    await measured(10)
    pids = {"server": probe.server_pid, "worker": worker_pid}
    found: dict[str, Any] = {"idle_cpu_percent_at_start": await idle_cpu_percent(pids, args.idle)}
    found["at_start"] = await probe.snapshot()
    found["new_events_at_start"] = await measured(args.batch)
    start = await probe.snapshot()
    load_started = time.monotonic()
    growth = []
    sent = 0
    while sent < args.events:
        chunk = await measured(min(args.chunk, args.events - sent))
        sent += chunk["events"]
        step = {"sent": sent, "events_per_s": chunk["events_per_s"], **await probe.snapshot()}
        growth.append(step)
        print(json.dumps(step), file=sys.stderr, flush=True)
    found["load_seconds"] = round(time.monotonic() - load_started, 1)
    found["growth"] = growth
    found["idle_cpu_percent_at_n"] = await idle_cpu_percent(pids, args.idle)
    idle = found["at_n_idle"] = await probe.snapshot()
    found["new_events_at_n"] = await measured(args.batch)
    found["at_end"] = await probe.snapshot()
    found["per_1000_events"] = {
        "ledger_mb": per_thousand_mb(idle["ledger_bytes"] - start["ledger_bytes"], args.events),
        "temporal_mb": per_thousand_mb(idle["temporal_bytes"] - start["temporal_bytes"], args.events),
    }
    return found


def print_report(args: argparse.Namespace, found: dict[str, Any]) -> None:
    print(json.dumps({"ledger": args.ledger, "events": args.events, **found}, indent=2))
    per_thousand, empty, idle = found["per_1000_events"], found["at_start"], found["at_n_idle"]
    idle_cpu, idle_cpu_at_start = found["idle_cpu_percent_at_n"], found["idle_cpu_percent_at_start"]
    before, after = found["new_events_at_start"], found["new_events_at_n"]
    print(
        f"per 1,000 events: ledger ({args.ledger}) {per_thousand['ledger_mb']} MB, "
        f"Temporal (SQLite) {per_thousand['temporal_mb']} MB"
    )
    print(
        f"after {args.events} events ({idle['open_event_workflows']} event workflows open): dev server RSS {idle['server_rss_mb']} MB "
        f"(at start {empty['server_rss_mb']}), worker RSS {idle['worker_rss_mb']} MB (at start "
        f"{empty['worker_rss_mb']}; {idle['worker_cached_workflows']} workflows cached), disk: ledger "
        f"{idle['ledger_bytes'] / MB:.1f} MB, Temporal {idle['temporal_bytes'] / MB:.1f} MB; idle CPU: "
        f"server {idle_cpu['server']}%, worker {idle_cpu['worker']}% (at start "
        f"{idle_cpu_at_start['server']}%, {idle_cpu_at_start['worker']}%)"
    )
    print(
        f"{args.batch} new events after {args.events}: {after['events_per_s']} events/s "
        f"(p50 {after['p50_s']} s, p95 {after['p95_s']} s) vs {before['events_per_s']} events/s at "
        f"the empty home (p50 {before['p50_s']} s, p95 {before['p95_s']} s): "
        f"ratio {after['events_per_s'] / before['events_per_s']:.2f}"
    )


async def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp, ledger_database(args.ledger, Path(tmp)) as database_url:
        home = Path(tmp)
        server, settings, env = await start_engine(home, database_url)
        metrics_address = f"127.0.0.1:{free_port()}"
        worker = start_worker(home, env, metrics_address)
        try:
            async with bench_api(settings) as api:
                assert server.process is not None
                probe = Probe(
                    client=api.client,
                    server_pid=server.process.pid,
                    worker_pid=worker.pid,
                    worker_metrics_url=f"http://{metrics_address}/metrics",
                    temporal_db=server.db_path,
                    ledger_kind=args.ledger,
                    ledger_url=database_url,
                )
                await asyncio.sleep(2)  # let the worker start polling

                async def measured(count: int) -> dict:
                    run = measure_ratchet(api, count, args.concurrency)
                    return summarize(await unless_exited(worker, home / "worker.log", run))

                found = await build_up(args, probe, measured, worker.pid)
        finally:
            worker.terminate()
            worker.wait()
            server.stop()
    print_report(args, found)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
