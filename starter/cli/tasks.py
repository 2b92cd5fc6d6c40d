"""`ratchet task import|list|enable|disable|configure|run|export|delete|versions|restore|check`."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ratchet.errors import InvalidInput
from ratchet.store.tables import Task
from starter.api import Ratchet, parse_refs
from starter.cli.common import (
    AddressOpt,
    JsonOpt,
    ShopOpt,
    connect,
    iso,
    out,
    print_json,
    read_json_argument,
    run,
    settings_for,
)

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
    updates.update(_pairs(option, "--option"))
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


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"invalid {flag} {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


@app.command("run")
def task_run(
    task: str,
    text: Annotated[str | None, typer.Option("--text", help="Send mechanic/user/text with this text.")] = None,
    form: Annotated[
        list[str] | None, typer.Option("--form", help="Send mechanic/user/form: KEY=VALUE of a userform option.")
    ] = None,
    resource: Annotated[
        str | None,
        typer.Option("--resource", help="Run for Shopify resources: order, customer, draft_order, collection."),
    ] = None,
    ids: Annotated[
        str | None, typer.Option("--ids", help="With --resource: ids or order names (#1001), comma-separated.")
    ] = None,
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Press the task's run button (or its form, or an admin action link). Prints the event ids last."""
    if resource is not None and not ids:
        raise InvalidInput("--resource needs --ids")

    async def go() -> None:
        api = await connect(temporal_address, shop)
        if resource is not None:
            for event_id in await api.tasks.run_for(task, resource, parse_refs(ids or "")):
                print(event_id)
            return
        print(await api.tasks.run(task, text=text, form=_pairs(form, "--form") if form else None))

    run(go())


@app.command("export")
def task_export(
    task: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    shop: ShopOpt = "default",
) -> None:
    """Print (or write) the task's Mechanic export JSON."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        text = json.dumps(await api.tasks.export(task), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            sys.stdout.write(text)
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {output}: {exc.strerror}") from exc

    run(go())


@app.command("delete")
def task_delete(
    task: str,
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking.")] = False,
    shop: ShopOpt = "default",
) -> None:
    """Delete a task and its versions; its queued runs fail as a deleted task's do."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        found = await api.tasks.get(task)
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput("add --yes to delete without a prompt")
            typer.confirm(f"Delete {found.name!r} and its versions?", abort=True)
        await api.tasks.delete(found.id)
        out.print(f"deleted {found.name!r}", markup=False)

    run(go())


@app.command("versions")
def task_versions(
    task: str,
    version: Annotated[int | None, typer.Option("--diff", help="Show this version's diff from the one before.")] = None,
    shop: ShopOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """List the task's versions (who, when, what, content hash), or one version's unified diff."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        views = [await api.tasks.version(task, version)] if version is not None else await api.tasks.versions(task)
        if as_json:
            print_json([dataclasses.asdict(v) for v in views])
            return
        if version is not None:
            sys.stdout.write(views[0].diff + "\n")
            return
        table = Table("version", "when", "who", "change", "hash")
        for v in views:
            table.add_row(str(v.version), iso(v.created_at) or "", v.source, v.change, v.content_hash[:12])
        out.print(table)

    run(go())


@app.command("restore")
def task_restore(task: str, version: int, shop: ShopOpt = "default") -> None:
    """Make the task what VERSION was (its name and enabled state stay); records a new version."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        restored = await api.tasks.restore(task, version)
        out.print(f"restored {restored.name!r} to version {version}; now version {restored.version}", markup=False)

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

    raise typer.Exit(run_check(files, as_json, strict, settings_for().pdf_browser))
