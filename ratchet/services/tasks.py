"""Tasks: import, list, enable, configure, save, delete, and the run button's events.

Enabling is gated on required options; saving validates as an import does.

Every change records a task version in the same transaction (`task_versions`: who, when, the
content and its hash; an unchanged result records none); reading and restoring versions is
ratchet/services/task_versions.py. Every use case opens its own session; callers on the event
loop run these in a thread. Callers that can reach Temporal re-sync the shop's scheduler
schedules after a change (engine/schedules).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlmodel import Session, col, delete, or_, select

from ratchet.core.api_versions import check_api_version
from ratchet.core.clock import utcnow
from ratchet.core.subscriptions import parse_subscriptions
from ratchet.core.task_export import (
    TaskDefinition,
    TaskImportError,
    coerce_option,
    configure_options,
    export_definition,
    keep_user_options,
    missing_required,
    option_spec,
    parse_export,
)
from ratchet.core.task_versions import content_hash
from ratchet.errors import Conflict, InvalidInput, NotFound
from ratchet.services.check import compatibility_warnings
from ratchet.services.compatibility import CompatibilityWarning
from ratchet.services.shops import require_shop
from ratchet.services.task_drafts import TaskDraft, draft_definition
from ratchet.store.database import Store
from ratchet.store.tables import Task, TaskVersion

RUN_BUTTON_TOPIC = "mechanic/user/trigger"
RUN_BUTTON_TEXT_TOPIC = "mechanic/user/text"
RUN_BUTTON_FORM_TOPIC = "mechanic/user/form"

# Who made a change, as its task version records it.
ChangeSource = Literal["cli", "console", "api"]


@dataclass
class ImportedTask:
    """A task as imported, with what the user should know about it."""

    task: Task
    missing_required_options: list[str]
    """Required options still empty: the task stays disabled until they are set."""
    replaced: bool
    """A task of the same name existed and was replaced."""
    changes: list[str] = field(default_factory=list)
    """What a re-import changed, or kept, of the user's task (empty for a first import or a reset)."""
    warnings: list[CompatibilityWarning] = field(default_factory=list)
    """Features of the task that will not work on this installation."""


def read_export(source: Path | str | dict[str, Any]) -> TaskDefinition:
    """A parsed export from a file, JSON text or a dict; InvalidInput names what is wrong."""
    if isinstance(source, Path):
        try:
            source = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {source}: {exc.strerror}") from exc
    try:
        return parse_export(source)
    except TaskImportError as exc:
        raise InvalidInput(f"invalid task export: {exc}") from exc


def import_task(
    store: Store,
    shop_id: str,
    source: Path | str | dict[str, Any],
    *,
    reset: bool = False,
    changed_by: ChangeSource = "api",
    change: str = "import",
    pdf_browser: Path | None = None,
) -> ImportedTask:
    """Import a Mechanic export; enabled when its required options are filled, else disabled.

    Importing over a task with the same name replaces its code but keeps what the user set:
    its enabled state and the values of options both versions have (`changes` says what
    differs).

    Args:
        store: The ledger and configuration store.
        shop_id: The shop the task belongs to.
        source: The export: a file path, its JSON text, or the parsed dict.
        reset: Replace the enabled state and option values too, as a first import would.
        changed_by: Who imports, recorded on the task version.
        change: What the version calls the change (a restore imports an old version).
        pdf_browser: RATCHET_PDF_BROWSER, which decides whether a PDF's scripts can run here (warnings).
    """
    exported = read_export(source)
    with store.session() as session:
        require_shop(session, shop_id)
    warnings = compatibility_warnings(exported, pdf_browser)
    now = utcnow()
    with store.session() as session:
        task = session.exec(select(Task).where(Task.shop_id == shop_id, Task.name == exported.name)).first()
        replaced = task is not None
        keep_settings = task is not None and not reset
        definition, changes = exported, list[str]()
        if task is not None and keep_settings:
            try:
                definition, changes = keep_user_options(exported, task.options or {})
            except TaskImportError as exc:
                raise InvalidInput(f"{exc}; re-import with --reset to take the export's values") from exc
            if task.script != definition.script:
                changes.append("script changed")
            if set(task.subscriptions or []) != set(definition.subscriptions):
                changes.append("subscriptions now: " + (", ".join(definition.subscriptions) or "none"))
        task = task or Task(id=str(uuid.uuid4()), shop_id=shop_id, name=definition.name, created_at=now)
        was_enabled = task.enabled if keep_settings else True
        _apply(task, definition)
        task.enabled = was_enabled and not definition.missing_required_options
        if keep_settings and was_enabled and not task.enabled:
            changes.append("disabled until its empty required options are set")
        task.updated_at = now
        record_version(session, task, changed_by, change)
        return ImportedTask(task, list(definition.missing_required_options), replaced, changes, warnings)


def _apply(task: Task, definition: TaskDefinition) -> None:
    """Give the task everything a definition holds (its name included)."""
    task.name = definition.name
    task.script = definition.script
    task.options = definition.options
    task.subscriptions = definition.subscriptions
    task.subscriptions_template = definition.subscriptions_template
    task.shopify_api_version = definition.shopify_api_version
    task.perform_action_runs_in_sequence = definition.perform_action_runs_in_sequence
    task.halt_action_run_sequence_on_error = definition.halt_action_run_sequence_on_error
    task.docs = definition.docs
    task.preview_event_definitions = definition.preview_event_definitions
    task.online_store_javascript = definition.online_store_javascript
    task.order_status_javascript = definition.order_status_javascript
    task.tags = definition.tags


def definition_of(task: Task) -> TaskDefinition:
    """The task as a Mechanic definition (what it would export)."""
    options = task.options or {}
    return TaskDefinition(
        name=task.name,
        script=task.script,
        options=options,
        subscriptions_template=task.subscriptions_template,
        subscriptions=task.subscriptions or [],
        exported_subscriptions=task.subscriptions or [],
        docs=task.docs,
        shopify_api_version=task.shopify_api_version,
        perform_action_runs_in_sequence=task.perform_action_runs_in_sequence,
        halt_action_run_sequence_on_error=task.halt_action_run_sequence_on_error,
        preview_event_definitions=task.preview_event_definitions or [],
        online_store_javascript=task.online_store_javascript,
        order_status_javascript=task.order_status_javascript,
        tags=task.tags or [],
        missing_required_options=missing_required(options),
    )


def export_task(task: Task) -> dict[str, Any]:
    """The task's Mechanic export (JSON-ready); importing it elsewhere makes the same task."""
    return export_definition(definition_of(task))


def task_content(task: Task) -> dict[str, Any]:
    """What a task version holds: the export and the enabled flag."""
    return {**export_task(task), "enabled": task.enabled}


def record_version(session: Session, task: Task, changed_by: ChangeSource, change: str) -> TaskVersion | None:
    """Record the task as it now is as its next version; None (nothing recorded) when unchanged.

    Called by every change in the same session, so a change and its version commit together.
    """
    content = task_content(task)
    digest = content_hash(content)
    if task.version:
        latest = session.get(TaskVersion, (task.id, task.version))
        if latest is not None and latest.content_hash == digest:
            session.add(task)
            return None
    task.version = (task.version or 0) + 1
    version = TaskVersion(
        task_id=task.id,
        version=task.version,
        shop_id=task.shop_id,
        source=changed_by,
        change=change,
        content=content,
        content_hash=digest,
        created_at=task.updated_at or utcnow(),
    )
    session.add(task)
    session.add(version)
    return version


def find_task(session: Session, shop_id: str, ref: str) -> Task:
    """The shop's task with this id or name."""
    task = session.exec(select(Task).where(Task.shop_id == shop_id, or_(Task.id == ref, Task.name == ref))).first()
    if task is None:
        raise NotFound(f"unknown task {ref!r} in shop {shop_id!r}")
    return task


def get_task(store: Store, shop_id: str, ref: str) -> Task:
    with store.session() as session:
        return find_task(session, shop_id, ref)


def list_tasks(store: Store, shop_id: str) -> list[Task]:
    with store.session() as session:
        return list(session.exec(select(Task).where(Task.shop_id == shop_id).order_by(Task.name)))


def set_enabled(store: Store, shop_id: str, ref: str, enabled: bool, *, changed_by: ChangeSource = "api") -> Task:
    """Enable or disable; a task with an empty required option cannot be enabled.

    Args:
        store: The ledger and configuration store.
        shop_id: The shop the task belongs to.
        ref: The task's id or name.
        enabled: The state to set.
        changed_by: Who changes it, recorded on the task version.
    """
    with store.session() as session:
        task = find_task(session, shop_id, ref)
        if enabled:
            missing = missing_required(task.options or {})
            if missing:
                raise Conflict(
                    f"task {task.name!r} has empty required options: {', '.join(missing)}; "
                    "set them with `ratchet task configure`"
                )
        task.enabled = enabled
        task.updated_at = utcnow()
        record_version(session, task, changed_by, "enable" if enabled else "disable")
        return task


def configure_task(
    store: Store,
    shop_id: str,
    ref: str,
    updates: dict[str, Any],
    api_version: str | None = None,
    *,
    changed_by: ChangeSource = "api",
) -> Task:
    """Set option values and re-render the subscriptions, and/or set the task's Admin API version.

    Options are validated by their flags and the version is checked before anything is saved.

    Args:
        store: The ledger and configuration store.
        shop_id: The shop the task belongs to.
        ref: The task's id or name.
        updates: Option values by option key; strings (as the CLI passes them) are coerced by the flags.
        api_version: A Shopify Admin API version (`2025-01`, `unstable`) for the task's calls; None keeps it.
        changed_by: Who configures, recorded on the task version.
    """
    if api_version is not None:
        check_api_version(api_version, today=utcnow().date())
    with store.session() as session:
        task = find_task(session, shop_id, ref)
        configured = configure_options(definition_of(task), updates)
        task.options = configured.options
        task.subscriptions = configured.subscriptions
        if api_version is not None:
            task.shopify_api_version = api_version
        task.updated_at = utcnow()
        record_version(session, task, changed_by, "configure")
        return task


def save_task(store: Store, shop_id: str, ref: str, draft: TaskDraft, *, changed_by: ChangeSource = "api") -> Task:
    """Save edits from the task page, validated as an import is.

    Args:
        store: the ledger.
        shop_id: the task's shop.
        ref: the task's id or name.
        draft: what changes; fields it leaves None stay as they are.
        changed_by: who saves, recorded on the task version.
    """
    return replace_definition(
        store, shop_id, ref, lambda task: draft_definition(definition_of(task), draft), changed_by, "save"
    )


def replace_definition(
    store: Store,
    shop_id: str,
    ref: str,
    build: Callable[[Task], TaskDefinition],
    changed_by: ChangeSource,
    change: str,
) -> Task:
    """Give the task the definition `build` makes of it (a save, a restore) and record the version.

    The enabled state is kept unless a required option is now empty: then the task is disabled,
    as an import would leave it.
    """
    with store.session() as session:
        task = find_task(session, shop_id, ref)
        definition = build(task)
        if definition.name != task.name:
            taken = session.exec(select(Task).where(Task.shop_id == shop_id, Task.name == definition.name)).first()
            if taken is not None:
                raise Conflict(f"another task is named {definition.name!r}")
        _apply(task, definition)
        task.enabled = task.enabled and not definition.missing_required_options
        task.updated_at = utcnow()
        record_version(session, task, changed_by, change)
        return task


def delete_task(store: Store, shop_id: str, ref: str) -> Task:
    """Delete a task and its versions; its queued runs then fail as a deleted task's do (spec 9)."""
    with store.session() as session:
        task = find_task(session, shop_id, ref)
        session.exec(delete(TaskVersion).where(col(TaskVersion.task_id) == task.id))
        session.delete(task)
        return task


def run_button_topic(task: Task, text: str | None, *, form: bool = False) -> str:
    """The topic the task's run button sends, if the task may receive it.

    mechanic/user/trigger; mechanic/user/text when given text; mechanic/user/form for its form.
    """
    topic = RUN_BUTTON_FORM_TOPIC if form else RUN_BUTTON_TEXT_TOPIC if text is not None else RUN_BUTTON_TOPIC
    require_subscribed(task, topic)
    return topic


def require_subscribed(task: Task, topic: str) -> None:
    """Conflict unless the task is enabled and subscribes to `topic` (a run button's or link's event)."""
    if topic not in {s.topic for s in parse_subscriptions(task.subscriptions or [])}:
        raise Conflict(f"task {task.name!r} does not subscribe to {topic}")
    if not task.enabled:
        raise Conflict(f"task {task.name!r} is disabled; enable it first")


def userform_keys(task: Task) -> list[str]:
    """The options the Run task form asks for (flag `userform`), in the task's order."""
    return [key for key in task.options or {} if option_spec(key).userform]


def userform_data(task: Task, values: dict[str, Any]) -> dict[str, Any]:
    """The `mechanic/user/form` event's data from the form's values, validated by each option's flags.

    Each value is under its option's name (`input.<name>`, Mechanic's documented way) and under
    its full key (`event.data.<key>`, kept for older tasks):
    https://learn.mechanic.dev/core/tasks/user-form
    """
    data: dict[str, Any] = {}
    missing: list[str] = []
    for key in userform_keys(task):
        value = coerce_option(key, values.get(key))
        if value is None and option_spec(key).required:
            missing.append(key)
        data[key] = value
        data[key.split("__", 1)[0]] = value
    if missing:
        raise InvalidInput("the form's required fields are empty: " + ", ".join(missing))
    return data
