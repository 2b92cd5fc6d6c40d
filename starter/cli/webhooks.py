"""`ratchet webhook add|list|remove`: Mechanic webhooks (spec 10.1)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from starter.cli.common import JsonOpt, ShopOpt, connect, out, print_json, run

app = typer.Typer(no_args_is_help=True, help="Mechanic webhooks: URLs that turn HTTP requests into user/… events.")


@app.command("add")
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

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        hook = await api.webhooks.add(name, topic, mode=mode, secret=secret)
        out.print(
            f"webhook {hook.name!r}: POST → {hook.topic} events ({hook.mode} mode{', signed' if hook.secret else ''})"
        )
        print(api.webhooks.url(hook))

    run(go())


@app.command("list")
def webhook_list(shop: ShopOpt = "default", as_json: JsonOpt = False) -> None:
    """List the shop's webhooks."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        hooks = await api.webhooks.list()
        if as_json:
            print_json(
                [
                    {
                        "id": h.id,
                        "name": h.name,
                        "topic": h.topic,
                        "mode": h.mode,
                        "signed": bool(h.secret),
                        "url": api.webhooks.url(h),
                    }
                    for h in hooks
                ]
            )
            return
        table = Table("name", "topic", "mode", "signed", "url")
        for h in hooks:
            table.add_row(h.name, h.topic, h.mode, "yes" if h.secret else "no", api.webhooks.url(h))
        out.print(table)

    run(go())


@app.command("remove")
def webhook_remove(webhook: str, shop: ShopOpt = "default") -> None:
    """Remove a webhook (by name or id); its URL stops making events."""

    async def go() -> None:
        api = await connect(shop=shop, temporal=False)
        hook = await api.webhooks.remove(webhook)
        out.print(f"removed webhook {hook.name!r} ({hook.id})")

    run(go())
