"""`ratchet runs list|show|retry`."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import typer

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.errors import InvalidInput
from starter.api import DEFAULT_RATE, BulkRetryView, Ratchet, RetryPlan, RetrySelection, RunView, parse_since
from starter.cli.common import AddressOpt, JsonOpt, ShopOpt, connect, iso, out, print_json, run

app = typer.Typer(no_args_is_help=True, help="Inspect and retry event, task and action runs.")


def _run_json(view: RunView) -> dict[str, Any]:
    data = view.model_dump()
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = iso(value)
    data["kind"] = view.kind.value
    data["state"] = view.state.value
    return data


@app.command("list")
def runs_list(
    kind: Annotated[RunKind | None, typer.Option("--kind")] = None,
    state: Annotated[RunState | None, typer.Option("--state")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Task name or id.")] = None,
    event: Annotated[
        str | None, typer.Option("--event", help="An event id: its event run and all its task and action runs.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 200,
    shop: ShopOpt = "default",
    as_json: JsonOpt = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Full ids, topics and errors (lines longer than the terminal).")
    ] = False,
) -> None:
    """List runs, newest first: one line per run that fits the terminal."""
    from starter.runs_table import print_runs

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        runs = await api.runs.list(kind=kind, state=state, task=task, event_id=event, limit=limit)
        if as_json:
            print_json([_run_json(r) for r in runs])
            return
        print_runs(runs, wide=wide)

    run(go())


@app.command("show")
def runs_show(run_id: str, shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """Show one run: state, result, error, every attempt, notes."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        data = _run_json(await api.runs.get(run_id))
        if as_json:
            print_json(data)
            return
        for key, value in data.items():
            if value in (None, [], {}):
                continue
            text = json.dumps(value, indent=2, default=str) if isinstance(value, (dict, list)) else str(value)
            out.print(f"[bold]{key}[/bold]: {text}", markup=True)

    run(go())


@app.command("retry")
def runs_retry(
    run_id: Annotated[str | None, typer.Argument(help="The run to retry (or --failed for many).")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed run the filters select.")] = False,
    task: Annotated[str | None, typer.Option("--task", help="With --failed: only this task's runs.")] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", help="With --failed: events of this topic (or a prefix ending in /).")
    ] = None,
    kind: Annotated[
        builtins.list[RunKind] | None, typer.Option("--kind", help="With --failed: only these kinds.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="With --failed: events since 7d, 12h, 30m ago or a time; default 7d.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="With --failed: events before this.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="With --failed: the bulk retry's name (required).")] = None,
    rate: Annotated[float, typer.Option("--rate", help="With --failed: retries per second at most.")] = DEFAULT_RATE,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --failed: only show what would be retried.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --failed: start without asking.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --failed: wait until it is done.")] = False,
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Retry a run now (only if Mechanic's rules allow it), or with --failed many.

    With --failed, every failed run the filters select is retried by a durable bulk retry at a
    bounded rate.
    """
    if (run_id is None) == (not failed):
        raise InvalidInput("give a run id, or --failed with filters (not both)")

    async def go() -> None:
        api = await connect(temporal_address, shop, temporal=not dry_run)
        if run_id is not None:
            accepted = await api.runs.retry(run_id, reason)
            out.print(f"retrying {accepted.kind.value} run {accepted.run_id}")
            return
        task_id = (await api.tasks.get(task)).id if task else None
        selection = RetrySelection(
            task_id=task_id,
            topic=topic,
            kinds=tuple(kind) if kind else RetrySelection().kinds,
            since=_since(since),
            until=_since(until),
        )
        await _bulk_retry(api, selection, name, _BulkOptions(rate, dry_run, yes, wait))

    run(go())


def _since(value: str | None) -> datetime | None:
    return parse_since(value, utcnow()) if value else None


def _print_plan(plan: RetryPlan) -> None:
    window = f"events since {iso(plan.since)}" + (f" and before {iso(plan.until)}" if plan.until else "")
    kinds = ", ".join(f"{n} {kind.value} run(s)" for kind, n in plan.by_kind.items())
    out.print(f"{plan.count} failed run(s) in {window}" + (f": {kinds}" if kinds else ""), markup=False)
    for kind, uses in plan.uses.items():
        out.print(f"  a retried {kind.value} run {uses}", markup=False)
    for run_ in plan.sample:
        what = run_.task_name or run_.topic
        if run_.action_type:
            what += f" / {run_.action_type}"
        out.print(f"  {run_.id[:8]}  {run_.kind.value:6}  {what}: {run_.error or ''}", markup=False)
    if plan.count > len(plan.sample):
        out.print(f"  … and {plan.count - len(plan.sample)} more", markup=False)


def _print_bulk(view: BulkRetryView) -> None:
    out.print(
        f"{view.id}  {view.name!r}  {view.state}: {view.done}/{view.total} done, "
        f"{view.retried} retried, {view.refused} refused",
        markup=False,
    )
    for refusal in view.refusals:
        out.print(f"  refused {refusal['kind']} run {refusal['run_id']}: {refusal['reason']}", markup=False)


async def _bulk_retry(api: Ratchet, selection: RetrySelection, name: str | None, options: _BulkOptions) -> None:
    plan = await api.runs.plan_retry(selection)
    _print_plan(plan)
    if options.dry_run or plan.count == 0:
        return
    if not name:
        raise InvalidInput("name the bulk retry with --name (say which incident it recovers from)")
    if not options.yes:
        if not sys.stdin.isatty():
            raise InvalidInput("add --yes to start the bulk retry without a prompt")
        typer.confirm(f"Retry these {plan.count} run(s)?", abort=True)
    view = await api.runs.retry_failed(selection, name, rate_per_second=options.rate)
    out.print(f"started bulk retry {view.id} (Temporal workflow {view.workflow_id})", markup=False)
    if not options.wait:
        out.print(f"follow it with `ratchet runs bulk-retries {view.id}`", markup=False)
        return
    while view.state == "running":
        await asyncio.sleep(1)
        view = await api.runs.bulk_retry(view.id)
    _print_bulk(view)


@dataclass(frozen=True)
class _BulkOptions:
    rate: float
    dry_run: bool
    yes: bool
    wait: bool


@app.command("bulk-retries")
def runs_bulk_retries(
    bulk_retry_id: Annotated[str | None, typer.Argument(help="One bulk retry: its progress and refusals.")] = None,
    cancel: Annotated[bool, typer.Option("--cancel", help="Stop it before its next batch.")] = False,
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List bulk retries (`runs retry --failed`), or show one with every refused run and why."""

    async def go() -> None:
        api = await connect(temporal_address, shop, temporal=cancel)
        if bulk_retry_id is None:
            views = await api.runs.bulk_retries()
        else:
            if cancel:
                await api.runs.cancel_bulk_retry(bulk_retry_id)
                out.print("cancelling: it stops before its next batch", markup=False)
            views = [await api.runs.bulk_retry(bulk_retry_id)]
        if as_json:
            print_json([{**dataclasses.asdict(v), "done": v.done} for v in views])
            return
        for view in views:
            _print_bulk(view)

    run(go())
