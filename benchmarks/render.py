"""Render throughput over the Mechanic task corpus: Ratchet's dialect vs stock python-liquid, in the same run.

    uv run python benchmarks/render.py [--seconds 2] [--corpus PATH]

Every task is rendered against its preview events (as `ratchet task check` does).
Parses are cached per task version, as in the engine, so the numbers measure
rendering plus output parsing. Stock python-liquid (default `Environment`, lax mode
so unknown Mechanic filters do not abort the render) runs on the scripts it can
parse; Ratchet is timed on that same subset for the ratio, and on the whole corpus.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from liquid import Environment, Mode

from ratchet.core.task_export import TaskImportError, parse_export
from ratchet.liquid import RenderRequest, TaskRenderError, render_task
from ratchet.liquid.render import build_variables
from ratchet.services.check import preview_events, preview_request

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "tasks"


def load(corpus: Path) -> list[tuple[str, list[RenderRequest]]]:
    tasks = []
    for path in sorted(corpus.glob("*.json")):
        try:
            defn = parse_export(path.read_bytes())
        except TaskImportError:
            continue
        requests = [preview_request(defn, event) for _, event in preview_events(defn)]
        if requests:
            tasks.append((path.name, requests))
    return tasks


def throughput(work: list[Callable[[], Any]], seconds: float) -> float:
    """Renders per second, cycling through `work` for about `seconds`."""
    for job in work:  # warm caches (parses) outside the timed loop
        job()
    count = 0
    started = time.perf_counter()
    while True:
        for job in work:
            job()
        count += len(work)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count / elapsed


def ratchet_job(req: RenderRequest) -> Callable[[], Any]:
    def job() -> Any:
        try:
            return render_task(req)
        except TaskRenderError:
            return None

    return job


def stock_job(template: Any, req: RenderRequest) -> Callable[[], Any]:
    variables = build_variables(req)
    variables["options"] = req.options

    def job() -> Any:
        return template.render(**variables)

    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"corpus not found: {args.corpus}")

    tasks = load(args.corpus)
    strict = Environment()
    stock = Environment(tolerance=Mode.LAX, strict_filters=False)
    stock_work: list[Callable[[], Any]] = []
    ours_subset: list[Callable[[], Any]] = []
    stock_tasks = 0
    for _name, requests in tasks:
        try:
            strict.from_string(requests[0].script)
        except Exception:
            continue
        template = stock.from_string(requests[0].script)
        stock_tasks += 1
        stock_work += [stock_job(template, r) for r in requests]
        ours_subset += [ratchet_job(r) for r in requests]
    ours_all = [ratchet_job(r) for _, requests in tasks for r in requests]

    all_rate = throughput(ours_all, args.seconds)
    ours_rate = throughput(ours_subset, args.seconds)
    stock_rate = throughput(stock_work, args.seconds)
    print(f"corpus: {len(tasks)} tasks, {len(ours_all)} preview renders; stock parses {stock_tasks} tasks")
    print(f"ratchet, whole corpus:        {all_rate:10.1f} renders/s")
    print(f"ratchet, stock-parsable set:  {ours_rate:10.1f} renders/s")
    print(f"stock python-liquid, same set:{stock_rate:10.1f} renders/s")
    print(f"ratio ratchet/stock:          {ours_rate / stock_rate:10.2f}x")


if __name__ == "__main__":
    main()
