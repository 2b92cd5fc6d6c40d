"""`ratchet shop add|set|connect|install-url|scopes|sync|status`.

Secrets never come from the command line, where shell history and `ps` would keep them: each is
read from its environment variable, or else from a hidden prompt (a line on stdin when piped).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from ratchet.core.api_versions import effective_api_version
from ratchet.errors import InvalidInput, NotFound, RatchetError, Unavailable
from ratchet.store.tables import Shop
from starter.api import Ratchet
from starter.cli.common import AddressOpt, JsonOpt, ShopOpt, connect, out, print_json, run

app = typer.Typer(no_args_is_help=True, help="Shops and their settings.")

TimezoneOpt = Annotated[str | None, typer.Option("--timezone", help="IANA time zone, e.g. America/New_York.")]
DomainOpt = Annotated[str | None, typer.Option("--shopify-domain", help="example.myshopify.com")]
TokenOpt = Annotated[
    bool,
    typer.Option(
        "--access-token",
        help="Set a legacy Admin API access token, read from RATCHET_SHOPIFY_ACCESS_TOKEN or a hidden prompt.",
    ),
]
SecretOpt = Annotated[
    bool,
    typer.Option(
        "--webhook-secret",
        help="Set the app secret for webhook HMACs, read from RATCHET_SHOPIFY_WEBHOOK_SECRET or a hidden prompt.",
    ),
]
ShopDomainArg = Annotated[
    str, typer.Option("--shop", help="The store: name, name.myshopify.com or its admin URL.", show_default=False)
]
ClientIdOpt = Annotated[str, typer.Option("--client-id", help="The app's client ID (Dev Dashboard › Settings).")]
ScopesOpt = Annotated[
    str | None,
    typer.Option("--scopes", help="Comma-separated access scopes to ask for (default: what the enabled tasks need)."),
]
ApiVersionOpt = Annotated[
    str | None,
    typer.Option("--api-version", help="Shopify Admin API version (e.g. 2026-10) for tasks that name none."),
]


def read_secret(env_var: str, prompt: str) -> str:
    """A secret from `env_var`, else typed at a hidden prompt; never an argument."""
    value = os.environ.get(env_var, "").strip() or typer.prompt(prompt, hide_input=True).strip()
    if not value:
        raise InvalidInput(f"{prompt} is empty; set {env_var} or type it at the prompt")
    return value


def _token_state(shop: Shop) -> str:
    if not shop.access_token:
        return "not set"
    return "set (renewed automatically)" if shop.access_token_renew_at else "set"


def _print_shop(shop: Shop) -> None:
    # Secrets are never printed back, only whether they are set.
    out.print(
        f"shop {shop.id}: timezone {shop.timezone}, shopify domain {shop.shopify_domain or '-'}, "
        f"API version {effective_api_version(None, shop.shopify_api_version)}, "
        f"access token {_token_state(shop)}, webhook secret {'set' if shop.webhook_secret else 'not set'}"
    )


@app.command("add")
def shop_add(
    name: str,
    timezone: TimezoneOpt = None,
    shopify_domain: DomainOpt = None,
    access_token: TokenOpt = False,
    webhook_secret: SecretOpt = False,
    api_version: ApiVersionOpt = None,
) -> None:
    """Add a shop."""
    _save_shop(True, name, timezone, shopify_domain, access_token, webhook_secret, api_version)


@app.command("set")
def shop_set(
    name: str,
    timezone: TimezoneOpt = None,
    shopify_domain: DomainOpt = None,
    access_token: TokenOpt = False,
    webhook_secret: SecretOpt = False,
    api_version: ApiVersionOpt = None,
) -> None:
    """Change a shop's settings."""
    _save_shop(False, name, timezone, shopify_domain, access_token, webhook_secret, api_version)


def _save_shop(
    create: bool,
    name: str,
    timezone: str | None,
    shopify_domain: str | None,
    access_token: bool,
    webhook_secret: bool,
    api_version: str | None,
) -> None:
    token = read_secret("RATCHET_SHOPIFY_ACCESS_TOKEN", "Admin API access token") if access_token else None
    secret = read_secret("RATCHET_SHOPIFY_WEBHOOK_SECRET", "Webhook secret") if webhook_secret else None

    async def go() -> None:
        api = await connect(temporal=False)
        save = api.shops.add if create else api.shops.set
        _print_shop(
            await save(
                name,
                timezone_name=timezone,
                shopify_domain=shopify_domain,
                access_token=token,
                webhook_secret=secret,
                api_version=api_version,
            )
        )

    run(go())


@app.command("connect")
def shop_connect(name: str, shop: ShopDomainArg, client_id: ClientIdOpt) -> None:
    """Connect a store of your organization by the client credentials grant (secret: RATCHET_SHOPIFY_CLIENT_SECRET)."""
    client_secret = read_secret("RATCHET_SHOPIFY_CLIENT_SECRET", "Client secret")

    async def go() -> None:
        api = await connect(temporal=False)
        connected = await api.shops.connect(name, shop=shop, client_id=client_id, client_secret=client_secret)
        _print_shop(connected)

    run(go())


@app.command("install-url")
def shop_install_url(name: str, shop: ShopDomainArg, client_id: ClientIdOpt, scopes: ScopesOpt = None) -> None:
    """Print an install link for a store outside your organization (secret: RATCHET_SHOPIFY_CLIENT_SECRET)."""
    client_secret = read_secret("RATCHET_SHOPIFY_CLIENT_SECRET", "Client secret")

    async def go() -> None:
        api = await connect(temporal=False, shop=name)
        wanted = [s.strip() for s in scopes.split(",") if s.strip()] if scopes else await _needed_scopes(api, name)
        link = await api.shops.install_url(
            name, shop=shop, client_id=client_id, client_secret=client_secret, scopes=wanted
        )
        print(link)

    run(go())


async def _needed_scopes(api: Ratchet, name: str) -> list[str]:
    try:
        return await api.shops.needed_scopes(name)
    except NotFound as exc:
        raise InvalidInput(
            f"shop {name!r} has no tasks yet to take scopes from; give --scopes (e.g. `ratchet shop scopes OTHER`)"
        ) from exc


@app.command("scopes")
def shop_scopes(name: Annotated[str, typer.Argument(envvar="RATCHET_SHOP")] = "default") -> None:
    """Print the access scopes the shop's enabled tasks need, comma-separated (for the app's configuration)."""

    async def go() -> None:
        api = await connect(temporal=False, shop=name)
        print(",".join(await api.shops.needed_scopes(name)))

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
        if shopify["grant"]:
            out.print(f"  token by {shopify['grant']} grant, expires {shopify['token_expires_at']} (renewed before)")
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
