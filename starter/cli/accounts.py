"""`ratchet accounts add|list|remove`: Slack, Google and Airtable accounts for the integration actions.

`add PROVIDER NAME` reads the credential from standard input (a hidden prompt on a terminal):
a Slack bot token, an Airtable personal access token, or a Google service-account key JSON /
OAuth client credentials with a refresh token (`ratchet accounts add google me@x.com < key.json`).
Credentials are stored encrypted and never printed.
"""

from __future__ import annotations

import typer
from rich.table import Table

from starter.cli.common import JsonOpt, ShopOpt, connect, iso, out, print_json, read_hidden, run

app = typer.Typer(no_args_is_help=True, help="Connected Slack, Google and Airtable accounts (the `account` option).")


@app.command("add")
def accounts_add(
    provider: str = typer.Argument(help="slack, google or airtable"),
    name: str = typer.Argument(help="the name tasks pass as `account` (Google: the account's email)"),
    shop: ShopOpt = "default",
) -> None:
    """Connect an account, or replace its credential; the credential comes from standard input."""
    credential = read_hidden(f"{provider} credential for {name}: ")

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        replaced = await api.accounts.add(provider, name, credential)
        out.print(f"{'replaced' if replaced else 'connected'} {provider} account {name!r}")

    run(go())


@app.command("list")
def accounts_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """List connected accounts (never their credentials)."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        rows = await api.accounts.list()
        if as_json:
            print_json(
                [{"provider": r.provider, "name": r.name, "kind": r.kind, "updated_at": r.updated_at} for r in rows]
            )
            return
        table = Table("provider", "name", "credential", "updated")
        for r in rows:
            table.add_row(r.provider, r.name, r.kind, iso(r.updated_at))
        out.print(table)

    run(go())


@app.command("remove")
def accounts_remove(provider: str, name: str, shop: ShopOpt = "default") -> None:
    """Disconnect an account; actions naming it fail."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        await api.accounts.remove(provider, name)
        out.print(f"removed {provider} account {name!r}")

    run(go())
