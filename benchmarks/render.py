"""Render throughput over the whole Mechanic task corpus: Ratchet against stock python-liquid and Ruby Liquid.

    uv run python benchmarks/render.py [--seconds 2] [--rounds 3] [--corpus PATH]
    uv run python benchmarks/render.py --ruby-input /tmp/render-input.json   # then, by hand:
    ruby benchmarks/render_ruby.rb /tmp/render-input.json benchmarks/render_ruby_results.json

Every task is rendered against its preview events (as `ratchet task check` does), parses cached
per script as in the engine. Three figures, rounds interleaved so the machine's drift falls on all:
  * Ratchet, render alone: the script rendered to text (options rendered once beforehand, as
    stock gets them), the same work stock does;
  * Ratchet, render + action parsing: `render_task`, what a task run does (variables built, options
    rendered, the output's JSON objects parsed and checked);
  * stock python-liquid 2 (benchmarks/stock_liquid.py: default environment, strict parsing,
    Mechanic's tags as no-op stand-ins, its data flow as in Mechanic) on the same templates and
    variables.
The ratios use the tasks both parse. Ruby Liquid 5.4 (Shopify's, Mechanic's own engine; Debian
`ruby-liquid`) is measured by the committed Ruby script on the same templates and variables
(exported as JSON, stand-in Mechanic tags and filters), and its committed results file is read here,
so this benchmark needs no Ruby; its ratio spans two runs, at the dates printed.

The heavy render users feel, a bulk operation's 100,000 JSONL objects, is benchmarks/bulk_results.py.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.stock_liquid import stock_environment
from ratchet.core.task_export import TaskImportError, parse_export
from ratchet.liquid import RenderRequest, TaskRenderError, render_task
from ratchet.liquid.filters import register_filters
from ratchet.liquid.render import build_variables, render_options, render_template
from ratchet.services.check import preview_events, preview_request

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "tasks"
RUBY_RESULTS = Path(__file__).resolve().parent / "render_ruby_results.json"

Job = Callable[[], Any]


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


def timed(work: list[Job], seconds: float) -> tuple[int, float]:
    """Renders done and seconds taken, cycling through `work` for about `seconds`."""
    count = 0
    started = time.perf_counter()
    while True:
        for job in work:
            job()
        count += len(work)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count, elapsed


def interleaved(sides: dict[str, list[Job]], seconds: float, rounds: int) -> dict[str, float]:
    """Renders per second of each side, pooled over `rounds` rounds that visit every side in turn."""
    for work in sides.values():  # warm the parse caches outside the timed loops
        for job in work:
            job()
    totals = {name: [0, 0.0] for name in sides}
    for _ in range(rounds):
        for name, work in sides.items():
            count, elapsed = timed(work, seconds)
            totals[name][0] += count
            totals[name][1] += elapsed
    return {name: count / elapsed for name, (count, elapsed) in totals.items()}


def render_job(req: RenderRequest) -> Job:
    """Ratchet's render of the script alone, on variables and options prepared once."""
    variables = build_variables(req)
    state: dict[str, Any] = {"preview": req.preview, "shopify": req.shopify, "timezone": req.timezone}
    variables["options"] = render_options(req, variables, state)

    def job() -> Any:
        try:
            return render_template(req.script, variables, state=dict(state))
        except TaskRenderError:
            return None

    return job


def task_run_job(req: RenderRequest) -> Job:
    """What a task run does: variables, options, render, output parsed into actions."""

    def job() -> Any:
        try:
            return render_task(req)
        except TaskRenderError:
            return None

    return job


def stock_job(template: Any, req: RenderRequest, failures: set[str], name: str) -> Job:
    variables = build_variables(req)
    variables["options"] = req.options

    def job() -> Any:
        try:
            return template.render(**variables)
        except Exception:  # counted and printed: a failed render did less work
            failures.add(name)
            return None

    return job


def ruby_input(tasks: list[tuple[str, list[RenderRequest]]]) -> dict[str, Any]:
    """The templates and plain-JSON variables the Ruby script renders, and Mechanic's filter names."""
    renders = []
    for name, requests in tasks:
        for req in requests:
            event = {**req.event, "preview": True}
            variables: dict[str, Any] = {"event": event, "shop": req.shop, "task": req.task, "cache": {}}
            variables["options"] = req.options
            variables.update({key: event.get("data") for key in _subject_names(req)})
            renders.append({"task": name, "script": req.script, "variables": variables})
    return {"renders": renders, "filters": sorted(_mechanic_filter_names())}


def _subject_names(req: RenderRequest) -> list[str]:
    known = {"event", "shop", "task", "cache", "options"}
    return [key for key in build_variables(req) if key not in known]


def _mechanic_filter_names() -> set[str]:
    from liquid import Environment

    env = Environment()
    register_filters(env)
    return set(env.filters)


def ruby_line(rate: float) -> str:
    if not RUBY_RESULTS.exists():
        return "ratio ratchet/ruby (render, whole corpus): n/a (no benchmarks/render_ruby_results.json)"
    ruby = json.loads(RUBY_RESULTS.read_text())
    return (
        f"ratio ratchet/ruby (render, whole corpus): {rate / ruby['renders_per_s']:.2f} "
        f"(Ruby Liquid {ruby['liquid']} on ruby {ruby['ruby']}: {ruby['renders_per_s']:.1f} renders/s "
        f"over {ruby['tasks']} tasks, {ruby['date']}; load {ruby['load']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per side per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, pooled")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--ruby-input", type=Path, help="write the Ruby script's input here and stop")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"corpus not found: {args.corpus}")

    tasks = load(args.corpus)
    if args.ruby_input:
        args.ruby_input.write_text(json.dumps(ruby_input(tasks), default=str))
        return
    stock = stock_environment()
    sides: dict[str, list[Job]] = {"ratchet": [], "stock": [], "task_run": []}
    unparsed, failures = [], set[str]()
    for name, requests in tasks:
        try:
            template = stock.from_string(requests[0].script)
        except Exception:  # listed below
            unparsed.append(name)
            continue
        sides["stock"] += [stock_job(template, r, failures, name) for r in requests]
        sides["ratchet"] += [render_job(r) for r in requests]
        sides["task_run"] += [task_run_job(r) for r in requests]
    rates = interleaved(sides, args.seconds, args.rounds)
    renders = len(sides["ratchet"])
    print(f"corpus: {len(tasks)} tasks; both parse {len(tasks) - len(unparsed)} ({renders} preview renders)")
    print(f"stock cannot parse: {', '.join(unparsed) or 'none'}; stock render raised on {len(failures)} tasks")
    print(f"ratchet, render alone:            {rates['ratchet']:10.1f} renders/s")
    print(f"ratchet, render + action parsing: {rates['task_run']:10.1f} renders/s")
    print(f"stock python-liquid 2, render:    {rates['stock']:10.1f} renders/s")
    print(f"ratio ratchet/stock (render + action parsing vs render): {rates['task_run'] / rates['stock']:.2f}")
    print(f"ratio ratchet/stock (render, whole corpus): {rates['ratchet'] / rates['stock']:.2f}")
    print(ruby_line(rates["ratchet"]))


if __name__ == "__main__":
    main()
