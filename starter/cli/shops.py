"""`ratchet shop add|set|sync|status`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ratchet.core.api_versions import effective_api_version
from ratchet.errors import RatchetError, Unavailable
from ratchet.store.tables import Shop
from starter.cli.common import AddressOpt, JsonOpt, ShopOpt, connect, out, print_json, run

app = typer.Typer(no_args_is_help=True, help="Shops and their settings.")

TimezoneOpt = Annotated[str | None, typer.Option("--timezone", help="IANA time zone, e.g. America/New_York.")]
DomainOpt = Annotated[str | None, typer.Option("--shopify-domain", help="example.myshopify.com")]
TokenOpt = Annotated[str | None, typer.Option("--access-token", help="Shopify Admin API access token.")]
SecretOpt = Annotated[str | None, typer.Option("--webhook-secret", help="Shopify app secret for webhook HMACs.")]
ApiVersionOpt = Annotated[
    str | None,
    typer.Option("--api-version", help="Shopify Admin API version (e.g. 2026-10) for tasks that name none."),
]


def _print_shop(shop: Shop) -> None:
    # Secrets are never printed back, only whether they are set.
    out.print(
        f"shop {shop.id}: timezone {shop.timezone}, shopify domain {shop.shopify_domain or '-'}, "
        f"API version {effective_api_version(None, shop.shopify_api_version)}, "
        f"access token {'set' if shop.access_token else 'not set'}, webhook secret {'set' if shop.webhook_secret else 'not set'}"
    )


@app.command("add")
def shop_add(
    name: str,
    timezone: TimezoneOpt = None,
    shopify_domain: DomainOpt = None,
    access_token: TokenOpt = None,
    webhook_secret: SecretOpt = None,
    api_version: ApiVersionOpt = None,
) -> None:
    """Add a shop."""
    _save_shop(True, name, timezone, shopify_domain, access_token, webhook_secret, api_version)


@app.command("set")
def shop_set(
    name: str,
    timezone: TimezoneOpt = None,
    shopify_domain: DomainOpt = None,
    access_token: TokenOpt = None,
    webhook_secret: SecretOpt = None,
    api_version: ApiVersionOpt = None,
) -> None:
    """Change a shop's settings."""
    _save_shop(False, name, timezone, shopify_domain, access_token, webhook_secret, api_version)


def _save_shop(
    create: bool,
    name: str,
    timezone: str | None,
    shopify_domain: str | None,
    access_token: str | None,
    webhook_secret: str | None,
    api_version: str | None,
) -> None:
    async def go() -> None:
        api = await connect(temporal=False)
        save = api.shops.add if create else api.shops.set
        _print_shop(
            await save(
                name,
                timezone_name=timezone,
                shopify_domain=shopify_domain,
                access_token=access_token,
                webhook_secret=webhook_secret,
                api_version=api_version,
            )
        )

    run(go())


@app.command("sync")
def shop_sync(name: Annotated[str, typer.Argument(envvar="RATCHET_SHOP")] = "default") -> None:
    """Refresh the shop from Shopify: name, time zone, currency, granted scopes."""

    async def go() -> None:
        api = await connect(temporal=False)
        shop = await api.shops.sync(name)
        out.print(f"shop {shop.id}: synced from Shopify; timezone {shop.timezone}")

    run(go())


@app.command("status")
def shop_status(shop: ShopOpt = "default", as_json: JsonOpt = False, temporal_address: AddressOpt = None) -> None:
    """Running and waiting runs, queue lag, top waiting tasks/actions/topics, bulk operations, schedules."""

    async def go() -> None:
        try:
            api = await connect(temporal_address, shop)
        except Unavailable:
            # The ledger answers on its own; only the schedules need Temporal.
            api = await connect(temporal_address, shop, temporal=False)
        try:
            status = await api.status.get()
        except RatchetError as exc:
            if not as_json:
                raise
            print_json({"error": {"message": str(exc), "status": exc.http_status, "retry_after_seconds": None}})
            raise typer.Exit(1) from exc
        if as_json:
            print_json(status)
            return
        _print_status(status)

    run(go())


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
    sections: list[tuple[str, list[dict[str, Any]], str]] = [
        ("top waiting tasks", top["tasks"], "{name} ({id})"),
        ("top waiting actions", top["actions"], "{type} (task {task_id})"),
        ("top waiting event topics", top["event_topics"], "{topic}"),
    ]
    for title, rows, label in sections:
        if rows:
            out.print(f"  {title}:")
            for row in rows:
                out.print(f"    {row['count']:>6}  {label.format(**row)}")
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
    for op in status["bulk_operations"]:
        out.print(
            f"  bulk operation {op['id']} ({op['type']}): {op['status']}, task {op['task_name']}, "
            f"workflow {op['workflow_id']}"
        )
    for entry in status.get("schedules", []):
        out.print(f"  schedule {entry['topic']}: next {entry['next_run_at']} ({entry['time_zone']})")
