"""`ratchet secrets set|list|delete`: the shop's write-only secrets (`{{ secrets.name }}`).

A value is read from standard input (a hidden prompt on a terminal), never from the command line,
and never printed: `list` shows names only.
"""

from __future__ import annotations

import typer
from rich.table import Table

from starter.cli.common import JsonOpt, ShopOpt, connect, iso, out, print_json, read_hidden, run

app = typer.Typer(no_args_is_help=True, help="Shop secrets: write-only values for `{{ secrets.name }}`.")


@app.command("set")
def secrets_set(name: str, shop: ShopOpt = "default") -> None:
    """Create or replace a secret; the value comes from standard input (hidden prompt on a terminal)."""
    value = read_hidden(f"value of secret {name}: ")

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        replaced = await api.secrets.set(name, value)
        out.print(f"{'replaced' if replaced else 'set'} secret {name!r}")

    run(go())


@app.command("list")
def secrets_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """List secret names (values are never shown)."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        rows = await api.secrets.list()
        if as_json:
            print_json([{"name": row.name, "updated_at": row.updated_at} for row in rows])
            return
        table = Table("name", "updated")
        for row in rows:
            table.add_row(row.name, iso(row.updated_at))
        out.print(table)

    run(go())


@app.command("delete")
def secrets_delete(name: str, shop: ShopOpt = "default") -> None:
    """Delete a secret; actions still naming it fail."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        await api.secrets.delete(name)
        out.print(f"deleted secret {name!r}")

    run(go())
