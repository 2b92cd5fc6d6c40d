"""`ratchet runs list|show|retry`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from ratchet.core.runs import RunKind, RunState
from starter.api import RunView
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
    run_id: str,
    reason: Annotated[str, typer.Option("--reason")] = "",
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Retry a run now (only if Mechanic's rules allow it)."""

    async def go() -> None:
        api = await connect(temporal_address, shop)
        accepted = await api.runs.retry(run_id, reason)
        out.print(f"retrying {accepted.kind.value} run {accepted.run_id}")

    run(go())
