"""`ratchet filter add|list|remove`: the shop's event filters (spec 4.6)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from starter.cli.common import JsonOpt, ShopOpt, connect, iso, out, print_json, read_argument, run

app = typer.Typer(no_args_is_help=True, help="Store-level event filters: Liquid that outputs `false` drops an event.")


@app.command("add")
def filter_add(
    name: str,
    template: Annotated[str, typer.Option("--template", help="Liquid text, or @file.")],
    shop: ShopOpt = "default",
) -> None:
    """Add a filter, or replace the template of the filter with this name."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        saved = await api.filters.save(name, read_argument(template))
        out.print(f"{'replaced' if saved.replaced else 'added'} filter {saved.filter.name!r}")

    run(go())


@app.command("list")
def filter_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """List filters, in the order they run."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        rows = await api.filters.list()
        if as_json:
            print_json([{"name": r.name, "template": r.template, "updated_at": r.updated_at} for r in rows])
            return
        table = Table("name", "template", "updated")
        for r in rows:
            table.add_row(r.name, r.template, iso(r.updated_at))
        out.print(table)

    run(go())


@app.command("remove")
def filter_remove(name: str, shop: ShopOpt = "default") -> None:
    """Remove a filter."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        await api.filters.remove(name)
        out.print(f"removed filter {name!r}")

    run(go())
