"""`/s/{shop}/events` and `/s/{shop}/events/{event_id}`: the Events list and the event detail."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ratchet.console.app import Console
from ratchet.console.event_query import event_query, query_params
from ratchet.console.routes.deps import ConsoleDep, ShopDep
from ratchet.console.templating import is_htmx, pretty_json, render
from ratchet.core.runs import RunState
from ratchet.core.subscriptions import parse_subscription
from ratchet.errors import Conflict, InvalidInput, NotFound, Unavailable
from ratchet.services.bulk_retries import RetrySelection
from ratchet.services.cancellations import CancelRefused
from ratchet.services.event_detail import EventDetail, event_detail, event_export
from ratchet.services.event_listing import Cursor, EventPage, EventQuery, list_events
from ratchet.services.task_versions import current_versions
from ratchet.services.tasks import list_tasks
from ratchet.store.database import Store
from ratchet.store.tables import Run, Shop

router = APIRouter(prefix="/s/{shop}/events")

# How often the first page refreshes itself while not paused.
POLL_SECONDS = 5


def _page(store: Store, shop_id: str, query: EventQuery, after: Cursor | None) -> EventPage:
    with store.session() as session:
        return list_events(session, shop_id, query, after=after)


@router.get("", response_class=HTMLResponse)
async def events_page(request: Request, shop: ShopDep, console: ConsoleDep) -> HTMLResponse:
    params = dict(request.query_params)
    query = event_query(params, shop.timezone)
    after = Cursor.decode(params["after"]) if params.get("after") else None
    page = await console.read(_page, console.api.store, shop.id, query, after)
    context = _list_context(shop, params, page, after)
    if is_htmx(request):
        return render(request, "events/_results.html", context)
    tasks = await console.read(list_tasks, console.api.store, shop.id)
    topics = sorted({parse_subscription(line).topic for task in tasks for line in task.subscriptions if line.strip()})
    # "Retry N failed runs": the failed runs of this view's events (in its dates, else the last 7 days).
    failed = (await console.api.runs.plan_retry(RetrySelection.of_view(query), shop.id)).count
    extra = {"tasks": tasks, "topics": topics, "states": list(RunState), "failed_runs": failed}
    return render(request, "events/list.html", {**context, **extra})


def _list_context(shop: Shop, params: dict[str, str], page: EventPage, after: Cursor | None) -> dict[str, Any]:
    base = f"/s/{shop.id}/events"
    paused = params.get("paused") == "1"

    def link(**changes: str | None) -> str:
        query = query_params(params, **changes)
        return f"{base}?{query}" if query else base

    return {
        "shop": shop,
        "nav": "events",
        "params": params,
        "page": page,
        "tab": params.get("tab") or "all",
        "link": link,
        # The view's filters alone, for pages acting on its events (bulk retry).
        "filter_query": query_params(params),
        "first_page": after is None,
        "next_link": link(after=page.next_cursor.encode()) if page.next_cursor else None,
        # Only the first page polls (newer events appear there), and not while paused.
        "poll_url": None if paused or after is not None else link(),
        "poll_seconds": POLL_SECONDS,
        "paused": paused,
        # Pausing is a link too, so the paused list is a URL like any view.
        "pause_link": link() if paused else link(paused="1"),
    }


def _detail(store: Store, shop_id: str, event_id: str) -> EventDetail:
    with store.session() as session:
        return event_detail(session, shop_id, event_id)


def _temporal_link(console: Console, detail: EventDetail) -> str | None:
    """The event's workflow in the Temporal Web UI, or None without a Web UI.

    The id is encoded whole (it has slashes), and a URL without a run id opens the latest run
    (temporalio/ui, src/routes/(app)/namespaces/[namespace]/workflows/[workflow]).
    """
    if not console.temporal_ui_url:
        return None
    namespace = quote(console.api.settings.temporal.namespace, safe="")
    return f"{console.temporal_ui_url}/namespaces/{namespace}/workflows/{quote(detail.event.workflow_id, safe='')}"


async def _detail_context(console: Console, shop: Shop, detail: EventDetail, refused: dict[str, str]) -> dict[str, Any]:
    """The detail page's context; `refused` maps a run id (or "cancel") to why that request was refused.

    `task_versions` holds each task's current version number, for "rendered with version 7 of 9".
    """
    task_ids = {node.run.task_id for node in detail.task_runs if node.run.task_id}
    return {
        "shop": shop,
        "nav": "events",
        "detail": detail,
        "temporal_link": _temporal_link(console, detail),
        "refused": refused,
        "task_versions": await console.read(current_versions, console.api.store, task_ids),
    }


@router.get("/new", response_class=HTMLResponse)
async def new_event_page(request: Request, shop: ShopDep, console: ConsoleDep, copy: str | None = None) -> HTMLResponse:
    """The send-event form; `copy` prefills it with an event's topic and data (Send a copy)."""
    topic, data = "", ""
    if copy:
        original = await console.read(_detail, console.api.store, shop.id, copy)
        topic, data = original.event.topic, pretty_json(original.event.data)
    return render(
        request, "events/new.html", {"shop": shop, "nav": "events", "topic": topic, "data": data, "error": None}
    )


@router.post("", response_class=HTMLResponse)
async def send_event(
    request: Request,
    shop: ShopDep,
    console: ConsoleDep,
    topic: Annotated[str, Form()],
    data: Annotated[str, Form()] = "",
) -> Response:
    """Send an event as `ratchet event send` does; a bad topic or JSON re-shows the form with the reason."""
    try:
        parsed = json.loads(data) if data.strip() else None
        event_id = await console.api.events.send(topic.strip(), parsed, shop_id=shop.id)
    except (json.JSONDecodeError, InvalidInput) as exc:
        reason = (
            f"Event data is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else exc.message
        )
        context = {"shop": shop, "nav": "events", "topic": topic, "data": data, "error": reason}
        return render(request, "events/new.html", context, status_code=400)
    return RedirectResponse(f"/s/{shop.id}/events/{event_id}", status_code=303)


@router.get("/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, shop: ShopDep, console: ConsoleDep, event_id: str) -> HTMLResponse:
    detail = await console.read(_detail, console.api.store, shop.id, event_id)
    context = await _detail_context(console, shop, detail, {})
    return render(request, "events/_detail.html" if is_htmx(request) else "events/detail.html", context)


@router.get("/{event_id}/export.json")
async def export_event(shop: ShopDep, console: ConsoleDep, event_id: str) -> JSONResponse:
    """Download JSON: the event and all its runs with their attempts."""
    detail = await console.read(_detail, console.api.store, shop.id, event_id)
    disposition = f'attachment; filename="event-{detail.event.id}.json"'
    return JSONResponse(event_export(detail), headers={"content-disposition": disposition})


@router.post("/{event_id}/runs/{run_id}/retry", response_class=HTMLResponse)
async def retry_run(request: Request, shop: ShopDep, console: ConsoleDep, event_id: str, run_id: str) -> Response:
    """Retry through the CLI's call (`ratchet runs retry`); a refusal is shown where the button was."""
    detail = await console.read(_detail, console.api.store, shop.id, event_id)
    if run_id not in {node.run.id for node in detail.runs}:
        raise NotFound(f"run {run_id} is not a run of event {event_id}")
    before = next(node.run.manual_retries for node in detail.runs if node.run.id == run_id)
    try:
        await console.api.runs.retry(run_id, reason="retried from the console", shop_id=shop.id)
        await _until_reopened(console, run_id, before)
    except (Conflict, Unavailable) as exc:
        if is_htmx(request):
            return render(request, "events/_refusal.html", {"reason": exc.message})
        context = await _detail_context(console, shop, detail, {run_id: exc.message})
        return render(request, "events/detail.html", context, status_code=409)
    if is_htmx(request):
        return Response(status_code=204, headers={"hx-refresh": "true"})
    return RedirectResponse(f"/s/{shop.id}/events/{event_id}#run-{run_id}", status_code=303)


# How long a retry's answer waits for the ledger to show the run reopened (its first new attempt
# begins a moment after the workflow accepts it), so the page it leads to shows the retry.
REOPEN_WAIT_SECONDS = 5.0
REOPEN_POLL_SECONDS = 0.1


async def _until_reopened(console: Console, run_id: str, manual_retries_before: int) -> None:
    def reopened() -> bool:
        with console.api.store.session() as session:
            run = session.get(Run, run_id)
            return run is None or run.manual_retries > manual_retries_before or not run.state.terminal

    for _ in range(int(REOPEN_WAIT_SECONDS / REOPEN_POLL_SECONDS)):
        if await console.read(reopened):
            return
        await asyncio.sleep(REOPEN_POLL_SECONDS)


@router.post("/{event_id}/cancel", response_class=HTMLResponse)
async def cancel_event(request: Request, shop: ShopDep, console: ConsoleDep, event_id: str) -> Response:
    """Cancel through the CLI's call (`ratchet event cancel`); a refusal is shown on the page."""
    try:
        await console.api.events.cancel(event_id, shop_id=shop.id)
    except (CancelRefused, Unavailable) as exc:
        detail = await console.read(_detail, console.api.store, shop.id, event_id)
        context = await _detail_context(console, shop, detail, {"cancel": exc.message})
        return render(request, "events/detail.html", context, status_code=409)
    return RedirectResponse(f"/s/{shop.id}/events/{event_id}", status_code=303)
