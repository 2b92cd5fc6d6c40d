"""Flatness: events/s on a home that has run N events against a fresh home, measured interleaved.

`throughput.py --rounds 300,3000,10000` runs the counts one after another, so the first and last
rounds are tens of minutes apart — and this shared 2-core machine's speed drifts by more than
the 10% the comparison is about (bare Temporal's worker, whose work per workflow has nothing to
do with the home, once spent 39% more CPU per workflow in the second round than in the first).
Here two homes run side by side, each a freshly started embedded dev server (WAL, one
partition, fairness) with its own SQLite ledger, Ratchet worker and bare worker:

  * fresh: nothing but the warm-up;
  * grown: N events sent through Ratchet first (event run → task run → one echo action,
    throughput.py's task), at most `--in-flight` unfinished at a time, all settled.

Then `--repeat` cycles measure `--events` events per half on each home in the order fresh,
grown, grown, fresh — for Ratchet, then the same for bare Temporal (three trivial activities,
same priorities) — so the machine's drift falls on both homes alike. Each half's CPU window runs
on `--settle` seconds past its last event (see throughput.py). Its last lines give events/s on
the grown home over the fresh one, for Ratchet and for bare: how much slower N events of history
make each, with the ledger's share of it in Ratchet's and not in bare's.

    uv run python benchmarks/flatness.py [--grow 10000] [--events 300] [--repeat 4] [--in-flight 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.throughput import (
    CpuMeter,
    Timings,
    bench_api,
    measure_bare,
    measure_ratchet,
    start_engine,
    summarize,
)
from ratchet.engine.devserver import DevServer
from starter.api import Ratchet


@dataclass
class Home:
    """One embedded server with its ledger, its Ratchet and bare workers, and what was measured on it."""

    name: str
    server: DevServer
    api: Ratchet
    workers: dict[str, subprocess.Popen[bytes]]
    timings: dict[str, list[Timings]] = field(default_factory=lambda: {"ratchet": [], "bare": []})
    meters: dict[str, CpuMeter] = field(default_factory=dict)


@asynccontextmanager
async def home(name: str, root: Path) -> AsyncIterator[Home]:
    path = root / name
    path.mkdir()
    server, settings, env = await start_engine(path, f"sqlite:///{path / 'ratchet.db'}")
    log = (path / "workers.log").open("wb")
    workers = {
        "bare": subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bare", server.address], env=env, cwd=REPO, stdout=log, stderr=log
        ),
        "ratchet": subprocess.Popen([sys.executable, "worker.py"], env=env, cwd=REPO, stdout=log, stderr=log),
    }
    try:
        async with bench_api(settings) as api:
            assert server.process is not None
            built = Home(name, server, api, workers)
            built.meters = {side: CpuMeter(server.process.pid, proc.pid) for side, proc in workers.items()}
            yield built
    finally:
        for proc in workers.values():
            proc.terminate()
            proc.wait()
        log.close()
        server.stop()


async def measure(place: Home, side: str, n: int, args: argparse.Namespace) -> None:
    with place.meters[side].phase():
        if side == "ratchet":
            timings = await measure_ratchet(place.api, n, args.concurrency, args.in_flight)
        else:
            timings = await measure_bare(place.server.address, n, args.concurrency, args.in_flight)
        place.timings[side].append(timings)
        await asyncio.sleep(args.settle)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grow", type=int, default=10_000, help="events the grown home runs before measuring")
    parser.add_argument("--events", type=int, default=300, help="events per home, side and cycle (two halves)")
    parser.add_argument("--repeat", type=int, default=4, help="cycles of fresh, grown, grown, fresh per side")
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--settle", type=float, default=12.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncExitStack() as stack:
            fresh = await stack.enter_async_context(home("fresh", Path(tmp)))
            grown = await stack.enter_async_context(home("grown", Path(tmp)))
            await asyncio.sleep(2)  # let the workers start polling
            for place in (fresh, grown):
                # Warm-up: first-use costs (connections, imports, caches) are not throughput.
                await measure_bare(place.server.address, 10, args.concurrency)
                await measure_ratchet(place.api, 10, args.concurrency)
            print(f"growing: {args.grow} events through Ratchet on the grown home", flush=True)
            growth = await measure_ratchet(grown.api, args.grow, args.concurrency, args.in_flight)
            print(f"grown: {args.grow} events at {summarize(growth)['events_per_s']} events/s", flush=True)
            await asyncio.sleep(args.settle)
            first, second = args.events // 2, args.events - args.events // 2
            for _ in range(args.repeat):
                for side in ("ratchet", "bare"):
                    await measure(fresh, side, first, args)
                    await measure(grown, side, first, args)
                    await measure(grown, side, second, args)
                    await measure(fresh, side, second, args)
    total = args.events * args.repeat
    results = {
        place.name: {
            side: {**summarize(*place.timings[side]), "cpu_ms_per_event": place.meters[side].per_event_ms(total)}
            for side in ("ratchet", "bare")
        }
        for place in (fresh, grown)
    }
    print(json.dumps({"grow": args.grow, "events": args.events, "repeat": args.repeat, **results}))
    print(f"machine: {os.cpu_count()} CPUs; ledger sqlite; dev servers SQLite WAL, 1 partition, fairness on")
    for side in ("ratchet", "bare"):
        on_fresh, on_grown = results["fresh"][side], results["grown"][side]
        cpu_fresh, cpu_grown = on_fresh["cpu_ms_per_event"], on_grown["cpu_ms_per_event"]
        print(
            f"{side}: CPU-ms per event worker {cpu_grown['worker']} after {args.grow} vs {cpu_fresh['worker']} fresh; "
            f"server {cpu_grown['server']} vs {cpu_fresh['server']}; p50 {on_grown['p50_s']} s vs {on_fresh['p50_s']} s"
        )
    for side, unit in (("ratchet", "events/s"), ("bare", "workflows/s")):
        on_fresh, on_grown = results["fresh"][side]["events_per_s"], results["grown"][side]["events_per_s"]
        print(
            f"flatness ({side}): {on_grown} {unit} after {args.grow} events vs {on_fresh} {unit} on a fresh home "
            f"({total} events each, interleaved): ratio {on_grown / on_fresh:.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
