"""`/s/{shop}/bulk-retries…`: retry the failed runs of an Events view, durably, and follow it.

The confirmation page reads the Events list's own query string (`event_query`), so "Retry N
failed runs" retries the failed runs of exactly the events that view shows, within its window or
the last 7 days. Starting one goes through `runs.retry_failed`, the call behind `ratchet runs
retry --failed`; its BulkRetryWorkflow carries on without the browser.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ratchet.console.app import Console
from ratchet.console.event_query import FILTER_PARAMS, event_query
from ratchet.console.routes.deps import ConsoleDep, ShopDep
from ratchet.console.templating import is_htmx, render
from ratchet.console.temporal_links import workflow_url
from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind
from ratchet.errors import InvalidInput, RatchetError
from ratchet.services.bulk_retries import DEFAULT_WINDOW, RETRY_USES, RetrySelection
from ratchet.store.tables import Shop

router = APIRouter(prefix="/s/{shop}/bulk-retries")

# How often a running bulk retry's page refreshes its progress.
POLL_SECONDS = 2


def _selection(params: dict[str, str], kinds: list[str], shop: Shop) -> tuple[RetrySelection, dict[str, str]]:
    """The selection of the view in `params`; without dates, the last 7 days (shown as dates in the form)."""
    view = {name: params[name] for name in FILTER_PARAMS if params.get(name)}
    if not view.get("from"):
        view["from"] = (utcnow() - DEFAULT_WINDOW).astimezone(ZoneInfo(shop.timezone)).date().isoformat()
    try:
        chosen = tuple(RunKind(kind) for kind in kinds) or None
    except ValueError:
        raise InvalidInput(f"kind: expected {', '.join(k.value for k in RunKind)}") from None
    return RetrySelection.of_view(event_query(view, shop.timezone), chosen), view


@router.get("/new", response_class=HTMLResponse)
async def confirm_page(request: Request, shop: ShopDep, console: ConsoleDep) -> HTMLResponse:
    params = dict(request.query_params)
    return await _confirm(request, shop, console, params, request.query_params.getlist("kind"))


async def _confirm(
    request: Request,
    shop: Shop,
    console: Console,
    params: dict[str, str],
    kinds: list[str],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    selection, view = _selection(params, kinds, shop)
    plan = await console.api.runs.plan_retry(selection, shop.id)
    context = {
        "shop": shop,
        "nav": "events",
        "plan": plan,
        "view": view,
        "kinds": [k.value for k in selection.kinds],
        "all_kinds": [(kind.value, RETRY_USES[kind]) for kind in RunKind],
        "name": params.get("name", ""),
        "error": error,
        "tasks": {t.id: t.name for t in await console.api.tasks.list(shop.id)},
    }
    return render(request, "bulk/new.html", context, status_code)


@router.post("", response_class=HTMLResponse)
async def start(request: Request, shop: ShopDep, console: ConsoleDep) -> Response:
    form = await request.form()
    params = {name: str(form.get(name) or "") for name in (*FILTER_PARAMS, "name")}
    kinds = [str(k) for k in form.getlist("kind")]
    try:
        selection, _ = _selection(params, kinds, shop)
        view = await console.api.runs.retry_failed(selection, params["name"], shop_id=shop.id)
    except RatchetError as exc:
        return await _confirm(request, shop, console, params, kinds, error=exc.message, status_code=400)
    return RedirectResponse(f"/s/{shop.id}/bulk-retries/{view.id}", status_code=303)


@router.get("", response_class=HTMLResponse)
async def list_page(request: Request, shop: ShopDep, console: ConsoleDep) -> HTMLResponse:
    bulk = await console.api.runs.bulk_retries(shop.id)
    return render(request, "bulk/list.html", {"shop": shop, "nav": "events", "bulk_retries": bulk})


@router.get("/{bulk_retry_id}", response_class=HTMLResponse)
async def progress_page(request: Request, shop: ShopDep, console: ConsoleDep, bulk_retry_id: str) -> HTMLResponse:
    view = await console.api.runs.bulk_retry(bulk_retry_id, shop.id)
    context = {
        "shop": shop,
        "nav": "events",
        "bulk": view,
        "poll_seconds": POLL_SECONDS,
        "temporal_link": workflow_url(
            console.temporal_ui_url, console.api.settings.temporal.namespace, view.workflow_id
        ),
    }
    return render(request, "bulk/_progress.html" if is_htmx(request) else "bulk/progress.html", context)


@router.post("/{bulk_retry_id}/cancel")
async def cancel(shop: ShopDep, console: ConsoleDep, bulk_retry_id: str) -> RedirectResponse:
    await console.api.runs.cancel_bulk_retry(bulk_retry_id, shop.id)
    return RedirectResponse(f"/s/{shop.id}/bulk-retries/{bulk_retry_id}", status_code=303)
