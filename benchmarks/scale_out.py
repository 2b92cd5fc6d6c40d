"""Scale-out: how events/s grows with 1, 2 and 3 Ratchet worker processes on one dev server.

One machine's worth of Temporal is the embedded dev server (its SQLite file); Ratchet scales by
running more `worker.py` processes against it. This starts the dev server and a ledger, then
runs the same N events (event run → task run → one echo action, as `throughput.py`) with 1, 2
and 3 workers polling, in halves ordered 1, 2, 3, 3, 2, 1 so that no count always runs on the
larger home or at the same moment of the machine's drift. Workers are started and stopped
between halves; each half starts after the workers have polled for 2 s and a 10-event warm-up.

For each count it prints events/s (pooled over its halves), p50 latency, the speed-up over one
worker, and CPU-ms per event of the dev server, all workers together, and this process (the
client); then where the CPU went as a share of the machine's cores over the measured spans,
which says what limits the next worker: the cores themselves (busy ≈ all of them), the server
process (≈ one core: the dev server's work on SQLite writes is single-threaded per shard), or
neither (the ledger's writer lock or latency between steps).

    uv run python benchmarks/scale_out.py [--events 300] [--workers 1,2,3] [--ledger sqlite|postgresql]

The ratio line last: `ratio 3 workers/1 worker: 1.4`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.throughput import (
    Timings,
    bench_api,
    cpu_seconds,
    ledger_database,
    measure_ratchet,
    start_engine,
    summarize,
)
from starter.api import Ratchet

WARM_UP_EVENTS = 10


class Workers:
    """The Ratchet worker processes currently polling, grown or shrunk to a count between halves."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def resize(self, count: int) -> None:
        while len(self.processes) < count:
            with (self.home / f"worker-{len(self.processes)}.log").open("ab") as log:
                self.processes.append(
                    subprocess.Popen([sys.executable, "worker.py"], env=self.env, cwd=REPO, stdout=log, stderr=log)
                )
        while len(self.processes) > count:
            proc = self.processes.pop()
            proc.terminate()
            proc.wait()

    def cpu_seconds(self) -> float:
        """CPU of the live workers (workers only start and stop between halves)."""
        return sum(cpu_seconds(proc.pid) for proc in self.processes)


async def run_half(workers: Workers, api: Ratchet, server_pid: int, count: int, n: int, concurrency: int) -> dict:
    workers.resize(count)
    await asyncio.sleep(2)  # let every worker poll before the clock starts
    await measure_ratchet(api, WARM_UP_EVENTS, concurrency)
    before = (cpu_seconds(server_pid), workers.cpu_seconds(), cpu_seconds(os.getpid()), time.monotonic())
    timings: Timings = await measure_ratchet(api, n, concurrency)
    after = (cpu_seconds(server_pid), workers.cpu_seconds(), cpu_seconds(os.getpid()), time.monotonic())
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return {"timings": timings, "server": spent[0], "workers": spent[1], "client": spent[2], "wall": spent[3]}


def report(count: int, halves: list[dict], n: int, one_worker_rate: float | None) -> float:
    summary = summarize(*(h["timings"] for h in halves))
    events = n * len(halves)
    wall = sum(h["wall"] for h in halves)
    cores = os.cpu_count() or 1
    cpu = {part: sum(h[part] for h in halves) for part in ("server", "workers", "client")}
    per_event = ", ".join(f"{part} {1000 * seconds / events:.1f}" for part, seconds in cpu.items())
    busy = sum(cpu.values()) / wall
    speedup = f", x{summary['events_per_s'] / one_worker_rate:.2f} of one worker" if one_worker_rate else ""
    print(
        f"{count} worker{'s' if count > 1 else ''}: {summary['events_per_s']} events/s, p50 {summary['p50_s']} s"
        f"{speedup}; CPU-ms per event: {per_event}; machine busy {busy:.2f} of {cores} cores "
        f"(server {cpu['server'] / wall:.2f}, workers {cpu['workers'] / wall:.2f}, client {cpu['client'] / wall:.2f})",
        flush=True,
    )
    return float(summary["events_per_s"])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="events per half")
    parser.add_argument("--workers", default="1,2,3", help="worker counts, comma-separated")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--ledger", choices=["sqlite", "postgresql"], default="sqlite")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    order = counts + counts[::-1]
    halves: dict[int, list[dict]] = {c: [] for c in counts}
    with tempfile.TemporaryDirectory() as tmp, ledger_database(args.ledger, Path(tmp)) as database_url:
        home = Path(tmp)
        server, settings, env = await start_engine(home, database_url)
        assert server.process is not None
        workers = Workers(home, env)
        try:
            async with bench_api(settings) as api:
                for count in order:
                    halves[count].append(
                        await run_half(workers, api, server.process.pid, count, args.events, args.concurrency)
                    )
        finally:
            workers.resize(0)
            server.stop()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; ledger {args.ledger}; {args.events} events")
    rates: dict[int, float] = {}
    for count in counts:
        rates[count] = report(count, halves[count], args.events, rates.get(counts[0]))
    first, last = counts[0], counts[-1]
    print(f"ratio {last} workers/{first} worker: {rates[last] / rates[first]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
