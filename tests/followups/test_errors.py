"""Error events mechanic/errors/event|task|action (spec 9): payload, routing, no loops, no disabled-task noise."""

from __future__ import annotations

from ratchet.core.runs import RunKind, RunState
from ratchet.services.event_filters import save_filter
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import (
    all_terminal,
    child_events,
    of_kind,
    settled,
    wait_for_children,
    wait_for_runs,
    wait_until_idle,
)

ERROR_TOPICS = ["mechanic/errors/event", "mechanic/errors/task", "mechanic/errors/action"]
REPORTER = "{% log topic: event.topic, message: error.message %}"


async def error_task_runs(api: Ratchet, error_event_id: str, expected: int) -> list:
    runs = await wait_for_runs(
        api, error_event_id, lambda rs: all_terminal(rs) and len(of_kind(rs, RunKind.task)) == expected
    )
    return of_kind(runs, RunKind.task)


async def test_action_error_payload_and_routing(api: Ratchet) -> None:
    failing = await add_task(
        api, "Failing", '{% action "echo", n: 1, __error: "echo says no" %}', ["user/err/act", "mechanic/errors/action"]
    )
    other = await add_task(api, "Other", REPORTER, ["user/other/topic", "mechanic/errors/action"])
    reporter = await add_task(api, "Reporter", REPORTER, ERROR_TOPICS)
    event_id = await api.events.send("user/err/act", {"order": 1})
    runs = await wait_for_runs(api, event_id, settled(1))
    (event_run,) = of_kind(runs, RunKind.event)
    (task_run,) = of_kind(runs, RunKind.task)
    (action_run,) = of_kind(runs, RunKind.action)

    (error,) = await wait_for_children(api, event_id, "mechanic/errors/action")
    data = error.data
    assert data["message"] == "echo says no"
    assert {k: data["event"][k] for k in ("id", "topic", "source")} == {
        "id": event_id,
        "topic": "user/err/act",
        "source": "user",
    }
    assert data["event"]["run"]["id"] == event_run.id and data["event"]["run"]["ok"] is True
    assert data["task"]["id"] == failing.id and data["task"]["name"] == "Failing"
    assert data["task"]["subscriptions"] == ["user/err/act", "mechanic/errors/action"]
    assert data["task"]["run"]["id"] == task_run.id
    assert data["action"]["type"] == "echo" and data["action"]["options"] == {"n": 1, "__error": "echo says no"}
    assert data["action"]["run"]["id"] == action_run.id
    assert (data["action"]["run"]["ok"], data["action"]["run"]["error"], data["action"]["run"]["attempts"]) == (
        False,
        "echo says no",
        1,
    )

    # The failing task sees its own error; the error-only reporter sees every error; "Other" does not.
    receivers = await error_task_runs(api, error.id, 2)
    assert sorted(r.task_id for r in receivers) == sorted([failing.id, reporter.id])
    assert other.id not in {r.task_id for r in receivers}


async def test_task_error_has_no_action_part(api: Ratchet) -> None:
    failing = await add_task(api, "Raises", '{% error "bad input" %}', ["user/err/task"])
    reporter = await add_task(api, "Reporter", REPORTER, ERROR_TOPICS)
    event_id = await api.events.send("user/err/task", None)
    runs = await wait_for_runs(api, event_id, lambda rs: all_terminal(rs) and len(rs) == 2)
    (task_run,) = of_kind(runs, RunKind.task)

    (error,) = await wait_for_children(api, event_id, "mechanic/errors/task")
    assert error.data["message"] == task_run.error and "bad input" in error.data["message"]
    assert error.data["task"]["id"] == failing.id and error.data["task"]["run"]["ok"] is False
    assert "action" not in error.data
    (receiver,) = await error_task_runs(api, error.id, 1)
    assert receiver.task_id == reporter.id
    assert (await api.runs.get(receiver.id)).result == [
        {"log": {"topic": "mechanic/errors/task", "message": task_run.error}}
    ]


async def test_event_error_reaches_only_error_only_tasks(api: Ratchet) -> None:
    # Fails for this topic only, so the error event itself passes the filters.
    save_filter(
        api.store,
        api.settings.shop,
        "broken",
        '{% if event.topic == "user/err/event" %}{{ "x" | parse_json }}{% endif %}',
    )
    await add_task(api, "Mixed", REPORTER, ["user/err/event", *ERROR_TOPICS])
    reporter = await add_task(api, "Reporter", REPORTER, ERROR_TOPICS)
    event_id = await api.events.send("user/err/event", None)
    (event_run,) = await wait_for_runs(api, event_id, all_terminal)
    assert event_run.state == RunState.failed and event_run.attempts == 1
    assert "event filter 'broken' failed" in (event_run.error or "")

    (error,) = await wait_for_children(api, event_id, "mechanic/errors/event")
    assert error.task_ids is None
    assert error.data["message"] == event_run.error and error.data["event"]["run"]["id"] == event_run.id
    assert "task" not in error.data and "action" not in error.data
    # A task with other subscriptions never receives event errors, even when subscribed to them.
    receivers = await error_task_runs(api, error.id, 1)
    assert [r.task_id for r in receivers] == [reporter.id]


async def test_failing_error_handler_raises_no_further_error(api: Ratchet) -> None:
    await add_task(api, "Raises", '{% error "first failure" %}', ["user/err/loop"])
    await add_task(api, "Broken reporter", '{% error "reporter failed too" %}', ERROR_TOPICS)
    event_id = await api.events.send("user/err/loop", None)
    (error,) = await wait_for_children(api, event_id, "mechanic/errors/task")
    (handler_run,) = await error_task_runs(api, error.id, 1)
    assert handler_run.state == RunState.failed
    await wait_until_idle(api, error.id)
    assert child_events(api, error.id) == []


async def test_disabled_task_fast_fail_raises_no_error(api: Ratchet) -> None:
    # +40.seconds is a 2 s wait at the test time scale: time to disable the task meanwhile.
    task = await add_task(api, "Later", '{% log "never" %}', ["user/err/disabled+40.seconds"])
    await add_task(api, "Reporter", REPORTER, ERROR_TOPICS)
    event_id = await api.events.send("user/err/disabled", None)
    await wait_for_runs(api, event_id, lambda rs: len(of_kind(rs, RunKind.task)) == 1)
    await api.tasks.disable(task.id)
    runs = await wait_for_runs(api, event_id, lambda rs: all_terminal(rs) and len(rs) == 2)
    (task_run,) = of_kind(runs, RunKind.task)
    assert task_run.state == RunState.failed and "disabled" in (task_run.error or "")
    await wait_until_idle(api, event_id)
    assert child_events(api, event_id) == []
