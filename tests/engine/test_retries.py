"""Automatic retries (exact backoff), manual retries (eligibility, context), disabled tasks."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle

from ratchet.core.runs import RETRY_DELAYS_SECONDS, RunKind, RunState
from ratchet.engine.contract import RETRY_DESK_ID, RUN_STATE, TASK_NAMES, RetryRequest
from ratchet.store.ledger import event_workflow_id
from ratchet.store.tables import RunAttempt
from starter.api import Ratchet, RatchetError
from tests.support.engine import TIME_SCALE
from tests.support.tasks import add_task
from tests.support.waiting import all_terminal, eventually, of_kind, settled, wait_for_runs
from workflows.event import EventWorkflow
from workflows.retry_desk import RetryDeskWorkflow


def attempts_of(api: Ratchet, run_id: str) -> list[RunAttempt]:
    with api.store.session() as session:
        return list(
            session.exec(select(RunAttempt).where(RunAttempt.run_id == run_id).order_by(col(RunAttempt.attempt)))
        )


async def test_transient_failures_retry_on_mechanics_exact_schedule(api: Ratchet) -> None:
    await add_task(api, "Flaky", '{% action "test_flaky", label: "never" %}', ["user/flaky/go"])
    event_id = await api.events.send("user/flaky/go", None)

    # Between attempts the run shows Scheduled with its next run_at.
    def waiting_for_retry(runs: list) -> bool:
        actions = of_kind(runs, RunKind.action)
        return bool(actions) and actions[0].state == RunState.scheduled

    runs = await wait_for_runs(api, event_id, waiting_for_retry, timeout=20)
    action = of_kind(runs, RunKind.action)[0]
    assert action.attempts == 1 and action.error == "flaky failure on attempt 1"
    assert action.stopped_at is not None and action.run_at is not None
    assert abs((action.run_at - action.stopped_at).total_seconds() - 30 * TIME_SCALE) < 0.01

    runs = await wait_for_runs(api, event_id, settled(1), timeout=90)
    action = of_kind(runs, RunKind.action)[0]
    assert action.state == RunState.failed and action.attempts == 5
    log = attempts_of(api, action.id)
    assert [a.attempt for a in log] == [1, 2, 3, 4, 5]
    gaps = [
        (later.started_at - earlier.stopped_at).total_seconds()  # type: ignore[operator]  # finished attempts have both times
        for earlier, later in itertools.pairwise(log)
    ]
    expected = [d * TIME_SCALE for d in RETRY_DELAYS_SECONDS]  # 1.5, 3.8, 7.6, 15.4 s
    for gap, want in zip(gaps, expected, strict=False):
        assert want - 0.05 <= gap <= want + 0.6, (gaps, expected)
    assert log[-1].retry_at is None  # the fifth failure is final


async def test_transient_failure_then_success(api: Ratchet) -> None:
    await add_task(api, "Recovers", '{% action "test_flaky", succeed_on: 2 %}', ["user/flaky/recover"])
    event_id = await api.events.send("user/flaky/recover", None)
    runs = await wait_for_runs(api, event_id, settled(1), timeout=30)
    action = of_kind(runs, RunKind.action)[0]
    assert action.state == RunState.succeeded and action.attempts == 2
    assert (await api.runs.get(action.id)).result == {"attempt": 2}


async def test_permanent_error_fails_at_once(api: Ratchet) -> None:
    await add_task(api, "Permanent", '{% action "echo", __error: "nope" %}', ["user/perm/go"])
    event_id = await api.events.send("user/perm/go", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    action = of_kind(runs, RunKind.action)[0]
    assert action.state == RunState.failed and action.attempts == 1 and action.error == "nope"


async def test_render_memory_limit_fails_the_task_run_on_its_first_attempt(api: Ratchet) -> None:
    doubling = (
        '{% assign s = "x" %}{% for i in (1..60) %}{% assign s = s | append: s %}{% endfor %}{% action "echo" s %}'
    )
    await add_task(api, "Runaway", doubling, ["user/limit/go"])
    await add_task(api, "Neighbour", '{% action "echo", ok: true %}', ["user/limit/go"])
    event_id = await api.events.send("user/limit/go", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    runaway = next(r for r in of_kind(runs, RunKind.task) if r.task_name == "Runaway")
    assert runaway.state == RunState.failed and runaway.attempts == 1
    assert runaway.error is not None and "render memory limit reached" in runaway.error
    [neighbour_action] = of_kind(runs, RunKind.action)
    assert neighbour_action.state == RunState.succeeded and neighbour_action.task_name == "Neighbour"


async def test_retry_eligibility_rules(api: Ratchet) -> None:
    await add_task(
        api, "Produces", '{% action "echo", __error: "fail" %}{% action "echo", ok: true %}', ["user/elig/a"]
    )
    await add_task(api, "Logs only", '{% log "just looking" %}', ["user/elig/a"])
    event_id = await api.events.send("user/elig/a", None)
    runs = await wait_for_runs(api, event_id, settled(2))

    event_run = of_kind(runs, RunKind.event)[0]
    producing = next(r for r in of_kind(runs, RunKind.task) if r.task_name == "Produces")
    logs_only = next(r for r in of_kind(runs, RunKind.task) if r.task_name == "Logs only")
    failed_action = next(r for r in of_kind(runs, RunKind.action) if r.state == RunState.failed)
    good_action = next(r for r in of_kind(runs, RunKind.action) if r.state == RunState.succeeded)

    with pytest.raises(RatchetError, match="produced 2 task run"):
        await api.runs.retry(event_run.id)
    with pytest.raises(RatchetError, match="produced 2 action run"):
        await api.runs.retry(producing.id)
    with pytest.raises(RatchetError, match="only failed action runs"):
        await api.runs.retry(good_action.id)

    # A task run that rendered only logs counts as having produced nothing: retryable.
    accepted = await api.runs.retry(logs_only.id, reason="iterating")
    assert accepted.kind == RunKind.task
    accepted = await api.runs.retry(failed_action.id)
    assert accepted.kind == RunKind.action

    async def retried() -> bool:
        a = await api.runs.get(failed_action.id)
        t = await api.runs.get(logs_only.id)
        return (
            a.attempts == 2 and a.state == RunState.failed and t.manual_retries == 1 and t.state == RunState.succeeded
        )

    await eventually(retried)
    detail = await api.runs.get(logs_only.id)
    assert detail.notes[-1]["note"] == "manual retry: iterating"
    assert detail.attempts == 2


async def test_event_run_without_task_runs_is_retryable_with_current_subscriptions(api: Ratchet) -> None:
    event_id = await api.events.send("user/late/task", None)
    runs = await wait_for_runs(api, event_id, all_terminal)
    event_run = of_kind(runs, RunKind.event)[0]
    assert event_run.state == RunState.succeeded

    # Retry context: a retried event run sees the tasks as they are now.
    await add_task(api, "Arrived later", '{% action "echo", x: 1 %}', ["user/late/task"])
    await api.runs.retry(event_run.id)
    runs = await wait_for_runs(api, event_id, settled(1))
    assert [r.task_name for r in of_kind(runs, RunKind.task)] == ["Arrived later"]


async def test_retried_task_run_uses_latest_script_and_action_keeps_original_options(api: Ratchet) -> None:
    original = {
        "name": "Evolving",
        "script": '{% if event.data.fail %}{% error "first version fails" %}{% endif %}{% action "echo", version: 1, __error: "v1 action fails" %}',
    }
    await add_task(api, original["name"], original["script"], ["user/ctx/go"])
    failing_task_event = await api.events.send("user/ctx/go", {"fail": True})
    failing_action_event = await api.events.send("user/ctx/go", {"fail": False})
    runs_a = await wait_for_runs(api, failing_task_event, lambda rs: all_terminal(rs) and len(rs) == 2)
    runs_b = await wait_for_runs(api, failing_action_event, settled(1))
    failed_task = of_kind(runs_a, RunKind.task)[0]
    failed_action = of_kind(runs_b, RunKind.action)[0]
    assert failed_task.state == RunState.failed and failed_action.state == RunState.failed

    await add_task(api, original["name"], '{% action "echo", version: 2 %}', ["user/ctx/go"])
    await api.runs.retry(failed_task.id)
    await api.runs.retry(failed_action.id)

    runs_a = await wait_for_runs(api, failing_task_event, settled(1))
    new_action = of_kind(runs_a, RunKind.action)[0]
    assert (await api.runs.get(new_action.id)).result == {"version": 2}
    runs_b = await wait_for_runs(
        api, failing_action_event, lambda rs: of_kind(rs, RunKind.action)[0].attempts == 2 and all_terminal(rs)
    )
    retried = await api.runs.get(of_kind(runs_b, RunKind.action)[0].id)
    assert retried.action_options == {"version": 1, "__error": "v1 action fails"}
    assert retried.state == RunState.failed and retried.error == "v1 action fails"


async def test_disabled_task_runs_fail_when_performed(api: Ratchet) -> None:
    task = await add_task(api, "Soon disabled", '{% action "echo", x: 1 %}', ["user/dis/go+40.seconds"])
    event_id = await api.events.send("user/dis/go", None)
    await wait_for_runs(
        api, event_id, lambda rs: any(r.kind == RunKind.task and r.state == RunState.scheduled for r in rs)
    )
    await api.tasks.disable(task.id)
    runs = await wait_for_runs(api, event_id, lambda rs: all_terminal(rs) and len(rs) == 2, timeout=30)
    task_run = of_kind(runs, RunKind.task)[0]
    assert task_run.state == RunState.failed and task_run.error == "task 'Soon disabled' is disabled"
    assert task_run.attempts == 1
    # Retrying while still disabled fails the same way.
    await api.runs.retry(task_run.id)
    await eventually(lambda: _attempts_at_least(api, task_run.id, 2))
    assert (await api.runs.get(task_run.id)).state == RunState.failed


async def test_disabled_task_action_runs_fail(api: Ratchet) -> None:
    task = await add_task(
        api,
        "Disable mid-way",
        '{% action "test_sleep", seconds: 1.5 %}{% action "echo", x: 1 %}',
        ["user/dis/act"],
        perform_action_runs_in_sequence=True,
    )
    event_id = await api.events.send("user/dis/act", None)
    await wait_for_runs(
        api, event_id, lambda rs: any(r.kind == RunKind.action and r.state == RunState.started for r in rs)
    )
    await api.tasks.disable(task.id)
    runs = await wait_for_runs(api, event_id, settled(2))
    second = next(r for r in of_kind(runs, RunKind.action) if r.action_type == "echo")
    assert second.state == RunState.failed and "disabled" in (second.error or "")


async def _attempts_at_least(api: Ratchet, run_id: str, n: int) -> bool:
    detail = await api.runs.get(run_id)
    return detail.attempts >= n and detail.state.terminal


async def test_settled_event_closes_its_workflow_and_a_retry_reopens_it(api: Ratchet) -> None:
    await add_task(api, "Closes", '{% action "echo", __error: "x" %}', ["user/close/go"])
    event_id = await api.events.send("user/close/go", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    action = of_kind(runs, RunKind.action)[0]
    handle = api.client.get_workflow_handle(event_workflow_id(api.settings.shop, event_id))

    async def closed() -> WorkflowExecutionDescription | None:
        described = await handle.describe()
        return described if described.status == WorkflowExecutionStatus.COMPLETED else None

    first = await eventually(closed)
    assert first.typed_search_attributes.get(RUN_STATE) == "Failed"

    await api.runs.retry(action.id)
    await eventually(lambda: _attempts_at_least(api, action.id, 2))
    reopened = await eventually(closed)
    assert reopened.run_id != first.run_id
    assert reopened.typed_search_attributes.get(RUN_STATE) == "Failed"
    assert reopened.typed_search_attributes.get(TASK_NAMES) == ["Closes"]
    # The reopened run judged eligibility against the ledger's runs: a succeeded event run that
    # produced a task run is still refused.
    with pytest.raises(RatchetError, match="produced 1 task run"):
        await api.runs.retry(of_kind(runs, RunKind.event)[0].id)


def _desk(api: Ratchet) -> WorkflowHandle[Any, Any]:
    return api.client.get_workflow_handle(RETRY_DESK_ID)


async def test_ineligible_retry_signal_is_ignored_and_recorded(api: Ratchet) -> None:
    await add_task(api, "Signals", '{% action "echo", x: 1 %}', ["user/sig/go"])
    event_id = await api.events.send("user/sig/go", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    action = of_kind(runs, RunKind.action)[0]
    await _desk(api).signal(RetryDeskWorkflow.retry, RetryRequest(run_id=action.id, reason="from the web ui"))

    async def noted() -> list:
        return (await api.runs.get(action.id)).notes

    notes = await eventually(noted)
    assert (
        notes[0]["note"]
        == f"ignored retry signal: action run {action.id} succeeded; only failed action runs can be retried"
    )
    await asyncio.sleep(0.5)
    assert (await api.runs.get(action.id)).attempts == 1


async def test_eligible_retry_signal_to_the_desk_runs_the_retry(api: Ratchet) -> None:
    await add_task(api, "Signal retry", '{% action "echo", __error: "x" %}', ["user/sig/ok"])
    event_id = await api.events.send("user/sig/ok", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    action = of_kind(runs, RunKind.action)[0]
    await _desk(api).signal(RetryDeskWorkflow.retry, RetryRequest(run_id=action.id, reason="web ui"))
    await eventually(lambda: _attempts_at_least(api, action.id, 2))
    assert (await api.runs.get(action.id)).notes[-1]["note"] == "manual retry: web ui"


async def test_retry_signal_to_an_open_event_workflow_runs_the_retry(api: Ratchet) -> None:
    # The second subscription's offset (3 s at the tests' time scale) keeps the workflow open.
    await add_task(api, "Fails now", '{% action "echo", __error: "x" %}', ["user/sig/open"])
    await add_task(api, "Runs later", '{% action "echo", ok: true %}', ["user/sig/open+1.minute"])
    event_id = await api.events.send("user/sig/open", None)

    def failed_once(runs: list) -> bool:
        return any(r.kind == RunKind.action and r.state == RunState.failed for r in runs)

    runs = await wait_for_runs(api, event_id, failed_once)
    action = next(r for r in of_kind(runs, RunKind.action) if r.state == RunState.failed)
    handle = api.client.get_workflow_handle(event_workflow_id(api.settings.shop, event_id))
    await handle.signal(EventWorkflow.retry_signal, RetryRequest(run_id=action.id))
    await eventually(lambda: _attempts_at_least(api, action.id, 2))
    runs = await wait_for_runs(api, event_id, settled(2))
    later = next(r for r in of_kind(runs, RunKind.task) if r.task_name == "Runs later")
    assert later.state == RunState.succeeded


async def test_failed_work_is_findable_by_search_attribute(api: Ratchet) -> None:
    await add_task(api, "Finds failures", '{% action "echo", __error: "x" %}', ["user/sa/fail"])
    event_id = await api.events.send("user/sa/fail", None)
    await wait_for_runs(api, event_id, settled(1))
    workflow_id = event_workflow_id(api.settings.shop, event_id)
    query = f"RunState='Failed' AND ShopId='{api.settings.shop}'"

    async def listed() -> list[str]:
        return [w.id async for w in api.client.list_workflows(query)]

    assert await eventually(listed) == [workflow_id]
    assert [w.id async for w in api.client.list_workflows("TaskNames='Finds failures'")] == [workflow_id]
