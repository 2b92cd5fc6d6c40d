"""Event → task runs → action runs: the basic flow, routing, offsets, duplicates, states."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ratchet.core.runs import RunKind, RunState
from starter.api import Ratchet, RatchetError
from tests.support.engine import TIME_SCALE
from tests.support.tasks import add_task
from tests.support.waiting import all_terminal, of_kind, settled, wait_for_runs


async def test_event_runs_task_and_echo_action(api: Ratchet) -> None:
    task = await add_task(api, "Echo", '{% action "echo", hello: event.data.name %}', ["user/test/ping"])
    event_id = await api.events.send("user/test/ping", {"name": "world"})
    runs = await wait_for_runs(api, event_id, settled(1))

    (event_run,) = of_kind(runs, RunKind.event)
    (task_run,) = of_kind(runs, RunKind.task)
    (action_run,) = of_kind(runs, RunKind.action)
    assert [r.state for r in (event_run, task_run, action_run)] == [RunState.succeeded] * 3
    assert task_run.parent_id == event_run.id and action_run.parent_id == task_run.id
    assert task_run.task_id == task.id and action_run.action_type == "echo"
    # Action runs start only after their task run has fully concluded.
    assert task_run.stopped_at is not None and action_run.started_at is not None
    assert action_run.started_at >= task_run.stopped_at
    detail = await api.runs.get(action_run.id)
    assert detail.result == {"hello": "world"}
    assert detail.attempts == 1 and detail.ok is True and detail.elapsed_time_ms is not None


async def test_only_subscribed_enabled_tasks_receive_an_event(api: Ratchet) -> None:
    await add_task(api, "Subscribed", '{% action "echo", n: 1 %}', ["user/order/placed"])
    await add_task(api, "Other topic", '{% action "echo", n: 2 %}', ["user/order/cancelled"])
    disabled = await add_task(api, "Disabled", '{% action "echo", n: 3 %}', ["user/order/placed"])
    await api.tasks.disable(disabled.id)
    event_id = await api.events.send("user/order/placed", {})
    runs = await wait_for_runs(api, event_id, settled(1))
    assert [r.task_name for r in of_kind(runs, RunKind.task)] == ["Subscribed"]


async def test_run_button_reaches_only_its_task(api: Ratchet) -> None:
    mine = await add_task(api, "Mine", '{% action "echo", who: "mine" %}', ["mechanic/user/trigger"])
    await add_task(api, "Theirs", '{% action "echo", who: "theirs" %}', ["mechanic/user/trigger"])
    event_id = await api.tasks.run(mine.name)
    runs = await wait_for_runs(api, event_id, settled(1))
    assert [r.task_id for r in of_kind(runs, RunKind.task)] == [mine.id]
    with pytest.raises(RatchetError, match="run button"):
        await api.events.send("mechanic/user/trigger", None)


async def test_task_id_targeting_requires_a_subscription(api: Ratchet) -> None:
    target = await add_task(api, "Target", '{% action "echo", x: 1 %}', ["user/x/y"])
    unsubscribed = await add_task(api, "Unsubscribed", '{% action "echo", x: 2 %}', ["user/other/topic"])
    await add_task(api, "Bystander", '{% action "echo", x: 3 %}', ["user/x/y"])
    event_id = await api.events.send("user/x/y", None, task_ids=[target.id, unsubscribed.id])
    runs = await wait_for_runs(api, event_id, settled(1))
    assert [r.task_id for r in of_kind(runs, RunKind.task)] == [target.id]


async def test_offset_task_run_waits_scheduled_on_a_durable_timer(api: Ratchet) -> None:
    # +40.seconds at scale 0.05 is a 2 s wait; the bare subscription runs at once.
    await add_task(api, "Later", '{% action "echo", when: "later" %}', ["user/x/y+40.seconds", "user/x/y"])
    event_id = await api.events.send("user/x/y", None)

    def delayed_waiting(runs: list) -> bool:
        tasks = of_kind(runs, RunKind.task)
        return (
            len(tasks) == 2
            and any(t.state == RunState.scheduled for t in tasks)
            and len(of_kind(runs, RunKind.action)) == 1
        )

    runs = await wait_for_runs(api, event_id, delayed_waiting, timeout=20)
    (event_run,) = of_kind(runs, RunKind.event)
    scheduled = next(r for r in of_kind(runs, RunKind.task) if r.state == RunState.scheduled)
    assert event_run.started_at is not None and scheduled.run_at is not None
    expected = event_run.started_at + timedelta(seconds=40 * TIME_SCALE)
    assert abs((scheduled.run_at - expected).total_seconds()) < 0.5

    runs = await wait_for_runs(api, event_id, settled(2))
    delayed = next(r for r in of_kind(runs, RunKind.task) if r.id == scheduled.id)
    assert delayed.started_at is not None and delayed.started_at >= expected - timedelta(seconds=0.05)


async def test_duplicate_event_key_creates_one_event(api: Ratchet) -> None:
    await add_task(api, "Once", '{% action "echo", x: 1 %}', ["user/dup/check"])
    first = await api.events.send("user/dup/check", {"n": 1}, idempotency_key="order-1001")
    runs = await wait_for_runs(api, first, settled(1))
    # Even after the first event's work is done, the same key is refused by Temporal's id-reuse policy.
    second = await api.events.send("user/dup/check", {"n": 2}, idempotency_key="order-1001")
    assert second == first
    await asyncio.sleep(1)
    assert len(await api.runs.list(event_id=first)) == len(runs)
    assert len(await api.runs.list(kind=RunKind.event)) == 1


async def test_event_run_at_waits_in_scheduled(api: Ratchet) -> None:
    await add_task(api, "At", '{% action "echo", x: 1 %}', ["user/at/time"])
    from ratchet.core.clock import utcnow

    sent_at = utcnow()
    event_id = await api.events.send("user/at/time", None, run_at=sent_at + timedelta(seconds=40))
    (event_run,) = await api.runs.list(event_id=event_id)
    # 40 s ahead at scale 0.05 is a 2 s wait.
    assert event_run.state == RunState.scheduled and event_run.run_at is not None
    run_at = event_run.run_at
    assert timedelta(seconds=1.95) <= run_at - sent_at <= timedelta(seconds=2.5)
    runs = await wait_for_runs(api, event_id, settled(1))
    started = of_kind(runs, RunKind.event)[0].started_at
    assert started is not None and started >= run_at - timedelta(seconds=0.05)


async def test_sequenced_actions_run_in_order_and_halt_on_error(api: Ratchet) -> None:
    script = """
    {% action "echo", step: 1 %}
    {% action "echo", step: 2, __error: "step 2 broke" %}
    {% action "echo", step: 3 %}
    """
    await add_task(
        api,
        "Sequence",
        script,
        ["user/seq/go"],
        perform_action_runs_in_sequence=True,
        halt_action_run_sequence_on_error=True,
    )
    event_id = await api.events.send("user/seq/go", None)
    runs = await wait_for_runs(api, event_id, settled(3))
    actions = sorted(of_kind(runs, RunKind.action), key=lambda r: r.id)
    by_step = {(await api.runs.get(a.id)).action_options["step"]: a for a in actions}
    assert by_step[1].state == RunState.succeeded
    assert by_step[2].state == RunState.failed and by_step[2].error == "step 2 broke"
    assert by_step[3].state == RunState.failed and "halted" in (by_step[3].error or "")
    assert by_step[3].started_at is None  # never performed
    assert by_step[1].stopped_at is not None and by_step[2].started_at is not None
    assert by_step[2].started_at >= by_step[1].stopped_at


async def test_sequence_without_halt_continues_after_a_failure(api: Ratchet) -> None:
    script = '{% action "echo", step: 1, __error: "no" %}{% action "echo", step: 2 %}'
    await add_task(api, "Continue", script, ["user/seq/more"], perform_action_runs_in_sequence=True)
    event_id = await api.events.send("user/seq/more", None)
    runs = await wait_for_runs(api, event_id, settled(2))
    assert sorted(r.state.value for r in of_kind(runs, RunKind.action)) == ["Failed", "Succeeded"]


async def test_error_object_fails_task_run_and_discards_actions(api: Ratchet) -> None:
    await add_task(api, "Errs", '{% action "echo", x: 1 %}{% error "bad input" %}', ["user/err/obj"])
    event_id = await api.events.send("user/err/obj", None)
    runs = await wait_for_runs(api, event_id, lambda rs: all_terminal(rs) and len(rs) == 2)
    (task_run,) = of_kind(runs, RunKind.task)
    assert task_run.state == RunState.failed and "bad input" in (task_run.error or "")
    assert task_run.attempts == 1  # permanent: no automatic retries
    assert of_kind(runs, RunKind.action) == []


async def test_liquid_syntax_error_rejects_the_import(api: Ratchet) -> None:
    with pytest.raises(RatchetError, match="line 2, column"):
        await add_task(api, "Unparseable", "line one\n{% if %}", ["user/err/liquid"])
    assert await api.tasks.list() == []


async def test_liquid_error_fails_with_position(api: Ratchet) -> None:
    await add_task(api, "Broken", 'line one\n{{ "not json" | parse_json }}', ["user/err/liquid"])
    event_id = await api.events.send("user/err/liquid", None)
    runs = await wait_for_runs(api, event_id, lambda rs: all_terminal(rs) and len(rs) == 2)
    (task_run,) = of_kind(runs, RunKind.task)
    assert task_run.state == RunState.failed
    assert "line 2" in (task_run.error or "")
