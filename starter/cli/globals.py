"""`ratchet globals set|list|delete`: the shop's globals, JSON values tasks read as `{{ globals.name }}`."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from starter.cli.common import JsonOpt, ShopOpt, connect, iso, out, print_json, read_json_argument, run

app = typer.Typer(no_args_is_help=True, help="Shop globals: visible JSON values for `{{ globals.name }}`.")


@app.command("set")
def globals_set(
    name: str,
    value: str = typer.Argument(help="JSON (`'\"text\"'`, `42`, `'{\"a\": 1}'`), or @file.json."),
    shop: ShopOpt = "default",
) -> None:
    """Create a global, or replace the value of the one with this name."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        replaced = await api.globals.set(name, read_json_argument(value))
        out.print(f"{'replaced' if replaced else 'set'} global {name!r}")

    run(go())


@app.command("list")
def globals_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """List globals with their values."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        rows = await api.globals.list()
        if as_json:
            print_json({row.name: row.value for row in rows})
            return
        table = Table("name", "value", "updated")
        for row in rows:
            table.add_row(row.name, json.dumps(row.value), iso(row.updated_at))
        out.print(table)

    run(go())


@app.command("delete")
def globals_delete(name: str, shop: ShopOpt = "default") -> None:
    """Delete a global; tasks then read nil."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        await api.globals.delete(name)
        out.print(f"deleted global {name!r}")

    run(go())
