"""event: creates a child `user/*/*` event (spec 7.5) with the worker's `EventService` (`ActionContext.events`).

The idempotency key is derived from the action run, so a retried attempt finds the event the
first attempt created instead of making a second one. `run_at` is passed as an absolute UTC
time (None when absent or already past, meaning "now"); waiting for it is the engine's job.
Result: {"event_id": "<id>"}.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from dateutil import parser as date_parser

from ratchet.actions.base import ActionContext, ActionOptionsError, PermanentActionError, register
from ratchet.core.clock import utcnow
from ratchet.core.subscriptions import TopicError, validate_topic
from ratchet.services.events import NewEvent

_UNIX_TIME = re.compile(r"[+-]?\d+(?:\.\d+)?")


def parse_run_at(value: Any, tz: str) -> datetime | None:
    """A Unix time (number or numeric string) or a date/time string; naive times are in `tz`."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ActionOptionsError("run_at", f"must be a Unix time or a date/time string, got {value!r}")
    if isinstance(value, str) and _UNIX_TIME.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise ActionOptionsError("run_at", f"{value!r} is out of range") from error
    if not isinstance(value, str):
        raise ActionOptionsError("run_at", f"must be a Unix time or a date/time string, got {value!r}")
    try:
        parsed: datetime = date_parser.parse(value)
    except (ValueError, OverflowError) as error:
        raise ActionOptionsError("run_at", f"cannot parse {value!r} as a time") from error
    # Task code formats times in the shop's zone, so a time without an offset means shop time.
    return parsed.replace(tzinfo=ZoneInfo(tz)) if parsed.tzinfo is None else parsed


def _task_ids(options: dict[str, Any]) -> list[str] | None:
    task_id, task_ids = options.get("task_id"), options.get("task_ids")
    if task_id is not None and task_ids is not None:
        raise ActionOptionsError("task_ids", "give either task_id or task_ids, not both")
    if task_id is not None:
        if not isinstance(task_id, str) or not task_id.strip():
            raise ActionOptionsError("task_id", f"must be a task id, got {task_id!r}")
        return [task_id.strip()]
    if task_ids is None:
        return None
    if not isinstance(task_ids, list) or not task_ids or not all(isinstance(t, str) and t.strip() for t in task_ids):
        raise ActionOptionsError("task_ids", f"must be a non-empty array of task ids, got {task_ids!r}")
    return list(dict.fromkeys(t.strip() for t in task_ids))


class EventAction:
    type: ClassVar[str] = "event"

    def validate(self, options: Any) -> dict[str, Any]:
        """Normalise to {"topic", "data", "run_at" (as given, checked), "task_ids" (list or null)}."""
        if not isinstance(options, dict):
            raise ActionOptionsError("options", "must be a hash")
        topic = options.get("topic")
        if not isinstance(topic, str) or not topic.strip():
            raise ActionOptionsError("topic", "is required")
        try:
            topic = validate_topic(topic)
        except TopicError as error:
            raise ActionOptionsError("topic", str(error)) from error
        if not topic.startswith("user/"):
            raise ActionOptionsError("topic", f"must be a user/*/* topic, got {topic!r}")
        # Parsed again at perform time in the shop's zone; here only to fail early.
        parse_run_at(options.get("run_at"), "UTC")
        return {
            "topic": topic,
            "data": options.get("data"),
            "run_at": options.get("run_at"),
            "task_ids": _task_ids(options),
        }

    async def perform(self, options: dict[str, Any], ctx: ActionContext) -> dict[str, str]:
        if ctx.events is None:
            raise PermanentActionError("this worker provides no events service")
        run_at = parse_run_at(options["run_at"], ctx.shop.timezone)
        child = NewEvent(
            shop_id=ctx.shop.id,
            topic=options["topic"],
            data=options["data"],
            source="user",  # events from the Event action are user events (spec 2.5)
            parent_id=ctx.event_id,
            task_ids=options["task_ids"],
            run_at=run_at.astimezone(UTC) if run_at is not None and run_at > utcnow() else None,
            idempotency_key=f"action:{ctx.run_id}",
        )
        return {"event_id": (await ctx.events.create(child)).id}


register(EventAction())
