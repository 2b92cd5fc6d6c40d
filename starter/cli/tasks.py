"""`ratchet task import|list|enable|disable|configure|run|check`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ratchet.errors import InvalidInput
from ratchet.store.tables import Task
from starter.api import Ratchet
from starter.cli.common import AddressOpt, JsonOpt, ShopOpt, connect, out, print_json, read_json_argument, run

app = typer.Typer(no_args_is_help=True, help="Import, configure, enable and run tasks.")


@app.command("import")
def task_import(
    file: Path,
    shop: ShopOpt = "default",
    reset: Annotated[
        bool, typer.Option("--reset", help="Over an existing task: take the export's options and enabled state too.")
    ] = False,
) -> None:
    """Import a Mechanic task export (JSON). Prints the task id last."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        imported = await api.tasks.import_(file, reset=reset)
        verb = "replaced" if imported.replaced else "imported"
        if imported.missing_required_options:
            out.print(
                f"{verb} {imported.task.name!r} (disabled): set the required options "
                f"{', '.join(imported.missing_required_options)} with `ratchet task configure`, then `ratchet task enable`",
            )
        elif not imported.task.enabled:
            out.print(f"{verb} {imported.task.name!r} (kept disabled): `ratchet task enable` runs it")
        else:
            out.print(
                f"{verb} {imported.task.name!r} (enabled), subscribed to: {', '.join(imported.task.subscriptions) or 'nothing'}"
            )
        for change in imported.changes:
            out.print(f"  changed: {change}", markup=False)
        for warning in imported.warnings:
            out.print(f"  warning [{warning.code}]: {warning.message}", markup=False)
        _print_public_url_note(api, imported.task)
        print(imported.task.id)

    run(go())


@app.command("list")
def task_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """List tasks."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        tasks = await api.tasks.list()
        problems = await api.tasks.webhook_problems()
        if as_json:
            print_json(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "enabled": t.enabled,
                        "subscriptions": t.subscriptions,
                        "webhook_problems": problems.get(t.id, []),
                    }
                    for t in tasks
                ]
            )
            return
        table = Table("id", "name", "enabled", "subscriptions")
        for t in tasks:
            table.add_row(t.id, t.name, "yes" if t.enabled else "no", "\n".join(t.subscriptions))
        out.print(table)
        for t in tasks:
            for problem in problems.get(t.id, []):
                out.print(f"{t.name!r} will not receive {problem}", markup=False)

    run(go())


def _print_public_url_note(api: Ratchet, task: Task) -> None:
    note = api.tasks.webhook_registration_note(task)
    if note:
        out.print(note, markup=False)


def _set_enabled(ref: str, shop: str, enabled: bool) -> None:
    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        task = await api.tasks.set_enabled(ref, enabled)
        out.print(f"{task.name!r} is {'enabled' if enabled else 'disabled'}")
        _print_public_url_note(api, task)

    run(go())


@app.command("enable")
def task_enable(task: str, shop: ShopOpt = "default") -> None:
    """Enable a task (refused while a required option is empty)."""
    _set_enabled(task, shop, True)


@app.command("disable")
def task_disable(task: str, shop: ShopOpt = "default") -> None:
    """Disable a task; its outstanding runs fail when performed."""
    _set_enabled(task, shop, False)


@app.command("configure")
def task_configure(
    task: str,
    option: Annotated[list[str] | None, typer.Option("--option", help="KEY=VALUE (repeatable).")] = None,
    options: Annotated[str | None, typer.Option("--options", help="JSON object or @file.json.")] = None,
    api_version: Annotated[
        str | None, typer.Option("--api-version", help="Shopify Admin API version for this task (e.g. 2026-10).")
    ] = None,
    shop: ShopOpt = "default",
) -> None:
    """Set task options (validated by their flags; subscriptions re-render) or its Shopify API version."""
    updates: dict[str, Any] = {}
    if options is not None:
        loaded = read_json_argument(options)
        if not isinstance(loaded, dict):
            raise InvalidInput("--options must be a JSON object")
        updates.update(loaded)
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"invalid --option {item!r}: expected KEY=VALUE")
        updates[key.strip()] = value
    if not updates and api_version is None:
        raise InvalidInput("nothing to configure: pass --option KEY=VALUE, --options @file.json or --api-version")

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        updated = await api.tasks.configure(task, updates, api_version=api_version)
        out.print(
            f"configured {updated.name!r}; subscriptions: {', '.join(updated.subscriptions) or 'none'}"
            + (f"; API version {updated.shopify_api_version}" if api_version else "")
        )

    run(go())


@app.command("run")
def task_run(
    task: str,
    text: Annotated[str | None, typer.Option("--text", help="Send mechanic/user/text with this text.")] = None,
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Press the task's run button. Prints the event id last."""

    async def go() -> None:
        api = await connect(temporal_address, shop)
        print(await api.tasks.run(task, text=text))

    run(go())


@app.command("check")
def task_check(
    files: list[Path],
    as_json: JsonOpt = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero when a feature the task uses will not work here (for CI).")
    ] = False,
) -> None:
    """Check task exports offline: parse, subscriptions, preview renders, unsupported features."""
    # Offline and storeless, so not a facade resource: the checker prints its own report.
    from ratchet.services.check import run_check

    raise typer.Exit(run_check(files, as_json, strict))
