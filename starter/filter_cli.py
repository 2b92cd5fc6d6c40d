"""`ratchet filter add|list|remove`: the shop's event filters (spec 4.6, ratchet.filters).

Registered onto the main Typer app by `register` (called at the bottom of starter/cli.py).
"""

# No `from __future__ import annotations`: Typer reads these annotations at runtime, and the
# option types are imported inside `register`, out of reach of deferred evaluation.

from pathlib import Path

import typer
from rich.table import Table

from ratchet.services.event_filters import FilterError, list_filters, remove_filter, save_filter
from starter.api import RatchetError


def read_template_argument(value: str) -> str:
    """`--template` takes Liquid text, or @path to a file holding it."""
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RatchetError(f"cannot read {path}: {exc.strerror}") from exc


def register(app: typer.Typer) -> None:
    # Imported here: starter.cli imports this module at its bottom, once its helpers exist.
    from starter.cli import JsonOpt, ShopOpt, _api, _iso, _print_json, _run, _settings, out

    filter_app = typer.Typer(
        no_args_is_help=True, help="Store-level event filters: Liquid that outputs `false` drops an event."
    )
    app.add_typer(filter_app, name="filter")

    @filter_app.command("add")
    def filter_add(
        name: str,
        template: str = typer.Option(..., "--template", help="Liquid text, or @file."),
        shop: ShopOpt = "default",
    ) -> None:
        """Add a filter, or replace the template of the filter with this name."""

        async def go() -> None:
            api = await _api(_settings(shop=shop), temporal=False)
            await api.get_shop(shop)
            try:
                saved = save_filter(api.store, shop, name, read_template_argument(template))
            except FilterError as exc:
                raise RatchetError(str(exc)) from exc
            out.print(f"{'replaced' if saved.replaced else 'added'} filter {saved.filter.name!r}")

        _run(go())

    @filter_app.command("list")
    def filter_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
        """List filters, in the order they run."""

        async def go() -> None:
            api = await _api(_settings(shop=shop), temporal=False)
            await api.get_shop(shop)
            rows = list_filters(api.store, shop)
            if as_json:
                _print_json([{"name": r.name, "template": r.template, "updated_at": r.updated_at} for r in rows])
                return
            table = Table("name", "template", "updated")
            for r in rows:
                table.add_row(r.name, r.template, _iso(r.updated_at))
            out.print(table)

        _run(go())

    @filter_app.command("remove")
    def filter_remove(name: str, shop: ShopOpt = "default") -> None:
        """Remove a filter."""

        async def go() -> None:
            api = await _api(_settings(shop=shop), temporal=False)
            await api.get_shop(shop)
            if not remove_filter(api.store, shop, name):
                raise RatchetError(f"no filter named {name!r} in shop {shop!r}")
            out.print(f"removed filter {name!r}")

        _run(go())
