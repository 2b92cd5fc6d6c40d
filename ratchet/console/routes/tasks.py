"""`/s/{shop}/tasks…`: the task list, the task page with its live preview, Run task, versions.

Every write is the CLI's call on the starter API (`console.api.tasks…`), so the console
validates as `ratchet task …` does; reads go to the services. The preview is a POST because it
carries the unsaved form, but it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from ratchet.console.app import Console
from ratchet.console.routes.deps import ConsoleDep, ShopDep
from ratchet.console.run_output import RenderedAction, RenderError, RunOutput
from ratchet.console.task_forms import (
    docs_html,
    draft_keys,
    draft_of,
    option_fields,
    preview_source,
    submitted_options,
)
from ratchet.console.templating import is_htmx, render
from ratchet.core.subscriptions import RESOURCE_PLURALS, parse_subscriptions
from ratchet.errors import InvalidInput, RatchetError
from ratchet.services.preview import PreviewRender, RecentEvent, TaskPreview
from ratchet.services.resource_runs import parse_refs, resource_kinds
from ratchet.services.task_drafts import TaskDraft
from ratchet.services.tasks import RUN_BUTTON_FORM_TOPIC, RUN_BUTTON_TEXT_TOPIC, RUN_BUTTON_TOPIC, userform_keys
from ratchet.store.tables import Shop, Task

router = APIRouter(prefix="/s/{shop}/tasks")

# Largest export accepted by paste or upload (the library's largest is about 100 kB).
MAX_IMPORT_BYTES = 2_000_000


@dataclass(frozen=True)
class RunButtons:
    """What the Run task page offers for a task, by the topics it subscribes to."""

    trigger: bool
    text: bool
    form: bool
    resources: list[str]

    @classmethod
    def of(cls, task: Task) -> RunButtons:
        topics = {s.topic for s in parse_subscriptions(task.subscriptions or [])}
        return cls(
            RUN_BUTTON_TOPIC in topics,
            RUN_BUTTON_TEXT_TOPIC in topics,
            RUN_BUTTON_FORM_TOPIC in topics,
            resource_kinds(task),
        )

    @property
    def any(self) -> bool:
        return self.trigger or self.text or self.form or bool(self.resources)


def _base(shop: Shop) -> str:
    return f"/s/{shop.id}/tasks"


# -- the list ----------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def tasks_page(request: Request, shop: ShopDep, console: ConsoleDep) -> HTMLResponse:
    return await _list(request, shop, console)


async def _list(
    request: Request,
    shop: Shop,
    console: Console,
    *,
    error: str | None = None,
    pasted: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    tasks = await console.api.tasks.list(shop.id)
    context = {
        "shop": shop,
        "nav": "tasks",
        "tasks": tasks,
        "buttons": {t.id: RunButtons.of(t) for t in tasks},
        "error": error,
        "pasted": pasted,
    }
    return render(request, "tasks/list.html", context, status_code)


async def _export_text(form: FormData) -> str:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise InvalidInput("the file is too large for a task export")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the file is not UTF-8 text") from None
    text = str(form.get("export") or "")
    if not text.strip():
        raise InvalidInput("paste a task export or choose a file")
    return text


@router.post("/import", response_class=HTMLResponse)
async def import_task(request: Request, shop: ShopDep, console: ConsoleDep) -> Response:
    """Import by paste or upload, as `ratchet task import` does (over a same-named task, settings are kept)."""
    form = await request.form(max_part_size=MAX_IMPORT_BYTES)
    pasted = str(form.get("export") or "")
    try:
        imported = await console.api.tasks.import_(await _export_text(form), shop.id)
    except RatchetError as exc:
        return await _list(request, shop, console, error=exc.message, pasted=pasted, status_code=400)
    return RedirectResponse(f"{_base(shop)}/{imported.task.id}?imported=1", status_code=303)


@router.post("/{task_id}/enabled", response_class=HTMLResponse)
async def set_enabled(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> Response:
    form = await request.form()
    enabled = form.get("enabled") == "true"
    back = str(form.get("back") or "") == "task"
    try:
        await console.api.tasks.set_enabled(task_id, enabled, shop.id)
    except RatchetError as exc:
        if back:
            return await _task(request, shop, console, task_id, error=exc.message, status_code=409)
        return await _list(request, shop, console, error=exc.message, status_code=409)
    return RedirectResponse(f"{_base(shop)}/{task_id}" if back else _base(shop), status_code=303)


# -- the task page -------------------------------------------------------------------------------------


@router.get("/run", response_class=HTMLResponse)
async def run_link_page(request: Request, shop: ShopDep, console: ConsoleDep) -> HTMLResponse:
    """A run link in Mechanic's form, `tasks/run?resource_type=order&ids[]=1&ids[]=2`: pick a task for them.

    Shopify admin links and links in emails point here (https://learn.mechanic.dev/core/shopify/
    admin-action-links); each enabled task that takes the resource opens its Run page with them filled in.
    """
    resource = request.query_params.get("resource_type") or ""
    ids = request.query_params.getlist("ids[]") or request.query_params.getlist("ids")
    listed = await console.api.tasks.list(shop.id)
    takers = [task for task in listed if task.enabled and resource in resource_kinds(task)]
    context = {
        "shop": shop,
        "nav": "tasks",
        "resource": resource,
        "known": resource in RESOURCE_PLURALS,
        "ids": ", ".join(ids),
        "tasks": takers,
    }
    return render(request, "tasks/run_link.html", context)


@router.get("/{task_id}", response_class=HTMLResponse)
async def task_page(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> HTMLResponse:
    return await _task(request, shop, console, task_id)


async def _task(
    request: Request,
    shop: Shop,
    console: Console,
    task_id: str,
    *,
    draft: TaskDraft | None = None,
    chosen: str = "preview",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    task = await console.api.tasks.get(task_id, shop.id)
    draft = draft or TaskDraft()
    mode = "advanced" if request.query_params.get("mode") == "advanced" or draft.script is not None else "basic"
    try:
        preview = await console.api.tasks.preview(task.id, draft, preview_source(chosen), shop.id)
    except RatchetError as exc:
        # A preview event that is gone (retention) falls back to the task's own preview events.
        error, chosen = error or exc.message, "preview"
        preview = await console.api.tasks.preview(task.id, draft, shop_id=shop.id)
    recent = await console.api.tasks.recent_events(task.id, shop.id)
    keys = draft_keys(task.options or {}, draft, task.script, task.subscriptions_template)
    context = {
        "shop": shop,
        "nav": "tasks",
        "task": task,
        "mode": mode,
        "draft": draft,
        "fields": option_fields(task.options or {}, preview.option_errors, draft.options, keys),
        "docs": docs_html(task.docs),
        "buttons": RunButtons.of(task),
        "preview": _preview_context(preview, recent, chosen, task),
        "error": error,
        "imported": request.query_params.get("imported") == "1",
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "tasks/task.html", context, status_code)


def _output(render: PreviewRender) -> RunOutput:
    """A preview render in the shape the event detail's partials draw."""
    error = render.render_error
    return RunOutput(
        [RenderedAction(a["type"], a["options"], a["meta"]) for a in render.actions],
        list(render.logs),
        list(render.errors),
        list(render.permissions),
        RenderError(str(error["message"]), error.get("line"), error.get("column")) if error else None,
    )


def _preview_context(preview: TaskPreview, recent: list[RecentEvent], chosen: str, task: Task) -> dict[str, Any]:
    topics = sorted({s.topic for s in parse_subscriptions(preview.subscriptions)})
    return {
        "result": preview,
        "renders": [(render, _output(render)) for render in preview.renders],
        "recent": recent,
        "topics": topics,
        "chosen": chosen,
        "task": task,
    }


@router.post("/{task_id}/preview", response_class=HTMLResponse)
async def preview_pane(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> HTMLResponse:
    """The preview pane for the form's unsaved values (htmx swaps it in on every edit).

    Without JavaScript, "Update preview" gets the whole page with the form as it was.
    """
    form = await request.form()
    chosen = str(form.get("preview_source") or "preview")
    draft = draft_of(form)
    if not is_htmx(request):
        return await _task(request, shop, console, task_id, draft=draft, chosen=chosen)
    task = await console.api.tasks.get(task_id, shop.id)
    try:
        preview = await console.api.tasks.preview(task.id, draft, preview_source(chosen), shop.id)
    except RatchetError as exc:
        return render(request, "tasks/_preview.html", {"shop": shop, "error": exc.message}, 400)
    recent = await console.api.tasks.recent_events(task.id, shop.id)
    context = {"shop": shop, "error": None, "preview": _preview_context(preview, recent, chosen, task)}
    return render(request, "tasks/_preview.html", context)


@router.post("/{task_id}", response_class=HTMLResponse)
async def save_task(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> Response:
    """Save the form through `tasks.save` (validated as an import is); a refusal re-shows the unsaved form."""
    form = await request.form()
    draft = draft_of(form)
    try:
        await console.api.tasks.save(task_id, draft, shop.id)
    except RatchetError as exc:
        return await _task(request, shop, console, task_id, draft=draft, error=exc.message, status_code=400)
    mode = "&mode=advanced" if form.get("mode") == "advanced" else ""
    return RedirectResponse(f"{_base(shop)}/{task_id}?saved=1{mode}", status_code=303)


@router.get("/{task_id}/export.json")
async def export_task(shop: ShopDep, console: ConsoleDep, task_id: str) -> JSONResponse:
    task = await console.api.tasks.get(task_id, shop.id)
    exported = await console.api.tasks.export(task.id, shop.id)
    slug = "".join(c if c.isalnum() else "-" for c in task.name.lower()).strip("-") or "task"
    return JSONResponse(exported, headers={"content-disposition": f'attachment; filename="{slug}.json"'})


@router.get("/{task_id}/delete", response_class=HTMLResponse)
async def delete_page(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> HTMLResponse:
    task = await console.api.tasks.get(task_id, shop.id)
    return render(request, "tasks/delete.html", {"shop": shop, "nav": "tasks", "task": task})


@router.post("/{task_id}/delete")
async def delete_task(shop: ShopDep, console: ConsoleDep, task_id: str) -> RedirectResponse:
    await console.api.tasks.delete(task_id, shop.id)
    return RedirectResponse(_base(shop), status_code=303)


# -- Run task ------------------------------------------------------------------------------------------


@router.get("/{task_id}/run", response_class=HTMLResponse)
async def run_page(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> HTMLResponse:
    # A run link's resources arrive as ?resource=order&ids=1,2 and fill the resource form.
    entered = {key: request.query_params[key] for key in ("resource", "ids") if key in request.query_params}
    return await _run_page(request, shop, console, task_id, entered=entered)


async def _run_page(
    request: Request,
    shop: Shop,
    console: Console,
    task_id: str,
    *,
    error: str | None = None,
    entered: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    task = await console.api.tasks.get(task_id, shop.id)
    userform = userform_keys(task)
    context = {
        "shop": shop,
        "nav": "tasks",
        "task": task,
        "buttons": RunButtons.of(task),
        "form_fields": option_fields({k: None for k in userform}, {}, entered or {}, userform),
        "error": error,
        "entered": entered or {},
    }
    return render(request, "tasks/run.html", context, status_code)


@router.post("/{task_id}/run", response_class=HTMLResponse)
async def run_task(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> Response:
    """Press the run button (trigger, text or form), or run for resources; then go to the event."""
    form = await request.form()
    mode = str(form.get("mode") or "trigger")
    entered: dict[str, Any] = {}
    try:
        if mode == "resources":
            entered = {"resource": form.get("resource"), "ids": form.get("ids")}
            refs = parse_refs(str(form.get("ids") or ""))
            event_ids = await console.api.tasks.run_for(task_id, str(form.get("resource") or ""), refs, shop.id)
        elif mode == "form":
            entered = submitted_options(form)
            event_ids = [await console.api.tasks.run(task_id, form=entered, shop_id=shop.id)]
        else:
            text = str(form.get("text") or "") if mode == "text" else None
            event_ids = [await console.api.tasks.run(task_id, text=text, shop_id=shop.id)]
    except RatchetError as exc:
        return await _run_page(request, shop, console, task_id, error=exc.message, entered=entered, status_code=400)
    if len(event_ids) == 1:
        return RedirectResponse(f"/s/{shop.id}/events/{event_ids[0]}", status_code=303)
    return RedirectResponse(f"/s/{shop.id}/events?task={task_id}", status_code=303)


# -- versions ------------------------------------------------------------------------------------------


@router.get("/{task_id}/versions", response_class=HTMLResponse)
async def versions_page(request: Request, shop: ShopDep, console: ConsoleDep, task_id: str) -> HTMLResponse:
    task = await console.api.tasks.get(task_id, shop.id)
    versions = await console.api.tasks.versions(task.id, shop.id)
    context = {"shop": shop, "nav": "tasks", "task": task, "versions": versions}
    return render(request, "tasks/versions.html", context)


@router.post("/{task_id}/versions/{version}/restore")
async def restore_version(shop: ShopDep, console: ConsoleDep, task_id: str, version: int) -> RedirectResponse:
    await console.api.tasks.restore(task_id, version, shop.id)
    return RedirectResponse(f"{_base(shop)}/{task_id}/versions?restored={version}", status_code=303)
