"""`/s/{shop}/settings`: the shop's settings and status, on one page.

Sections: the shop and its Shopify connection, event filters (with a test bench), Mechanic
webhooks, current activity, and console access.

Every change goes through the starter API the CLI uses (`shop set`, `filter add|remove`,
`webhook add|remove`). Secrets (the shop's access token and webhook secret, webhook secrets)
are write-only: the page says whether one is set, never what it is.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ratchet.console.app import Console
from ratchet.console.routes.deps import ConsoleDep, ShopDep
from ratchet.console.templating import render
from ratchet.errors import Conflict, InvalidInput, NotFound, Unavailable
from ratchet.services.filter_bench import FilterVerdict, try_filter
from ratchet.store.tables import Shop

router = APIRouter(prefix="/s/{shop}/settings")

# Errors a settings form shows beside itself rather than on an error page.
FORM_ERRORS = (InvalidInput, Conflict, NotFound, Unavailable)


async def _page(
    request: Request,
    shop: Shop,
    console: ConsoleDep,
    *,
    errors: dict[str, str] | None = None,
    bench: tuple[str, list[FilterVerdict]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    api = console.api
    status = await api.status.get(shop.id)
    hooks = await api.webhooks.list(shop.id)
    context: dict[str, Any] = {
        "shop": shop,
        "nav": "settings",
        "status": status,
        "filters": await api.filters.list(shop.id),
        "webhooks": [(hook, api.webhooks.url(hook)) for hook in hooks],
        "webhook_problems": await api.tasks.webhook_problems(shop.id),
        "tasks": {task.id: task.name for task in await api.tasks.list(shop.id)},
        "errors": errors or {},
        "bench": bench,
        "saved": request.query_params.get("saved"),
    }
    return render(request, "settings.html", context, status_code=status_code)


async def _change(request: Request, shop: Shop, console: Console, section: str, change: Awaitable[object]) -> Response:
    """Make a change through the API; back to its section saying "Saved.", or the page with why not beside the form."""
    try:
        await change
    except FORM_ERRORS as exc:
        return await _page(request, shop, console, errors={section: exc.message}, status_code=exc.http_status)
    return RedirectResponse(f"/s/{shop.id}/settings?saved={section}#{section}", status_code=303)


@router.get("", response_class=HTMLResponse)
async def settings_page(request: Request, shop: ShopDep, console: ConsoleDep) -> HTMLResponse:
    return await _page(request, shop, console)


@router.post("/shop", response_class=HTMLResponse)
async def save_shop(
    request: Request,
    shop: ShopDep,
    console: ConsoleDep,
    timezone: Annotated[str, Form()] = "",
    access_token: Annotated[str, Form()] = "",
    webhook_secret: Annotated[str, Form()] = "",
) -> Response:
    """`ratchet shop set`: blank fields keep their value (secrets are never sent back to be kept)."""
    return await _change(
        request,
        shop,
        console,
        "shop",
        console.api.shops.set(
            shop.id,
            timezone_name=timezone.strip() or None,
            access_token=access_token.strip() or None,
            webhook_secret=webhook_secret.strip() or None,
        ),
    )


@router.post("/filters", response_class=HTMLResponse)
async def save_filter(
    request: Request,
    shop: ShopDep,
    console: ConsoleDep,
    name: Annotated[str, Form()],
    template: Annotated[str, Form()],
) -> Response:
    """`ratchet filter add`: a new filter, or a new template for the one with this name."""
    return await _change(
        request,
        shop,
        console,
        "filters",
        console.api.filters.save(name, template, shop.id),
    )


@router.post("/filters/remove", response_class=HTMLResponse)
async def remove_filter(request: Request, shop: ShopDep, console: ConsoleDep, name: Annotated[str, Form()]) -> Response:
    return await _change(
        request,
        shop,
        console,
        "filters",
        console.api.filters.remove(name, shop.id),
    )


@router.post("/filters/test", response_class=HTMLResponse)
async def test_filter(
    request: Request, shop: ShopDep, console: ConsoleDep, template: Annotated[str, Form()]
) -> Response:
    """The test bench: the draft's verdict on the latest events; nothing is saved or changed."""
    store = console.api.store

    def bench() -> list[FilterVerdict]:
        with store.session() as session:
            return try_filter(session, store, shop.id, template)

    try:
        verdicts = await console.read(bench)
    except FORM_ERRORS as exc:
        return await _page(request, shop, console, errors={"bench": exc.message}, status_code=exc.http_status)
    return await _page(request, shop, console, bench=(template, verdicts))


@router.post("/webhooks", response_class=HTMLResponse)
async def add_webhook(
    request: Request,
    shop: ShopDep,
    console: ConsoleDep,
    name: Annotated[str, Form()],
    topic: Annotated[str, Form()],
    mode: Annotated[str, Form()] = "auto",
    secret: Annotated[str, Form()] = "",
) -> Response:
    """`ratchet webhook add`: its URL is listed once added; its secret is never shown."""
    return await _change(
        request,
        shop,
        console,
        "webhooks",
        console.api.webhooks.add(name, topic, mode=mode, secret=secret or None, shop_id=shop.id),
    )


@router.post("/webhooks/{webhook_id}/remove", response_class=HTMLResponse)
async def remove_webhook(request: Request, shop: ShopDep, console: ConsoleDep, webhook_id: str) -> Response:
    return await _change(
        request,
        shop,
        console,
        "webhooks",
        console.api.webhooks.remove(webhook_id, shop.id),
    )
