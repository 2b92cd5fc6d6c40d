"""Tasks: importing Mechanic exports, listing, enabling (gated on required options), configuring options.

Every use case opens its own session; callers on the event loop run these in a thread. Callers
that can reach Temporal re-sync the shop's scheduler schedules after a change (engine/schedules).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, or_, select

from ratchet.core.api_versions import check_api_version
from ratchet.core.clock import utcnow
from ratchet.core.subscriptions import parse_subscriptions
from ratchet.core.task_export import (
    TaskDefinition,
    TaskImportError,
    configure_options,
    keep_user_options,
    missing_required,
    parse_export,
)
from ratchet.errors import Conflict, InvalidInput, NotFound
from ratchet.services.check import compatibility_warnings
from ratchet.services.compatibility import CompatibilityWarning
from ratchet.services.shops import require_shop
from ratchet.store.database import Store
from ratchet.store.tables import Task

RUN_BUTTON_TOPIC = "mechanic/user/trigger"
RUN_BUTTON_TEXT_TOPIC = "mechanic/user/text"


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
    store: Store, shop_id: str, source: Path | str | dict[str, Any], *, reset: bool = False
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
    """
    exported = read_export(source)
    with store.session() as session:
        require_shop(session, shop_id)
    warnings = compatibility_warnings(exported)
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
        task.enabled = was_enabled and not definition.missing_required_options
        if keep_settings and was_enabled and not task.enabled:
            changes.append("disabled until its empty required options are set")
        task.updated_at = now
        session.add(task)
        return ImportedTask(task, list(definition.missing_required_options), replaced, changes, warnings)


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


def set_enabled(store: Store, shop_id: str, ref: str, enabled: bool) -> Task:
    """Enable or disable; a task with an empty required option cannot be enabled.

    Args:
        store: The ledger and configuration store.
        shop_id: The shop the task belongs to.
        ref: The task's id or name.
        enabled: The state to set.
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
        session.add(task)
        return task


def configure_task(
    store: Store, shop_id: str, ref: str, updates: dict[str, Any], api_version: str | None = None
) -> Task:
    """Set option values and re-render the subscriptions, and/or set the task's Admin API version.

    Options are validated by their flags and the version is checked before anything is saved.

    Args:
        store: The ledger and configuration store.
        shop_id: The shop the task belongs to.
        ref: The task's id or name.
        updates: Option values by option key; strings (as the CLI passes them) are coerced by the flags.
        api_version: A Shopify Admin API version (`2025-01`, `unstable`) for the task's calls; None keeps it.
    """
    if api_version is not None:
        check_api_version(api_version, today=utcnow().date())
    with store.session() as session:
        task = find_task(session, shop_id, ref)
        current = TaskDefinition(
            name=task.name,
            script=task.script,
            options=task.options or {},
            subscriptions_template=task.subscriptions_template,
            subscriptions=task.subscriptions or [],
            exported_subscriptions=task.subscriptions or [],
        )
        configured = configure_options(current, updates)
        task.options = configured.options
        task.subscriptions = configured.subscriptions
        if api_version is not None:
            task.shopify_api_version = api_version
        task.updated_at = utcnow()
        session.add(task)
        return task


def run_button_topic(task: Task, text: str | None) -> str:
    """The topic the task's run button sends (mechanic/user/text when given text), if the task may receive it."""
    topic = RUN_BUTTON_TEXT_TOPIC if text is not None else RUN_BUTTON_TOPIC
    if topic not in {s.topic for s in parse_subscriptions(task.subscriptions or [])}:
        raise Conflict(f"task {task.name!r} does not subscribe to {topic}")
    if not task.enabled:
        raise Conflict(f"task {task.name!r} is disabled; enable it first")
    return topic
