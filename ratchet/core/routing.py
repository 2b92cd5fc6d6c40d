"""Which tasks receive an event (Mechanic's routing rules, spec section 2.6 and 9)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ratchet.core.subscriptions import (
    BUTTON_TOPICS,
    ERROR_TOPICS,
    ORIGINATING_TASK_TOPICS,
    Subscription,
    parse_subscriptions,
)

if TYPE_CHECKING:
    # Only the rows' attributes are read: routing stays pure and testable without a database.
    from ratchet.store.tables import Event, Task


@dataclass(frozen=True)
class Match:
    task: Task
    subscription: Subscription


def _subscribes_only_to_errors(subs: list[Subscription]) -> bool:
    return bool(subs) and all(s.topic in ERROR_TOPICS for s in subs)


def eligible(event: Event, task: Task, subs: list[Subscription]) -> bool:
    targets = set(event.task_ids or [])
    if event.topic in ERROR_TOPICS:
        # Error-only tasks are the account's error handlers and see everything; other tasks see
        # only the task/action errors they caused themselves, never event errors.
        if _subscribes_only_to_errors(subs):
            return True
        return event.topic != "mechanic/errors/event" and task.id in targets
    if event.topic in BUTTON_TOPICS or event.topic in ORIGINATING_TASK_TOPICS:
        # Run buttons and follow-ups reach only the task they were made for.
        return task.id in targets
    return not targets or task.id in targets


def match_tasks(event: Event, tasks: list[Task]) -> list[Match]:
    """One match per subscription line on the event's topic (distinct offsets are separate runs)."""
    matches: list[Match] = []
    for task in sorted(tasks, key=lambda t: (t.created_at is None, t.created_at, t.name)):
        if not task.enabled:
            continue
        subs = parse_subscriptions(task.subscriptions or [])
        if not eligible(event, task, subs):
            continue
        matches.extend(Match(task, sub) for sub in subs if sub.topic == event.topic)
    return matches
