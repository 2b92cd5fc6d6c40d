"""The `ratchet` command line.

Errors print one readable line on stderr and exit non-zero. Every process leaves through
`os._exit` once output is flushed: the Temporal SDK can abort at interpreter exit
(temporalio/sdk-python#300), which must never turn a success into a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ratchet.config import DEFAULT_TEMPORAL_PORT, DEFAULT_UI_PORT, Settings, load_settings
from ratchet.core.api_versions import effective_api_version
from ratchet.core.runs import RunKind, RunState
from ratchet.core.subscriptions import TopicError, validate_topic
from ratchet.store.tables import Task
from starter.api import Ratchet, RatchetError, load_json_argument

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Ratchet: Mechanic-compatible automation on Temporal."
)
shop_app = typer.Typer(no_args_is_help=True, help="Shops and their settings.")
task_app = typer.Typer(no_args_is_help=True, help="Import, configure, enable and run tasks.")
event_app = typer.Typer(no_args_is_help=True, help="Send events.")
runs_app = typer.Typer(no_args_is_help=True, help="Inspect and retry event, task and action runs.")
app.add_typer(shop_app, name="shop")
app.add_typer(task_app, name="task")
app.add_typer(event_app, name="event")
app.add_typer(runs_app, name="runs")

out = Console(highlight=False, soft_wrap=True)

ShopOpt = Annotated[str, typer.Option("--shop", envvar="RATCHET_SHOP", help="Shop to act on.")]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--temporal-address", envvar="RATCHET_TEMPORAL_ADDRESS", help="Use this Temporal cluster (host:port)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _settings(address: str | None = None, shop: str | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if address:
        overrides["temporal_address"] = address
    if shop:
        overrides["shop"] = shop
    return load_settings(**overrides)


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def _api(settings: Settings, temporal: bool = True) -> Ratchet:
    return await Ratchet.connect(settings, temporal=temporal)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=lambda v: _iso(v) if isinstance(v, datetime) else str(v)))


# -- system ---------------------------------------------------------------------------------------


@app.command()
def dev(
    temporal_address: AddressOpt = None,
    port: Annotated[int, typer.Option(help="gRPC port of the embedded Temporal server.")] = DEFAULT_TEMPORAL_PORT,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = DEFAULT_UI_PORT,
) -> None:
    """Start everything on the embedded defaults: Temporal dev server, worker (Ctrl-C stops)."""
    from starter.dev import run_dev

    _run(run_dev(_settings(temporal_address), port=port, ui_port=ui_port, use_existing=temporal_address is not None))


@app.command()
def worker(temporal_address: AddressOpt = None) -> None:
    """Run one worker (run more of these to scale out)."""
    from starter.dev import run_worker_until_signalled

    _run(run_worker_until_signalled(_settings(temporal_address)))


# -- shops ----------------------------------------------------------------------------------------


def _shop_command(
    name: str,
    create: bool,
    timezone: str | None,
    shopify_domain: str | None,
    access_token: str | None,
    webhook_secret: str | None,
    api_version: str | None,
) -> None:
    async def go() -> None:
        api = await _api(_settings(), temporal=False)
        shop = await api.set_shop(
            name,
            create=create,
            timezone_name=timezone,
            shopify_domain=shopify_domain,
            access_token=access_token,
            webhook_secret=webhook_secret,
            api_version=api_version,
        )
        # Secrets are never printed back, only whether they are set.
        out.print(
            f"shop {shop.id}: timezone {shop.timezone}, shopify domain {shop.shopify_domain or '-'}, "
            f"API version {effective_api_version(None, shop.shopify_api_version)}, "
            f"access token {'set' if shop.access_token else 'not set'}, webhook secret {'set' if shop.webhook_secret else 'not set'}"
        )

    _run(go())


TimezoneOpt = Annotated[str | None, typer.Option("--timezone", help="IANA time zone, e.g. America/New_York.")]
DomainOpt = Annotated[str | None, typer.Option("--shopify-domain", help="example.myshopify.com")]
TokenOpt = Annotated[str | None, typer.Option("--access-token", help="Shopify Admin API access token.")]
SecretOpt = Annotated[str | None, typer.Option("--webhook-secret", help="Shopify app secret for webhook HMACs.")]
ShopApiVersionOpt = Annotated[
    str | None,
    typer.Option("--api-version", help="Shopify Admin API version (e.g. 2026-10) for tasks that name none."),
]


@shop_app.command("add")
def shop_add(
    name: str,
    timezone: TimezoneOpt = None,
    shopify_domain: DomainOpt = None,
    access_token: TokenOpt = None,
    webhook_secret: SecretOpt = None,
    api_version: ShopApiVersionOpt = None,
) -> None:
    """Add a shop."""
    _shop_command(name, True, timezone, shopify_domain, access_token, webhook_secret, api_version)


@shop_app.command("set")
def shop_set(
    name: str,
    timezone: TimezoneOpt = None,
    shopify_domain: DomainOpt = None,
    access_token: TokenOpt = None,
    webhook_secret: SecretOpt = None,
    api_version: ShopApiVersionOpt = None,
) -> None:
    """Change a shop's settings."""
    _shop_command(name, False, timezone, shopify_domain, access_token, webhook_secret, api_version)


@shop_app.command("sync")
def shop_sync(name: Annotated[str, typer.Argument(envvar="RATCHET_SHOP")] = "default") -> None:
    """Refresh the shop from Shopify: name, time zone, currency, granted scopes."""

    async def go() -> None:
        api = await _api(_settings(), temporal=False)
        shop = await api.sync_shop(name)
        out.print(f"shop {shop.id}: synced from Shopify; timezone {shop.timezone}")

    _run(go())


# -- tasks ----------------------------------------------------------------------------------------


@task_app.command("import")
def task_import(
    file: Path,
    shop: ShopOpt = "default",
    reset: Annotated[
        bool, typer.Option("--reset", help="Over an existing task: take the export's options and enabled state too.")
    ] = False,
) -> None:
    """Import a Mechanic task export (JSON). Prints the task id last."""

    async def go() -> None:
        api = await _api(_settings(shop=shop), temporal=False)
        imported = await api.import_task(file, reset=reset)
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
        _print_public_url_note(imported.task, api.settings)
        print(imported.task.id)

    _run(go())


@task_app.command("list")
def task_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """List tasks."""

    async def go() -> None:
        api = await _api(_settings(shop=shop), temporal=False)
        tasks = await api.list_tasks()
        if as_json:
            _print_json(
                [{"id": t.id, "name": t.name, "enabled": t.enabled, "subscriptions": t.subscriptions} for t in tasks]
            )
            return
        table = Table("id", "name", "enabled", "subscriptions")
        for t in tasks:
            table.add_row(t.id, t.name, "yes" if t.enabled else "no", "\n".join(t.subscriptions))
        out.print(table)

    _run(go())


def _print_public_url_note(task: Task, settings: Settings) -> None:
    from ratchet.services.shopify_webhooks import public_url_note

    note = public_url_note(task, settings.public_url)
    if note:
        out.print(note, markup=False)


def _set_enabled(ref: str, shop: str, enabled: bool) -> None:
    async def go() -> None:
        api = await _api(_settings(shop=shop), temporal=False)
        task = await api.set_enabled(ref, enabled)
        out.print(f"{task.name!r} is {'enabled' if enabled else 'disabled'}")
        _print_public_url_note(task, api.settings)

    _run(go())


@task_app.command("enable")
def task_enable(task: str, shop: ShopOpt = "default") -> None:
    """Enable a task (refused while a required option is empty)."""
    _set_enabled(task, shop, True)


@task_app.command("disable")
def task_disable(task: str, shop: ShopOpt = "default") -> None:
    """Disable a task; its outstanding runs fail when performed."""
    _set_enabled(task, shop, False)


@task_app.command("configure")
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
        loaded = load_json_argument(options)
        if not isinstance(loaded, dict):
            raise RatchetError("--options must be a JSON object")
        updates.update(loaded)
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RatchetError(f"invalid --option {item!r}: expected KEY=VALUE")
        updates[key.strip()] = value
    if not updates and api_version is None:
        raise RatchetError("nothing to configure: pass --option KEY=VALUE, --options @file.json or --api-version")

    async def go() -> None:
        api = await _api(_settings(shop=shop), temporal=False)
        updated = await api.configure_task(task, updates, api_version=api_version)
        out.print(
            f"configured {updated.name!r}; subscriptions: {', '.join(updated.subscriptions) or 'none'}"
            + (f"; API version {updated.shopify_api_version}" if api_version else "")
        )

    _run(go())


@task_app.command("run")
def task_run(
    task: str,
    text: Annotated[str | None, typer.Option("--text", help="Send mechanic/user/text with this text.")] = None,
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Press the task's run button. Prints the event id last."""

    async def go() -> None:
        api = await _api(_settings(temporal_address, shop))
        print(await api.run_task(task, text=text))

    _run(go())


@task_app.command("check")
def task_check(
    files: list[Path],
    as_json: JsonOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero on warnings too (for CI).")] = False,
) -> None:
    """Check task exports offline: parse, subscriptions, preview renders, unsupported features."""
    from ratchet.services.check import run_check

    raise typer.Exit(run_check(files, as_json, strict))


# -- events ---------------------------------------------------------------------------------------


@event_app.command("send")
def event_send(
    topic: str,
    data: Annotated[str | None, typer.Option("--data", help="JSON, or @file.json.")] = None,
    run_at: Annotated[str | None, typer.Option("--run-at", help="ISO 8601 time or Unix seconds.")] = None,
    event_key: Annotated[
        str | None, typer.Option("--id", help="Idempotency key: the same key twice makes one event.")
    ] = None,
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Send an event. Prints the event id last."""
    try:
        topic = validate_topic(topic)
    except TopicError as exc:
        raise RatchetError(str(exc)) from exc
    payload = load_json_argument(data) if data is not None else None

    async def go() -> None:
        api = await _api(_settings(temporal_address, shop))
        print(await api.send_event(topic, payload, run_at=run_at, idempotency_key=event_key))

    _run(go())


# -- runs -----------------------------------------------------------------------------------------


def _run_json(view: Any) -> dict[str, Any]:
    data = view.model_dump()
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = _iso(value)
    data["kind"] = view.kind.value
    data["state"] = view.state.value
    return data


@runs_app.command("list")
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
) -> None:
    """List runs, newest first."""

    async def go() -> None:
        api = await _api(_settings(shop=shop), temporal=False)
        runs = await api.list_runs(kind=kind, state=state, task=task, event_id=event, limit=limit)
        if as_json:
            _print_json([_run_json(r) for r in runs])
            return
        table = Table("id", "kind", "state", "topic", "task", "action", "attempts", "run at", "error")
        for r in runs:
            table.add_row(
                r.id,
                r.kind.value,
                r.state.value,
                r.topic,
                r.task_name or "",
                r.action_type or "",
                str(r.attempts),
                _iso(r.run_at) or "",
                (r.error or "")[:80],
            )
        out.print(table)

    _run(go())


@runs_app.command("show")
def runs_show(run_id: str, shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """Show one run: state, result, error, every attempt, notes."""

    async def go() -> None:
        api = await _api(_settings(shop=shop), temporal=False)
        detail = await api.get_run(run_id)
        data = _run_json(detail)
        if as_json:
            _print_json(data)
            return
        for key, value in data.items():
            if value in (None, [], {}):
                continue
            text = json.dumps(value, indent=2, default=str) if isinstance(value, (dict, list)) else str(value)
            out.print(f"[bold]{key}[/bold]: {text}", markup=True)

    _run(go())


@runs_app.command("retry")
def runs_retry(
    run_id: str,
    reason: Annotated[str, typer.Option("--reason")] = "",
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Retry a run now (only if Mechanic's rules allow it)."""

    async def go() -> None:
        api = await _api(_settings(temporal_address, shop))
        accepted = await api.retry_run(run_id, reason)
        out.print(f"retrying {accepted.kind.value} run {accepted.run_id}")

    _run(go())


def main(argv: list[str] | None = None) -> None:
    code = 0
    try:
        result = app(args=argv, standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except RatchetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except (typer.Exit, SystemExit) as exc:
        code = int(getattr(exc, "exit_code", getattr(exc, "code", 0)) or 0)
    except typer.Abort:
        code = 130
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            # A usage error from the argument parser (bad option value, missing argument).
            print(f"error: {exc.format_message()}", file=sys.stderr)
            code = int(exc.exit_code)
        else:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


from starter.ingress_cli import register as _register_ingress  # noqa: E402  (needs the helpers above)

_register_ingress(app, shop_app)

from starter.filter_cli import register as _register_filters  # noqa: E402  (needs the helpers above)

_register_filters(app)


if __name__ == "__main__":
    main()
