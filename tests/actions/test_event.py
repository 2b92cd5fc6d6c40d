"""event action, against a recording stand-in for the worker's `EventService` (the engine's seam)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ratchet.actions.base import ActionContext, ActionOptionsError, PermanentActionError, get_handler
from ratchet.core.clock import utcnow
from ratchet.services.events import CreatedEvent, NewEvent

handler = get_handler("event")
MakeCtx = Callable[..., ActionContext]


class RecordingEvents:
    """Creates one event per idempotency key, like `EventService.create`, and remembers the requests."""

    def __init__(self) -> None:
        self.calls: list[NewEvent] = []
        self.ids: dict[str | None, str] = {}

    async def create(self, event: NewEvent) -> CreatedEvent:
        self.calls.append(event)
        known = event.idempotency_key in self.ids
        event_id = self.ids.setdefault(event.idempotency_key, f"event-{len(self.ids) + 1}")
        return CreatedEvent(event_id, f"workflow-{event_id}", duplicate=known)


async def run(options: Any, ctx: ActionContext) -> Any:
    return await handler.perform(handler.validate(options), ctx)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "topic"),
        ({"topic": "shopify/orders/create"}, "topic"),
        ({"topic": "mechanic/user/trigger"}, "topic"),
        ({"topic": "user/Foo/bar"}, "topic"),
        ({"topic": "user/foo"}, "topic"),
        ({"topic": "user/a/b", "run_at": "next blue moon"}, "run_at"),
        ({"topic": "user/a/b", "run_at": True}, "run_at"),
        ({"topic": "user/a/b", "run_at": {"at": 1}}, "run_at"),
        ({"topic": "user/a/b", "task_id": "t1", "task_ids": ["t2"]}, "task_ids"),
        ({"topic": "user/a/b", "task_ids": []}, "task_ids"),
        ({"topic": "user/a/b", "task_ids": "t1"}, "task_ids"),
        ({"topic": "user/a/b", "task_id": 5}, "task_id"),
        (["user/a/b"], "options"),
    ],
)
def test_invalid_options_name_the_field(options: Any, field: str) -> None:
    with pytest.raises(ActionOptionsError) as raised:
        handler.validate(options)
    assert raised.value.field_name == field


async def test_creates_a_child_event(make_ctx: MakeCtx, shop_id: str) -> None:
    events = RecordingEvents()
    ctx = make_ctx(events=events)
    result = await run({"topic": "user/orders/followup", "data": {"order_id": 7}, "task_id": "task-1"}, ctx)
    assert result == {"event_id": "event-1"}
    assert events.calls == [
        NewEvent(
            shop_id=shop_id,
            topic="user/orders/followup",
            data={"order_id": 7},
            source="user",
            parent_id=ctx.event_id,
            task_ids=["task-1"],
            run_at=None,
            idempotency_key=f"action:{ctx.run_id}",
        )
    ]


async def test_data_defaults_to_null_and_task_ids_are_deduplicated(make_ctx: MakeCtx) -> None:
    events = RecordingEvents()
    await run({"topic": "user/a/b", "task_ids": ["t1", "t2", "t1"]}, make_ctx(events=events))
    assert (events.calls[0].data, events.calls[0].task_ids) == (None, ["t1", "t2"])


async def test_retried_run_creates_the_same_event(make_ctx: MakeCtx) -> None:
    events = RecordingEvents()
    ctx = make_ctx(events=events)
    first = await run({"topic": "user/a/b"}, ctx)
    second = await run({"topic": "user/a/b"}, ctx)
    assert first == second
    assert {call.idempotency_key for call in events.calls} == {f"action:{ctx.run_id}"}


@pytest.mark.parametrize("as_text", [False, True])
async def test_run_at_as_unix_time(make_ctx: MakeCtx, as_text: bool) -> None:
    events = RecordingEvents()
    when = int((utcnow() + timedelta(hours=2)).timestamp())
    await run({"topic": "user/a/b", "run_at": str(when) if as_text else when}, make_ctx(events=events))
    assert events.calls[0].run_at == datetime.fromtimestamp(when, UTC)


async def test_run_at_strings_and_shop_timezone(make_ctx: MakeCtx) -> None:
    events = RecordingEvents()
    ctx = make_ctx(events=events, timezone="America/New_York")
    await run({"topic": "user/a/b", "run_at": "2999-01-02T03:04:05+01:00"}, ctx)
    # Without an offset, a time is read in the shop's zone.
    await run({"topic": "user/a/b", "run_at": "2999-06-01 12:00"}, ctx)
    first, second = (call.run_at for call in events.calls)
    assert first == datetime(2999, 1, 2, 2, 4, 5, tzinfo=UTC) and first.tzinfo == UTC
    assert second == datetime(2999, 6, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))


async def test_past_run_at_means_now(make_ctx: MakeCtx) -> None:
    events = RecordingEvents()
    await run({"topic": "user/a/b", "run_at": 1_000_000_000}, make_ctx(events=events))
    await run({"topic": "user/a/b", "run_at": "2001-09-09"}, make_ctx(events=events))
    assert [call.run_at for call in events.calls] == [None, None]


async def test_missing_service_is_a_permanent_error(make_ctx: MakeCtx) -> None:
    with pytest.raises(PermanentActionError, match="events service"):
        await run({"topic": "user/a/b"}, make_ctx())
