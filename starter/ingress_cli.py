"""CLI commands for the outside world: `ratchet serve`, `ratchet webhook …`, `ratchet shop status`, `ratchet schedule sync`.

Registered onto the main Typer app by `register` (called at the bottom of starter/cli.py).
"""

# No `from __future__ import annotations`: Typer reads these annotations at runtime, and the
# option types are imported inside `register`, out of reach of deferred evaluation.

import asyncio
import dataclasses
from typing import Annotated, Any

import typer
from rich.table import Table

from ratchet.ingress.webhooks import WebhookConfigError, add_webhook, list_webhooks, remove_webhook
from starter.api import RatchetError


def register(app: typer.Typer, shop_app: typer.Typer) -> None:
    # Imported here: starter.cli imports this module at its bottom, once its helpers exist.
    from starter.cli import AddressOpt, JsonOpt, ShopOpt, _api, _print_json, _run, _settings, out

    webhook_app = typer.Typer(
        no_args_is_help=True, help="Mechanic webhooks: URLs that turn HTTP requests into user/… events."
    )
    schedule_app = typer.Typer(no_args_is_help=True, help="Temporal Schedules behind mechanic/scheduler/* topics.")
    app.add_typer(webhook_app, name="webhook")
    app.add_typer(schedule_app, name="schedule")

    @app.command()
    def serve(
        host: Annotated[str | None, typer.Option("--host", envvar="RATCHET_HTTP_HOST", help="Listen address.")] = None,
        port: Annotated[int | None, typer.Option("--port", envvar="RATCHET_HTTP_PORT", help="Listen port.")] = None,
        temporal_address: AddressOpt = None,
    ) -> None:
        """Run the HTTP ingress (Shopify and Mechanic webhooks) until Ctrl-C."""
        from ratchet.ingress.app import IngressConfig
        from ratchet.ingress.app import serve as serve_ingress
        from starter.dev import _stop_on_signals

        async def go() -> None:
            api = await _api(_settings(temporal_address))
            config = IngressConfig()
            config = dataclasses.replace(config, host=host or config.host, port=port or config.port)
            stop = _stop_on_signals()
            print(f"Ingress:       http://{config.host}:{config.port} (Ctrl-C stops)", flush=True)
            try:
                await serve_ingress(api.settings, api.store, api.client, stop, config)
            except OSError as exc:
                raise RatchetError(str(exc)) from exc

        _run(go())

    # -- webhooks ----------------------------------------------------------------------------------

    @webhook_app.command("add")
    def webhook_add(
        name: str,
        topic: Annotated[str, typer.Option("--topic", help="user/SUBJECT/VERB")],
        mode: Annotated[str, typer.Option("--mode", help="auto | full (the whole request as event data).")] = "auto",
        secret: Annotated[
            str | None, typer.Option("--secret", help="Require X-Ratchet-Hmac-SHA256 signed with this secret.")
        ] = None,
        shop: ShopOpt = "default",
    ) -> None:
        """Add a webhook. Prints its URL last."""
        from ratchet.ingress.app import IngressConfig

        async def go() -> None:
            api = await _api(_settings(shop=shop), temporal=False)
            hook = await asyncio.to_thread(_config_call, add_webhook, api.store, shop, name, topic, mode, secret)
            out.print(
                f"webhook {hook.name!r}: POST → {hook.topic} events ({hook.mode} mode{', signed' if hook.secret else ''})"
            )
            print(f"{IngressConfig().public_url(api.settings)}/webhooks/{hook.id}")

        _run(go())

    @webhook_app.command("list")
    def webhook_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
        """List the shop's webhooks."""
        from ratchet.ingress.app import IngressConfig

        async def go() -> None:
            api = await _api(_settings(shop=shop), temporal=False)
            hooks = await asyncio.to_thread(list_webhooks, api.store, shop)
            base = IngressConfig().public_url(api.settings)
            rows = [
                {
                    "id": h.id,
                    "name": h.name,
                    "topic": h.topic,
                    "mode": h.mode,
                    "signed": bool(h.secret),
                    "url": f"{base}/webhooks/{h.id}",
                }
                for h in hooks
            ]
            if as_json:
                _print_json(rows)
                return
            table = Table("name", "topic", "mode", "signed", "url")
            for row in rows:
                table.add_row(row["name"], row["topic"], row["mode"], "yes" if row["signed"] else "no", row["url"])
            out.print(table)

        _run(go())

    @webhook_app.command("remove")
    def webhook_remove(webhook: str, shop: ShopOpt = "default") -> None:
        """Remove a webhook (by name or id); its URL stops making events."""

        async def go() -> None:
            api = await _api(_settings(shop=shop), temporal=False)
            hook = await asyncio.to_thread(_config_call, remove_webhook, api.store, shop, webhook)
            out.print(f"removed webhook {hook.name!r} ({hook.id})")

        _run(go())

    # -- status and schedules ----------------------------------------------------------------------

    @shop_app.command("status")
    def shop_status(shop: ShopOpt = "default", as_json: JsonOpt = False, temporal_address: AddressOpt = None) -> None:
        """Running and waiting runs, queue lag, top waiting tasks/actions/topics, schedules."""
        from ratchet.services.events import UnknownShop
        from ratchet.services.status import shop_status as compute

        async def go() -> None:
            settings = _settings(temporal_address, shop)
            try:
                api = await _api(settings)
                client = api.client
            except RatchetError:
                # The ledger answers on its own; only the schedules need Temporal.
                api, client = await _api(settings, temporal=False), None
            try:
                status = await compute(api.store, shop, client, public_url=api.settings.public_url)
            except UnknownShop as exc:
                if as_json:
                    _print_json({"error": {"message": str(exc), "status": 404, "retry_after_seconds": None}})
                    raise typer.Exit(1) from exc
                raise RatchetError(str(exc)) from exc
            if as_json:
                _print_json(status)
                return
            _print_status(status)

        def _print_status(status: dict[str, Any]) -> None:
            running, waiting = status["running"], status["waiting"]
            out.print(f"shop {status['shop']} at {status['generated_at']}")
            for label, counts in (("running", running), ("waiting", waiting)):
                out.print(
                    f"  {label:<9}{counts['total']:>6}  (event {counts['event']}, task {counts['task']}, action {counts['action']})"
                )
            out.print(f"  scheduled{status['scheduled']:>6}")
            out.print(f"  queue lag {status['queue_lag_seconds']} s")
            top = status["top_waiting"]
            for title, rows, label in (
                ("top waiting tasks", top["tasks"], lambda r: f"{r['name']} ({r['id']})"),
                ("top waiting actions", top["actions"], lambda r: f"{r['type']} (task {r['task_id']})"),
                ("top waiting event topics", top["event_topics"], lambda r: r["topic"]),
            ):
                if rows:
                    out.print(f"  {title}:")
                    for row in rows:
                        out.print(f"    {row['count']:>6}  {label(row)}")
            shopify = status["shopify"]
            if shopify["connected"]:
                out.print(
                    f"  shopify {shopify['name']} ({shopify['myshopify_domain']}): {shopify['iana_timezone']}, "
                    f"{shopify['currency']}; scopes {', '.join(shopify['access_scopes'])}"
                )
                for hook in shopify["webhooks"]:
                    out.print(f"  webhook {hook['topic']}: {hook['error'] or 'registered'}")
                if shopify["webhooks_note"]:
                    out.print(f"  {shopify['webhooks_note']}")
            for entry in status.get("schedules", []):
                out.print(f"  schedule {entry['topic']}: next {entry['next_run_at']} ({entry['time_zone']})")

        _run(go())

    @schedule_app.command("sync")
    def schedule_sync(
        shop: Annotated[str | None, typer.Option("--shop", help="One shop (default: every shop).")] = None,
        temporal_address: AddressOpt = None,
    ) -> None:
        """Create, update and delete scheduler schedules to match enabled tasks and shop time zones."""
        from ratchet.engine.schedules import sync_all_schedules, sync_schedules

        async def go() -> None:
            api = await _api(_settings(temporal_address))
            queue = api.settings.task_queue
            if shop is None:
                results = await sync_all_schedules(api.client, api.store, task_queue=queue)
            else:
                await api.get_shop(shop)
                results = [await sync_schedules(api.client, api.store, shop, task_queue=queue)]
            for r in results:
                out.print(
                    f"{r.shop_id} ({r.time_zone}): {', '.join(t.rsplit('/', 1)[1] for t in r.active) or 'no scheduler topics'}"
                    + (f"; created {len(r.created)}" if r.created else "")
                    + (f"; removed {len(r.deleted)}" if r.deleted else "")
                )

        _run(go())


def _config_call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except WebhookConfigError as exc:
        raise RatchetError(str(exc)) from exc
