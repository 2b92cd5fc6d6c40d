"""Previewing a task's unsaved edits: render them against events without any side effect.

The task page re-renders this on every edit. The draft becomes a definition the way saving
would make it (ratchet/services/task_drafts.py), and each render goes through the engine's own
`render_task` in preview mode (spec 6.5): no cache, no Shopify calls, no ledger writes. Mechanic
picks a task's preview events from its preview event definitions, else platform samples; the
console can also pick one of the last 20 real events of a subscribed topic, and then shows what
that event's task run recorded beside the draft's render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlmodel import Session, col, select

from ratchet.core.runs import RunKind
from ratchet.core.samples import sample_event
from ratchet.core.subscriptions import parse_subscriptions
from ratchet.core.task_export import (
    TaskDefinition,
    TaskImportError,
    missing_required,
    render_subscriptions,
)
from ratchet.errors import InvalidInput, NotFound
from ratchet.liquid import TaskRenderError, render_task
from ratchet.services.check import preview_events, preview_request
from ratchet.services.render_context import event_object, shop_object
from ratchet.services.task_drafts import TaskDraft, draft_options, drafted_export
from ratchet.services.tasks import definition_of, find_task
from ratchet.store.database import Store
from ratchet.store.tables import Event, Run, Shop, Task

# How many recent real events the task page offers to preview against.
RECENT_EVENTS = 20


@dataclass(frozen=True)
class PreviewSource:
    """Which events to preview against.

    The task's preview events (definitions, then a platform sample per subscribed topic), the
    platform sample of one `topic`, or one real event.
    """

    kind: Literal["preview", "sample", "event"] = "preview"
    topic: str | None = None
    event_id: str | None = None


@dataclass
class RecordedRun:
    """What a real event's task run of this task did: state, version, error, logs and action runs."""

    run_id: str
    state: str
    subscription: str | None
    task_version: int | None
    error: str | None
    logs: list[Any]
    actions: list[dict[str, Any]]


@dataclass
class PreviewRender:
    """One preview event and what the draft rendered for it (or the Liquid error, with its position)."""

    description: str
    event: dict[str, Any]
    actions: list[dict[str, Any]] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    render_error: dict[str, Any] | None = None
    # For a real event: what its task runs of this task recorded.
    recorded: list[RecordedRun] = field(default_factory=list)


@dataclass
class TaskPreview:
    """The whole preview pane: the draft's subscriptions, its invalid fields, and one render per event."""

    subscriptions: list[str]
    subscriptions_error: str | None
    option_errors: dict[str, str]
    missing_required_options: list[str]
    renders: list[PreviewRender]


@dataclass(frozen=True)
class RecentEvent:
    """A real event the task page offers to preview against."""

    id: str
    topic: str
    created_at: str | None


def preview_task(store: Store, shop_id: str, ref: str, draft: TaskDraft, source: PreviewSource) -> TaskPreview:
    """Render the task as the draft would make it, for the events `source` names; writes nothing."""
    with store.session() as session:
        task = find_task(session, shop_id, ref)
        shop = session.get(Shop, shop_id)
        assert shop is not None  # tasks go with their shop
        current = definition_of(task)
        definition, subscriptions_error = _draft(current, draft)
        option_errors = draft_options(
            current.options, draft, definition.script, definition.subscriptions_template
        ).errors
        with store.reading() as conn:
            shop_liquid = shop_object(conn, shop)
            events = _events(session, conn, task, definition, source)
    renders = [_render(definition, task, description, event, shop_liquid) for description, event in events]
    if source.kind == "event" and renders:
        with store.session() as session:
            renders[0].recorded = recorded_runs(session, task.id, str(source.event_id))
    return TaskPreview(
        subscriptions=definition.subscriptions,
        subscriptions_error=subscriptions_error,
        option_errors=option_errors,
        missing_required_options=definition.missing_required_options,
        renders=renders,
    )


def _draft(current: TaskDefinition, draft: TaskDraft) -> tuple[TaskDefinition, str | None]:
    """The drafted definition without the save's refusals.

    A broken template keeps the current subscriptions (and says why); a broken script shows as each
    render's error.
    """
    exported = drafted_export(current, draft)
    error = None
    try:
        subscriptions = render_subscriptions(exported["subscriptions_template"], exported["options"])
    except TaskImportError as exc:
        subscriptions, error = current.subscriptions, exc.message
    return (
        TaskDefinition(
            name=exported["name"],
            script=exported["script"],
            options=exported["options"],
            subscriptions_template=exported["subscriptions_template"],
            subscriptions=subscriptions,
            exported_subscriptions=current.subscriptions,
            docs=exported["docs"],
            shopify_api_version=exported.get("shopify_api_version"),
            perform_action_runs_in_sequence=exported["perform_action_runs_in_sequence"],
            halt_action_run_sequence_on_error=exported["halt_action_run_sequence_on_error"],
            preview_event_definitions=current.preview_event_definitions,
            tags=exported["tags"],
            missing_required_options=missing_required(exported["options"]),
        ),
        error,
    )


def _events(
    session: Session, conn: Any, task: Task, definition: TaskDefinition, source: PreviewSource
) -> list[tuple[str, dict[str, Any]]]:
    if source.kind == "sample":
        if not source.topic:
            raise InvalidInput("a sample preview needs a topic")
        return [(f"{source.topic} (sample)", sample_event(source.topic))]
    if source.kind == "event":
        event = session.get(Event, source.event_id) if source.event_id else None
        if event is None or event.shop_id != task.shop_id:
            raise NotFound(f"unknown event {source.event_id!r}")
        created = event.created_at.isoformat() if event.created_at else "?"
        return [(f"{event.topic} event of {created}", event_object(conn, event))]
    return preview_events(definition)


def _render(
    definition: TaskDefinition, task: Task, description: str, event: dict[str, Any], shop: dict[str, Any]
) -> PreviewRender:
    preview = PreviewRender(description=description, event=event)
    try:
        result = render_task(preview_request(definition, event, shop=shop, task_id=task.id))
    except TaskRenderError as exc:
        preview.render_error = exc.to_dict()
        return preview
    preview.actions = [{"type": a.type, "options": a.options, "meta": a.meta} for a in result.actions]
    preview.logs = result.logs
    preview.errors = result.errors
    preview.permissions = result.permissions
    return preview


def recorded_runs(session: Session, task_id: str, event_id: str) -> list[RecordedRun]:
    """This task's runs of the event, each with its logs and action runs, as the ledger has them."""
    task_runs = session.exec(
        select(Run).where(Run.event_id == event_id, Run.kind == RunKind.task, Run.task_id == task_id)
    ).all()
    recorded = []
    for run in task_runs:
        actions = session.exec(select(Run).where(Run.parent_id == run.id).order_by(col(Run.position))).all()
        objects = run.result if isinstance(run.result, list) else []
        recorded.append(
            RecordedRun(
                run_id=run.id,
                state=run.state.value,
                subscription=run.subscription,
                task_version=run.task_version,
                error=run.error,
                logs=[o["log"] for o in objects if isinstance(o, dict) and "log" in o],
                actions=[
                    {"type": a.action_type, "options": a.action_options, "state": a.state.value, "run_id": a.id}
                    for a in actions
                ],
            )
        )
    return recorded


def recent_events(store: Store, shop_id: str, ref: str, limit: int = RECENT_EVENTS) -> list[RecentEvent]:
    """The newest real events of the topics the task subscribes to, to preview against."""
    with store.session() as session:
        task = find_task(session, shop_id, ref)
        topics = sorted({s.topic for s in parse_subscriptions(task.subscriptions or [])})
        if not topics:
            return []
        rows = session.exec(
            select(Event)
            .where(Event.shop_id == shop_id, col(Event.topic).in_(topics))
            .order_by(col(Event.created_at).desc())
            .limit(limit)
        ).all()
        return [RecentEvent(e.id, e.topic, e.created_at.isoformat() if e.created_at else None) for e in rows]
