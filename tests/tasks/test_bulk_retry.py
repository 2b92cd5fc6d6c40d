"""Bulk retry by query: a plan with counts and a sample, a durable workflow retrying at a bounded rate through the validated update, per-run refusals, progress in the ledger, the same from the CLI."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
from sqlmodel import delete, select
from temporalio.api.enums.v1 import EventType

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.contract import BULK_RETRY_PROGRESS_QUERY, BulkRetryProgress
from ratchet.errors import Conflict, InvalidInput
from ratchet.services import bulk_retries
from ratchet.store.tables import BulkRetryItem, Event, Run, RunAttempt
from starter.api import Ratchet, RetrySelection, TaskDraft
from tests.support.cli import one_line_error, ratchet
from tests.support.engine import TIME_SCALE
from tests.support.tasks import add_task
from tests.support.waiting import eventually, of_kind, settled, wait_for_runs


async def failing_task_runs(api: Ratchet, name: str, topic: str, events: int) -> tuple[str, list[str]]:
    """A task whose runs fail (an error object), and the ids of `events` events that made them fail."""
    task = await add_task(api, name, '{% error "out of stock" %}', [topic])
    event_ids = [await api.events.send(topic, {"n": n}) for n in range(events)]
    for event_id in event_ids:
        await wait_for_runs(api, event_id, settled(0))
    return task.id, event_ids


async def finished(api: Ratchet, bulk_id: str) -> bulk_retries.BulkRetryView:
    async def check() -> bulk_retries.BulkRetryView | None:
        view = await api.runs.bulk_retry(bulk_id)
        return view if view.state != "running" else None

    return await eventually(check, timeout=60)


async def test_plan_counts_failed_runs_of_the_query_with_a_sample_and_what_retries_use(api: Ratchet) -> None:
    task_id, _ = await failing_task_runs(api, "Stock", "user/stock/check", 3)
    await failing_task_runs(api, "Other", "user/other/check", 1)

    plan = await api.runs.plan_retry(RetrySelection(task_id=task_id))
    assert plan.count == 3 and plan.by_kind == {RunKind.task: 3}
    assert [s.task_name for s in plan.sample] == ["Stock"] * 3 and plan.sample[0].error == "out of stock"
    assert plan.uses == {RunKind.task: "renders the task's current code and options"}
    # The default window is the last 7 days.
    assert abs((utcnow() - plan.since) - timedelta(days=7)) < timedelta(minutes=1)
    assert (await api.runs.plan_retry(RetrySelection())).count == 4
    assert (await api.runs.plan_retry(RetrySelection(topic="user/other/"))).count == 1
    assert (await api.runs.plan_retry(RetrySelection(topic="user/other"))).count == 0
    assert (await api.runs.plan_retry(RetrySelection(topic="user/"))).count == 4
    assert (await api.runs.plan_retry(RetrySelection(kinds=(RunKind.action,)))).count == 0
    assert (await api.runs.plan_retry(RetrySelection(since=utcnow() + timedelta(minutes=1)))).count == 0


async def test_bulk_retry_retries_at_a_bounded_rate_and_records_refusals(api: Ratchet) -> None:
    task_id, event_ids = await failing_task_runs(api, "Stock", "user/stock/check", 3)
    # The incident is fixed; the retries render the task's current code.
    await api.tasks.save(task_id, TaskDraft(script='{% action "echo", restocked: event.data.n %}'))
    # One event's runs are gone (as retention deletes them) before the bulk retry reaches them.
    gone = event_ids[1]

    view = await api.runs.retry_failed(RetrySelection(task_id=task_id), "restock incident", rate_per_second=0.1)
    assert (view.total, view.state, view.source, view.name) == (3, "running", "api", "restock incident")
    with api.store.session() as session:
        gone_runs = [r.id for r in session.exec(select(Run).where(Run.event_id == gone))]
        session.exec(delete(RunAttempt).where(RunAttempt.run_id.in_(gone_runs)))  # type: ignore[attr-defined]
        session.exec(delete(Run).where(Run.event_id == gone))  # type: ignore[arg-type]
        session.exec(delete(Event).where(Event.id == gone))  # type: ignore[arg-type]

    done = await finished(api, view.id)
    assert (done.state, done.retried, done.refused, done.done) == ("completed", 2, 1, 3)
    [refusal] = done.refusals
    assert refusal["kind"] == "task" and "unknown run" in refusal["reason"]
    for event_id in (event_ids[0], event_ids[2]):
        runs = await wait_for_runs(api, event_id, settled(1))
        task_run = await api.runs.get(of_kind(runs, RunKind.task)[0].id)
        assert task_run.state == RunState.succeeded and task_run.manual_retries == 1
        assert any("bulk retry 'restock incident'" in note["note"] for note in task_run.notes)

    # Durable and visible in Temporal: one workflow, its batches of one run at most 0.1 a second
    # (10 s, scaled): each batch is scheduled no sooner than that after the one before.
    handle = api.client.get_workflow_handle(done.workflow_id)
    progress = await handle.query(BULK_RETRY_PROGRESS_QUERY, result_type=BulkRetryProgress)
    assert (progress.done, progress.retried, progress.refused) == (3, 2, 1)
    history = [e async for e in handle.fetch_history_events()]
    batches = [
        e.event_time.ToDatetime()
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "retry_bulk_batch"
    ]
    assert len(batches) == 3
    assert all(later - earlier >= timedelta(seconds=10 * TIME_SCALE) for earlier, later in itertools.pairwise(batches))
    assert [v.name for v in await api.runs.bulk_retries()] == ["restock incident"]


async def test_a_repeated_batch_skips_what_it_did_and_counts_a_retry_that_went_through(api: Ratchet) -> None:
    task_id, event_ids = await failing_task_runs(api, "Stock", "user/stock/check", 1)
    bulk = bulk_retries.create_bulk_retry(api.store, api.settings.shop, RetrySelection(task_id=task_id), "x", "api")
    args = (api.settings, api.store, api.client, bulk.id, 0, 1)
    assert await bulk_retries.retry_batch(*args) == (1, 0)
    assert await bulk_retries.retry_batch(*args) == (0, 0)
    await wait_for_runs(api, event_ids[0], settled(0))
    # A crash between a run's retry and its record: the batch runs again and finds the run retried.
    with api.store.session() as session:
        item = session.get(BulkRetryItem, (bulk.id, 0))
        assert item is not None and item.outcome == "retried"
        item.outcome = None
        session.add(item)
    assert await bulk_retries.retry_batch(*args) == (1, 0)


async def test_bad_bulk_retries_are_refused_before_anything_starts(api: Ratchet) -> None:
    with pytest.raises(Conflict, match="no failed runs match"):
        await api.runs.retry_failed(RetrySelection(), "nothing")
    await failing_task_runs(api, "Stock", "user/stock/check", 1)
    with pytest.raises(InvalidInput, match="name the bulk retry"):
        await api.runs.retry_failed(RetrySelection(), "  ")
    with pytest.raises(InvalidInput, match="the window ends before it starts"):
        await api.runs.plan_retry(RetrySelection(since=utcnow(), until=utcnow() - timedelta(days=1)))
    assert await api.runs.bulk_retries() == []


async def test_cli_bulk_retry(api: Ratchet) -> None:
    settings, shop = api.settings, api.settings.shop
    task_id, event_ids = await failing_task_runs(api, "Stock", "user/stock/check", 2)
    dry = await ratchet(settings, shop, "runs", "retry", "--failed", "--task", "Stock", "--since", "1d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 failed run(s) in events since" in dry.stdout and "2 task run(s)" in dry.stdout
    assert "renders the task's current code and options" in dry.stdout
    one_line_error(await ratchet(settings, shop, "runs", "retry", "--failed", "--task", "Stock"), "--name")
    one_line_error(await ratchet(settings, shop, "runs", "retry"), "give a run id, or --failed")
    one_line_error(
        await ratchet(settings, shop, "runs", "retry", "--failed", "--name", "n", "--since", "soon"), "invalid time"
    )

    await api.tasks.save(task_id, TaskDraft(script='{% action "echo", ok: true %}'))
    started = await ratchet(
        settings, shop, "runs", "retry", "--failed", "--task", "Stock", "--name", "cli incident", "--yes", "--wait"
    )
    assert started.returncode == 0, started.stderr
    assert "started bulk retry" in started.stdout and "completed: 2/2 done, 2 retried, 0 refused" in started.stdout
    listed = await ratchet(settings, shop, "runs", "bulk-retries", "--json")
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["source"], row["retried"]) == ("cli incident", "cli", 2)
    for event_id in event_ids:
        await wait_for_runs(api, event_id, settled(1))
