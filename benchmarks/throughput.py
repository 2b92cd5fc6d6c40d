"""Throughput: N events through event run → task run → one echo action, against bare Temporal.

Both run in the same invocation on the same freshly started embedded dev server (WAL, one
partition, fairness), each with one worker process of its own:
  * bare:    a workflow running three trivial activities in sequence with the same priority
             keys (event 3, task 2, action 1), fairness key and heartbeat timeout — the same
             activity shape without Ratchet's work — on a worker with Ratchet's worker options
             (unsandboxed workflow runner, sticky-queue timeout, build id: benchmarks/bare.py);
  * ratchet: the real engine (ledger writes, Liquid render, action registry).
Each count runs in halves ordered bare, Ratchet, Ratchet, bare, so neither side always runs on
the larger home. The first sequence of each count also runs bare in the SDK's default sandbox
(a third worker process), one half before and one after, and prints it beside bare: what running
workflows unsandboxed saves the platform itself, kept visible though the ratio no longer uses it. Events/s = N / the sum over a side's halves of (last action done − first start);
latency = action done − start, per event. CPU-ms per event is each process's user+system CPU
over its side's halves divided by N, each half's window running on `--settle` seconds (35) past
its last event: the server checks every workflow task's timeouts when they fall due, up to 10 s
later, and every activity's heartbeat timeout at its deadline (30 s after the activity started,
though it finished long before); without the pause that work of one side was charged to, and
slowed, the next side's half.

`--repeat K` runs that bare, Ratchet, Ratchet, bare sequence K times per count and pools the
halves (events/s = all events / all spans): a shared 2-core machine's speed drifts by up to 2×
over seconds (a fixed CPU-bound loop measured alone), so one sequence's ratio wanders by ±0.1;
K sequences shrink that by √K. Each sequence's own ratio is printed too.

    uv run python benchmarks/throughput.py [--events 300 | --rounds 300x5,3000,10000] [--concurrency 50]
                                           [--repeat 1] [--ledger sqlite|postgresql|sqlite,postgresql]
                                           [--profile worker.txt [--profile-rate 200]]

`--rounds` runs bare and Ratchet for each count, one count after another on the same home, so later
rounds run against everything the earlier ones left: open event workflows, Temporal's history and
a grown ledger. Its last lines compare the last round's events/s with the first's, for Ratchet
and for bare. `NxK` repeats a count's sequence K times (pooled; `--repeat` is the default K): a
300-event round is one 13-second sequence, which carries the machine's drift in full. Use it with
`--in-flight K` (each side keeps at most K events unfinished, sending the next as one finishes):
a burst of 10,000 starts measures how Temporal's matching copes with a 10,000-task backlog (bare
Temporal slows too), not whether the per-event cost grows with the home.

`--ledger postgresql` puts the ledger in a fresh database on the PostgreSQL server at
RATCHET_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432), dropped afterwards; the CPU
of the server's backends serving that database counts as `postgres`.

`--ledger sqlite,postgresql` compares the ledgers instead of Ratchet with bare Temporal: one dev
server, one Ratchet worker per ledger (each on its own task queue and home), halves in the order
sqlite, postgresql, postgresql, sqlite (`--repeat` times). Each worker counts its own SQL with
SQLAlchemy's events (benchmarks/sql_counts.py): statements and database round trips per event
(BEGIN, COMMIT, ROLLBACK and psycopg's PREPARE apart). The last line is
`ratio postgresql/sqlite: 0.92`, events/s over events/s.
`--server-metrics` also reads the dev server's Prometheus counters around each half and prints,
per event and side, its persistence calls by operation and its history tasks by type, the rows
where the sides differ first: what the server does more (or less) for Ratchet than for bare.

`--profile FILE` samples the Ratchet worker's GIL holder during the rounds with py-spy and writes
the collapsed stacks there (one line per stack, sample count last), for flame graphs or
per-function totals of its Python CPU; bare's worker is sampled alike into FILE with `.bare`
before its suffix, so the two stacks can be set side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlmodel import col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.common import Priority

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bare import BARE_QUEUE, BARE_SHOP, SANDBOXED_QUEUE, BareEventWorkflow
from benchmarks.sql_counts import read_counts
from ratchet.config import Settings, load_settings
from ratchet.core.runs import PRIORITY_EVENT, RUN_HEARTBEAT_TIMEOUT_SECONDS, RunKind, RunState
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


def stat_fields(stat: Path) -> list[str]:
    """A /proc stat file's fields after the command name (which may hold spaces).

    They are state, ppid, …; user and system CPU ticks at [11] and [12], those of reaped children at
    [13] and [14].
    """
    return stat.read_text().rsplit(")", 1)[1].split()


def ticks_seconds(ticks: int) -> float:
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux), to show where a phase spent its work."""
    fields = stat_fields(Path(f"/proc/{pid}/stat"))
    return ticks_seconds(int(fields[11]) + int(fields[12]))


def database_name(database_url: str) -> str:
    """The database a PostgreSQL URL names (its path)."""
    return urllib.parse.urlsplit(database_url).path.lstrip("/")


def backend_cpu_seconds(database: str) -> dict[int, float]:
    """CPU of each PostgreSQL backend on this machine connected to `database`, by pid (from /proc).

    A backend's command line names its user, database and client ("postgres: 15/main: postgres
    DB 127.0.0.1(5000) idle"): only the backends serving this run's connections count, not the
    server's other clients (other sessions' tests share it) nor its background processes.
    """
    found: dict[int, float] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().decode(errors="replace").split()
            if len(words) < 4 or words[0] != "postgres:" or words[3] != database:
                continue
            fields = stat_fields(cmdline.with_name("stat"))
        except (FileNotFoundError, ProcessLookupError):  # the process ended while we read
            continue
        found[int(cmdline.parent.name)] = ticks_seconds(int(fields[11]) + int(fields[12]))
    return found


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time per thread name of a process: the SDK's Rust core threads apart from Python's."""
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = stat_fields(task / "stat")
        except FileNotFoundError:  # the thread ended while we read
            continue
        group = "python" if name.startswith("python") or name.startswith("asyncio") else name
        totals[group] = totals.get(group, 0.0) + ticks_seconds(int(fields[11]) + int(fields[12]))
    return totals


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
def sampled(pid: int, output: Path | None, rate: int = 200) -> Iterator[None]:
    """Sample `pid` with py-spy (non-blocking, so the worker is not slowed) `rate` times a second while the block runs."""
    if output is None:
        yield
        return
    spy = subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--nonblocking",
            "--gil",
            "--rate",
            str(rate),
            "-o",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        spy.wait()


@contextmanager
def both_sampled(ours_pid: int, bare_pid: int, args: argparse.Namespace) -> Iterator[None]:
    """With `--profile FILE`, Ratchet's worker sampled into FILE and bare's into FILE with `.bare` before its suffix."""
    bare_profile = args.profile.with_stem(args.profile.stem + ".bare") if args.profile else None
    with sampled(ours_pid, args.profile, args.profile_rate), sampled(bare_pid, bare_profile, args.profile_rate):
        yield


async def start_server(home: Path) -> DevServer:
    """A fresh embedded dev server on free ports, its files in `home`."""
    server = DevServer(db_path=home / "temporal.db", port=free_port(), ui_port=None, log_path=home / "temporal.log")
    await server.start()
    return server


def engine_settings(
    home: Path, server: DevServer, database_url: str, task_queue: str | None = None
) -> tuple[Settings, dict[str, str]]:
    """Settings on `server` with this ledger (and task queue), and the environment for worker processes."""
    # A ledger given by URL needs a key for stored secrets, in this process and the workers alike.
    os.environ.setdefault("RATCHET_SECRET_KEY", generate_key())
    temporal = {"address": server.address, **({"task_queue": task_queue} if task_queue else {})}
    settings = load_settings(home=home, database_url=database_url, shop="default", temporal=temporal)
    env = {
        **os.environ,
        "RATCHET_HOME": str(home),
        "RATCHET_DATABASE_URL": settings.effective_database_url,
        "RATCHET_TEMPORAL_ADDRESS": server.address,
        "RATCHET_TASK_QUEUE": settings.temporal.task_queue,
    }
    return settings, env


async def start_engine(home: Path, database_url: str) -> tuple[DevServer, Settings, dict[str, str]]:
    """A fresh embedded dev server on free ports, its settings, and the environment for worker processes."""
    server = await start_server(home)
    settings, env = engine_settings(home, server, database_url)
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


def parse_rounds(text: str) -> list[tuple[int, int | None]]:
    """`300x5,3000,10000` → [(300, 5), (3000, None), (10000, None)] (None: `--repeat`)."""
    rounds: list[tuple[int, int | None]] = []
    for part in text.split(","):
        count, _, repeat = part.partition("x")
        rounds.append((int(count), int(repeat) if repeat else None))
    return rounds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bounded(concurrency: int, jobs: list, then: Callable[[Any], Awaitable[None]] | None = None) -> list:
    """Run `jobs` at most `concurrency` at a time (with `then` on each result inside the same slot)."""
    gate = asyncio.Semaphore(concurrency)

    async def run(job):
        async with gate:
            result = await job()
            if then is not None:
                await then(result)
            return result

    return await asyncio.gather(*(run(j) for j in jobs))


@dataclass
class Timings:
    """When each event (or bare workflow) of one batch started and when its action finished."""

    starts: dict[str, datetime] = field(default_factory=dict)
    done: dict[str, datetime] = field(default_factory=dict)

    @property
    def span_seconds(self) -> float:
        # An empty batch (the first half of a one-event count) took no time.
        if not self.starts:
            return 0.0
        return (max(self.done.values()) - min(self.starts.values())).total_seconds()


async def measure_bare(
    address: str, n: int, concurrency: int, in_flight: int | None = None, task_queue: str = BARE_QUEUE
) -> Timings:
    client = await Client.connect(address)
    timings = Timings()
    starts, done = timings.starts, timings.done

    async def start(i: int) -> WorkflowHandle[Any, str]:
        wid = f"bare-{i}-{time.time_ns()}"
        starts[wid] = datetime.now(UTC)
        return await client.start_workflow(
            BareEventWorkflow.run,
            id=wid,
            task_queue=task_queue,
            priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=BARE_SHOP),
        )

    async def finish(handle: WorkflowHandle[Any, str]) -> None:
        # The result is the workflow's done time: waiting for it late changes no figure.
        done[handle.id] = datetime.fromisoformat(await handle.result())

    if in_flight is None:
        handles = await bounded(concurrency, [lambda i=i: start(i) for i in range(n)])
        # A few at a time: the server limits concurrent long polls.
        await bounded(concurrency, [lambda h=h: finish(h) for h in handles])
    else:
        await bounded(in_flight, [lambda i=i: start(i) for i in range(n)], then=finish)
    return timings


async def measure_ratchet(api: Ratchet, n: int, concurrency: int, in_flight: int | None = None) -> Timings:
    """Send `n` events and wait for their actions (only these events' actions count).

    With `in_flight`, an event is sent only while fewer than that many are unfinished.
    """
    timings = Timings()
    starts, done = timings.starts, timings.done
    progress = asyncio.Condition()

    async def send(i: int) -> None:
        if in_flight is not None:
            async with progress:
                await progress.wait_for(lambda: len(starts) - len(done) < in_flight)
        at = datetime.now(UTC)
        event_id = await api.events.send(BENCH_TOPIC, {"i": i})
        starts[event_id] = at

    def finished(pending: list[str]) -> dict[str, datetime]:
        with api.store.session() as session:
            rows = session.exec(
                # Only events still pending: a poll must not cost more as the ledger grows.
                select(Run.event_id, Run.stopped_at).where(
                    col(Run.event_id).in_(pending),
                    Run.kind == RunKind.action,
                    Run.state == RunState.succeeded,
                )
            ).all()
        return {event_id: stopped for event_id, stopped in rows if stopped is not None}

    async def poll() -> None:
        while len(done) < n:
            await asyncio.sleep(0.25 if in_flight is not None else 0.5)
            done.update(await asyncio.to_thread(finished, [e for e in starts if e not in done]))
            async with progress:
                progress.notify_all()

    poller = asyncio.create_task(poll())
    await bounded(concurrency, [lambda i=i: send(i) for i in range(n)])
    await poller
    return timings


def summarize(*batches: Timings) -> dict:
    """Events/s over the batches' own spans (not the time between them) and latency percentiles."""
    latencies = [(b.done[k] - b.starts[k]).total_seconds() for b in batches for k in b.starts]
    events = sum(len(b.starts) for b in batches)
    return {
        "events": events,
        "events_per_s": round(events / sum(b.span_seconds for b in batches), 2),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
    }


def per_event_ms(seconds: float, n: int) -> float:
    return round(1000 * seconds / n, 1)


# The server's counters --server-metrics reads, and the label that names each row.
SERVER_COUNTERS = {"persistence_requests": "operation", "task_requests": "task_type"}


def server_counters(metrics_url: str) -> dict[str, float]:
    """The dev server's persistence calls by operation and history tasks by type (Prometheus text)."""
    totals: dict[str, float] = {}
    with urllib.request.urlopen(metrics_url) as response:
        lines = response.read().decode().splitlines()
    for line in lines:
        name, _, rest = line.partition("{")
        label = SERVER_COUNTERS.get(name)
        if label is None:
            continue
        labels, _, value = rest.rpartition("} ")
        pairs = (part.split("=", 1) for part in labels.split(",") if "=" in part)
        named = {label_name: label_value.strip('"') for label_name, label_value in pairs}
        key = f"{name} {named.get(label, '?')}"
        totals[key] = totals.get(key, 0.0) + float(value)
    return totals


class CpuMeter:
    """CPU of every process over the phases of one side.

    The server, the side's worker (Python apart from the SDK's Rust core threads), this process,
    which plays the client (start calls or event sends), and with a PostgreSQL ledger on this
    machine the backends serving the ledger's database (`backend_cpu_seconds`; a backend that
    ends within a phase takes its last CPU with it, so the pools' connections are kept open).
    """

    def __init__(
        self, server_pid: int, worker_pid: int, metrics_url: str | None = None, postgres_database: str | None = None
    ) -> None:
        self.pids = {"server": server_pid, "client": os.getpid()}
        self.postgres_database = postgres_database
        self.worker_pid = worker_pid
        self.metrics_url = metrics_url
        self.spent: dict[str, float] = {}
        self.server_calls: dict[str, float] = {}

    def read(self) -> dict[str, float]:
        totals = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        for group, seconds in thread_cpu_seconds(self.worker_pid).items():
            key = "worker_python" if group == "python" else "worker_core"
            totals[key] = totals.get(key, 0.0) + seconds
        return totals

    def backends(self) -> dict[int, float]:
        return backend_cpu_seconds(self.postgres_database) if self.postgres_database else {}

    @contextmanager
    def phase(self) -> Iterator[None]:
        # The counters are read outside the CPU window: rendering /metrics costs the server CPU.
        calls_before = server_counters(self.metrics_url) if self.metrics_url else {}
        before, backends_before = self.read(), self.backends()
        yield
        after = self.read()
        if self.postgres_database:
            # Per backend: one that started within the phase counts from zero.
            after["postgres"] = sum(t - backends_before.get(pid, 0.0) for pid, t in self.backends().items())
        for name, seconds in after.items():
            self.spent[name] = self.spent.get(name, 0.0) + seconds - before.get(name, 0.0)
        if self.metrics_url:
            for name, count in server_counters(self.metrics_url).items():
                self.server_calls[name] = self.server_calls.get(name, 0.0) + count - calls_before.get(name, 0.0)

    def per_event_ms(self, n: int) -> dict[str, float]:
        cpu = {name: per_event_ms(seconds, n) for name, seconds in self.spent.items()}
        cpu["worker"] = round(cpu["worker_python"] + cpu["worker_core"], 1)
        return cpu


def cpu_meters(
    server: DevServer, api: Ratchet, worker_pids: tuple[int, int, int], args: argparse.Namespace
) -> tuple[CpuMeter, CpuMeter, CpuMeter]:
    """One meter per worker, each also reading the server (and a local PostgreSQL ledger's server)."""
    assert server.process is not None
    metrics_url = server.metrics_url if args.server_metrics else None
    url = api.settings.effective_database_url
    database = database_name(url) if url.startswith("postgres") else None
    bare, ours, sandboxed = (CpuMeter(server.process.pid, pid, metrics_url, database) for pid in worker_pids)
    return bare, ours, sandboxed


async def measure_round(
    server: DevServer, api: Ratchet, worker_pids: tuple[int, int, int], n: int, repeat: int, args: argparse.Namespace
) -> dict:
    """`n` events each for bare and Ratchet on the same server and the same (growing) ledger.

    Halves run in the order bare, Ratchet, Ratchet, bare (`repeat` times, pooled), so neither side
    always runs on the larger home; the first sequence is wrapped in a half of sandboxed bare on
    either side.
    """
    bare_meter, ours_meter, sandboxed_meter = cpu_meters(server, api, worker_pids, args)
    bare: list[Timings] = []
    ours: list[Timings] = []
    sandboxed: list[Timings] = []

    # Each side's CPU window runs on `settle` seconds past its half: the server work a half leaves
    # behind (timers checking its workflow tasks, due up to 10 s later, and its activities'
    # heartbeat deadlines, 30 s after each started) is that side's, and the next half starts without it.
    async def half(meter: CpuMeter, timings: list[Timings], measure: Awaitable[Timings]) -> None:
        with meter.phase():
            timings.append(await measure)
            await asyncio.sleep(args.settle)

    async def run_bare(count: int) -> None:
        await half(bare_meter, bare, measure_bare(server.address, count, args.concurrency, args.in_flight))

    async def run_sandboxed(count: int) -> None:
        measure = measure_bare(server.address, count, args.concurrency, args.in_flight, SANDBOXED_QUEUE)
        await half(sandboxed_meter, sandboxed, measure)

    async def run_ours(count: int) -> None:
        await half(ours_meter, ours, measure_ratchet(api, count, args.concurrency, args.in_flight))

    first, second = n // 2, n - n // 2
    sequence_ratios = []
    with both_sampled(ours_meter.worker_pid, bare_meter.worker_pid, args):
        for sequence in range(repeat):
            if sequence == 0:
                await run_sandboxed(first)
            await run_bare(first)
            await run_ours(first)
            await run_ours(second)
            await run_bare(second)
            if sequence == 0:
                await run_sandboxed(second)
            sequence_ratios.append(
                round(summarize(*ours[-2:])["events_per_s"] / summarize(*bare[-2:])["events_per_s"], 2)
            )
    if args.server_metrics:
        print_server_calls(n, bare_meter.server_calls, ours_meter.server_calls, n * repeat)
    return {
        "events": n,
        "repeat": repeat,
        "bare_temporal": {**summarize(*bare), "cpu_ms_per_event": bare_meter.per_event_ms(n * repeat)},
        "bare_sandboxed": {**summarize(*sandboxed), "cpu_ms_per_event": sandboxed_meter.per_event_ms(n)},
        "ratchet": {**summarize(*ours), "cpu_ms_per_event": ours_meter.per_event_ms(n * repeat)},
        "sequence_ratios": sequence_ratios,
        "ratio": round(summarize(*ours)["events_per_s"] / summarize(*bare)["events_per_s"], 2),
    }


def print_server_calls(n: int, bare: dict[str, float], ours: dict[str, float], total: int) -> None:
    """Server calls per event, bare beside Ratchet, the largest differences first.

    Rows both sides leave under 0.05 per event are left out.
    """
    rows = []
    for name in bare.keys() | ours.keys():
        per_bare, per_ours = bare.get(name, 0.0) / total, ours.get(name, 0.0) / total
        if max(per_bare, per_ours) >= 0.05:
            rows.append((abs(per_ours - per_bare), name, per_bare, per_ours))
    print(f"server calls per event ({n} events), bare vs Ratchet:")
    for _, name, per_bare, per_ours in sorted(rows, reverse=True):
        print(f"  {name:<70} {per_bare:6.2f} {per_ours:6.2f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument(
        "--rounds",
        type=parse_rounds,
        help="comma-separated event counts run one after another on one home (e.g. 300x5,3000,10000; "
        "NxK repeats a count K times): whether events/s stays flat as the ledger and Temporal's history grow",
    )
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each count's bare, Ratchet, Ratchet, bare sequence this many times and pool them",
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        help="closed loop: keep at most this many events unfinished (each side), instead of sending all at once",
    )
    parser.add_argument(
        "--server-metrics", action="store_true", help="print the server's persistence calls and history tasks per event"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=RUN_HEARTBEAT_TIMEOUT_SECONDS + 5.0,
        help="seconds each half's CPU window runs on after its last event, so that the server work it "
        "leaves behind (workflow-task timeout checks, due up to 10 s later; activity heartbeat deadlines, "
        "30 s after each activity started) is charged to it, not to the next half",
    )
    parser.add_argument(
        "--ledger",
        type=parse_ledgers,
        default=["sqlite"],
        help="sqlite, postgresql, or both (sqlite,postgresql): Ratchet alone on each ledger, halves interleaved, "
        "with each worker's SQL statements and round trips per event; the last line is the second's events/s "
        "over the first's",
    )
    parser.add_argument("--profile", type=Path, help="write py-spy collapsed stacks of the Ratchet worker here")
    parser.add_argument(
        "--profile-rate", type=int, default=200, help="py-spy samples per second (more samples, more py-spy CPU)"
    )
    args = parser.parse_args()
    if len(args.ledger) > 1 and (args.rounds or args.server_metrics or args.profile):
        parser.error("two ledgers run Ratchet alone, --events only: no --rounds, --server-metrics or --profile")
    return args


def start_workers(home: Path, server: DevServer, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """Bare Temporal's worker, Ratchet's and bare's sandboxed one, logging to files as a deployed worker would."""
    workers = []
    for name, command in (
        ("bare-worker", ["-m", "benchmarks.bare", server.address]),
        ("worker", ["worker.py"]),
        ("sandboxed-worker", ["-m", "benchmarks.bare", server.address, "--sandboxed"]),
    ):
        with (home / f"{name}.log").open("wb") as log:
            workers.append(subprocess.Popen([sys.executable, *command], env=env, cwd=REPO, stdout=log, stderr=log))
    return workers


def print_results(args: argparse.Namespace, rounds: list[tuple[int, int]], results: list[dict]) -> None:
    print(f"machine: {os.cpu_count()} CPUs; ledger {args.ledger}; dev server SQLite WAL, 1 partition, fairness on")
    for result in results:
        ours, bare = result["ratchet"], result["bare_temporal"]
        cpu, bare_cpu = ours["cpu_ms_per_event"], bare["cpu_ms_per_event"]
        print(
            f"{result['events']:>6} events: CPU-ms per event worker {cpu['worker']} (Python {cpu['worker_python']}, "
            f"core {cpu['worker_core']}) vs bare {bare_cpu['worker']} (Python {bare_cpu['worker_python']}, "
            f"core {bare_cpu['worker_core']}); server {cpu['server']} vs bare {bare_cpu['server']}; "
            f"client {cpu['client']} vs bare {bare_cpu['client']}; "
            + (f"postgres {cpu['postgres']} vs bare {bare_cpu['postgres']}; " if "postgres" in cpu else "")
            + f"p50 {ours['p50_s']} s vs bare {bare['p50_s']} s"
        )
    for result in results:
        bare, sandboxed = result["bare_temporal"], result["bare_sandboxed"]
        print(
            f"bare Temporal {result['events']} events, workflow runner: unsandboxed (Ratchet's) "
            f"{bare['events_per_s']} workflows/s, worker {bare['cpu_ms_per_event']['worker']} CPU-ms per event; "
            f"sandboxed (the SDK's default, once) {sandboxed['events_per_s']} workflows/s, "
            f"worker {sandboxed['cpu_ms_per_event']['worker']} CPU-ms per event"
        )
    for result in results:
        repeated = f" x {result['repeat']} (sequences {result['sequence_ratios']})" if result["repeat"] > 1 else ""
        print(
            f"ratchet ({args.ledger}) {result['events']} events{repeated}: {result['ratchet']['events_per_s']} "
            f"events/s vs bare Temporal {result['bare_temporal']['events_per_s']} workflows/s: "
            f"ratio {result['ratio']:.2f}"
        )
    if len(results) > 1:
        earlier = sum(n * repeat for n, repeat in rounds[:-1])
        for side, unit in (("bare_temporal", "workflows/s"), ("ratchet", "events/s")):
            first, last = results[0][side]["events_per_s"], results[-1][side]["events_per_s"]
            print(
                f"flatness ({side}): {last} {unit} at {results[-1]['events']} events after {earlier} earlier, "
                f"vs {first} {unit} at {results[0]['events']}: ratio {last / first:.2f}"
            )


LEDGERS = ("sqlite", "postgresql")


def parse_ledgers(text: str) -> list[str]:
    """`sqlite,postgresql` → ["sqlite", "postgresql"]: one ledger, or two compared in one run."""
    kinds = text.split(",")
    if any(kind not in LEDGERS for kind in kinds) or len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(f"one or both of {', '.join(LEDGERS)}, comma-separated")
    return kinds


@dataclass
class LedgerSide:
    """One ledger's Ratchet in a comparison: its worker (counting its SQL), its API, what was measured."""

    kind: str
    api: Ratchet
    worker: subprocess.Popen[bytes]
    counts_path: Path
    meter: CpuMeter
    timings: list[Timings] = field(default_factory=list)
    sql: dict[str, int] = field(default_factory=dict)

    async def half(self, n: int, args: argparse.Namespace) -> None:
        """`n` events on this ledger; its CPU window and its SQL counts run on `--settle` seconds past them."""
        before = await asyncio.to_thread(read_counts, self.worker.pid, self.counts_path)
        with self.meter.phase():
            self.timings.append(await measure_ratchet(self.api, n, args.concurrency, args.in_flight))
            await asyncio.sleep(args.settle)
        after = await asyncio.to_thread(read_counts, self.worker.pid, self.counts_path)
        for name, count in after.items():
            self.sql[name] = self.sql.get(name, 0) + count - before.get(name, 0)

    def result(self, n: int) -> dict:
        """Events/s and latency, CPU-ms per event by process (and their total), SQL per event."""
        cpu = self.meter.per_event_ms(n)
        cpu["total"] = round(cpu["worker"] + cpu["server"] + cpu["client"] + cpu.get("postgres", 0.0), 1)
        return {**summarize(*self.timings), "cpu_ms_per_event": cpu, "sql_per_event": per_event(self.sql, n)}


def per_event(counts: dict[str, int], n: int) -> dict[str, float]:
    return {name: round(count / n, 2) for name, count in counts.items()}


@asynccontextmanager
async def ledger_side(kind: str, home: Path, server: DevServer) -> AsyncIterator[LedgerSide]:
    """A ledger of `kind` in its own home, with its own worker on its own task queue."""
    side_home = home / kind
    side_home.mkdir()
    with ledger_database(kind, side_home) as database_url:
        settings, env = engine_settings(side_home, server, database_url, task_queue=f"bench-{kind}")
        counts_path = side_home / "sql-counts.json"
        command = [sys.executable, "-m", "benchmarks.sql_counts", str(counts_path), "worker.py"]
        with (side_home / "worker.log").open("wb") as log:
            worker = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=log)
        try:
            async with bench_api(settings) as api:
                assert server.process is not None
                database = database_name(database_url) if kind == "postgresql" else None
                yield LedgerSide(
                    kind, api, worker, counts_path, CpuMeter(server.process.pid, worker.pid, None, database)
                )
        finally:
            worker.terminate()
            worker.wait()


async def compare_ledgers(args: argparse.Namespace) -> None:
    """Both ledgers on one dev server, halves interleaved (first, second, second, first) `--repeat` times."""
    n, repeat = args.events, args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        server = await start_server(home)
        try:
            async with contextlib.AsyncExitStack() as stack:
                sides = [await stack.enter_async_context(ledger_side(kind, home, server)) for kind in args.ledger]
                await asyncio.sleep(2)  # let the workers start polling
                for side in sides:  # warm-up: first-use costs are not throughput
                    await measure_ratchet(side.api, 10, args.concurrency)
                await asyncio.sleep(args.settle)
                sequence_ratios = []
                for _ in range(repeat):
                    for side, count in zip([*sides, *reversed(sides)], [n // 2] * 2 + [n - n // 2] * 2, strict=True):
                        await side.half(count, args)
                    last = [summarize(*side.timings[-2:])["events_per_s"] for side in sides]
                    sequence_ratios.append(round(last[1] / last[0], 2))
                results = {side.kind: side.result(n * repeat) for side in sides}
        finally:
            server.stop()
    print(json.dumps({"events": n, "repeat": repeat, **results, "sequence_ratios": sequence_ratios}), flush=True)
    print_ledger_results(args, results, sequence_ratios)


def print_ledger_results(args: argparse.Namespace, results: dict[str, dict], sequence_ratios: list[float]) -> None:
    """Per ledger: events/s, CPU-ms per event, statements and round trips per event; the ratio last."""
    first, second = args.ledger
    print(
        f"machine: {os.cpu_count()} CPUs, load {Path('/proc/loadavg').read_text().split()[:3]}; {args.events} events "
        f"per ledger x {args.repeat}, halves {first}, {second}, {second}, {first}; dev server SQLite WAL, 1 partition"
    )
    for kind, result in results.items():
        cpu, sql_ = result["cpu_ms_per_event"], result["sql_per_event"]
        postgres = f", postgres {cpu['postgres']}" if "postgres" in cpu else ""
        print(
            f"{kind:>10}: {result['events_per_s']} events/s, p50 {result['p50_s']} s; CPU-ms per event "
            f"{cpu['total']} (worker {cpu['worker']} = Python {cpu['worker_python']} + core {cpu['worker_core']}, "
            f"server {cpu['server']}, client {cpu['client']}{postgres})"
        )
        print(
            f"{'':>10}  worker SQL per event: {sql_['statements']} statements, {sql_['round_trips']} round trips "
            f"({sql_['begins']} BEGIN, {sql_['commits']} COMMIT, {sql_['rollbacks']} ROLLBACK, "
            f"{sql_['prepares']} PREPARE/DEALLOCATE; {sql_['pipelined']} statements pipelined behind another)"
        )
    if args.repeat > 1:
        print(f"sequences {second}/{first}: {sequence_ratios}")
    ratio = results[second]["events_per_s"] / results[first]["events_per_s"]
    print(f"ratio {second}/{first}: {ratio:.2f}")


async def main() -> None:
    args = parse_args()
    if len(args.ledger) > 1:
        await compare_ledgers(args)
        return
    args.ledger = args.ledger[0]
    rounds = [(n, repeat or args.repeat) for n, repeat in args.rounds or [(args.events, None)]]
    results = []
    with tempfile.TemporaryDirectory() as tmp, ledger_database(args.ledger, Path(tmp)) as database_url:
        home = Path(tmp)
        server, settings, env = await start_engine(home, database_url)
        workers = start_workers(home, server, env)
        try:
            async with bench_api(settings) as api:
                await asyncio.sleep(2)  # let the workers start polling
                # Warm-up: first-use costs (connections, imports, caches) are not throughput.
                await measure_bare(server.address, 10, args.concurrency)
                await measure_bare(server.address, 10, args.concurrency, task_queue=SANDBOXED_QUEUE)
                await measure_ratchet(api, 10, args.concurrency)
                await asyncio.sleep(args.settle)
                for n, repeat in rounds:
                    pids = (workers[0].pid, workers[1].pid, workers[2].pid)
                    results.append(await measure_round(server, api, pids, n, repeat, args))
                    print(json.dumps(results[-1]), flush=True)
        finally:
            for proc in workers:
                proc.terminate()
                proc.wait()
            server.stop()
    print_results(args, rounds, results)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
