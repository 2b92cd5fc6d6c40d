"""Task versions: the list, one version with its diff, restoring one, and "rendered with version 7 of 9".

Versions are recorded by every change in ratchet/services/tasks.py; restoring imports the old
content over the task (the import's validation and rules), which records a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from ratchet.core.task_export import TaskDefinition
from ratchet.core.task_versions import unified_diff
from ratchet.errors import NotFound
from ratchet.services.tasks import ChangeSource, find_task, read_export, replace_definition
from ratchet.store.database import Store
from ratchet.store.tables import Task, TaskVersion


@dataclass(frozen=True)
class VersionView:
    """One version as the version list shows it; `diff` is the unified diff from the version before."""

    task_id: str
    version: int
    source: str
    change: str
    content_hash: str
    created_at: datetime | None
    content: dict[str, Any]
    diff: str

    @property
    def enabled(self) -> bool:
        """Whether the task was enabled in this version."""
        return bool(self.content.get("enabled"))


def list_versions(store: Store, shop_id: str, task_ref: str) -> list[VersionView]:
    """The task's versions, newest first, each with its diff from the one before it."""
    with store.session() as session:
        task = find_task(session, shop_id, task_ref)
        rows = list(
            session.exec(select(TaskVersion).where(TaskVersion.task_id == task.id).order_by(col(TaskVersion.version)))
        )
    views: list[VersionView] = []
    previous: TaskVersion | None = None
    for row in rows:
        views.append(_view(row, previous))
        previous = row
    return list(reversed(views))


def get_version(store: Store, shop_id: str, task_ref: str, version: int) -> VersionView:
    with store.session() as session:
        task = find_task(session, shop_id, task_ref)
        row = session.get(TaskVersion, (task.id, version))
        if row is None:
            raise NotFound(f"task {task.name!r} has no version {version}")
        # The nearest earlier version (none are deleted, but a database may start part-way).
        previous = session.exec(
            select(TaskVersion)
            .where(TaskVersion.task_id == task.id, col(TaskVersion.version) < version)
            .order_by(col(TaskVersion.version).desc())
        ).first()
        return _view(row, previous)


def _view(row: TaskVersion, previous: TaskVersion | None) -> VersionView:
    before = f"version {previous.version}" if previous is not None else "(nothing)"
    return VersionView(
        task_id=row.task_id,
        version=row.version,
        source=row.source,
        change=row.change,
        content_hash=row.content_hash,
        created_at=row.created_at,
        content=row.content,
        diff=unified_diff(
            previous.content if previous is not None else None, row.content, before, f"version {row.version}"
        ),
    )


def restore_version(
    store: Store, shop_id: str, task_ref: str, version: int, *, changed_by: ChangeSource = "api"
) -> Task:
    """Make the task what `version` was (code, options, settings), through the import's validation.

    The task keeps its current name and enabled state (restoring code never starts or stops a
    task by itself), except that a task whose required options are empty is disabled.
    """
    old = get_version(store, shop_id, task_ref, version)

    def build(task: Task) -> TaskDefinition:
        exported = {key: value for key, value in old.content.items() if key != "enabled"}
        return read_export({**exported, "name": task.name})

    return replace_definition(store, shop_id, task_ref, build, changed_by, f"restore of version {version}")


def current_versions(store: Store, task_ids: set[str]) -> dict[str, int]:
    """Each of these tasks' current version number (tasks deleted since are left out)."""
    if not task_ids:
        return {}
    with store.session() as session:
        rows = session.exec(select(Task.id, Task.version).where(col(Task.id).in_(task_ids))).all()
        return {task_id: version for task_id, version in rows}
