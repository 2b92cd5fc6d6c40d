"""Bulk retry from an Events view: the confirmation page (count, sample, what retries use, 7-day window, required name), the durable retry it starts, and its progress page with refusals."""

from __future__ import annotations

import re

from starter.api import Ratchet, TaskDraft
from tests.support.console import ConsoleClient
from tests.support.tasks import add_task
from tests.support.waiting import eventually, settled, wait_for_runs


async def failing(api: Ratchet, events: list[dict]) -> tuple[str, list[str]]:
    task = await add_task(api, "Stock", '{% error "out of stock" %}', ["user/stock/check"])
    event_ids = [await api.events.send("user/stock/check", data) for data in events]
    for event_id in event_ids:
        await wait_for_runs(api, event_id, settled(0))
    return task.id, event_ids


async def test_confirm_start_and_follow_a_bulk_retry(console: ConsoleClient, api: Ratchet) -> None:
    task_id, event_ids = await failing(api, [{"sku": "A-1"}, {"sku": "B-2"}, {"sku": "A-3"}])
    base = f"/s/{console.shop}/bulk-retries"
    page = (await console.get(f"{base}/new?tab=errors&task={task_id}")).text
    assert (
        "Retry 3 failed runs" in page and "3 task runs</strong>: each retry renders the task&#39;s current code" in page
    )
    assert page.count("out of stock") >= 3
    # The default window, 7 days, is in the form as dates the user can change.
    assert re.search(r'name="from" value="\d{4}-\d{2}-\d{2}"', page)
    # The same search as the Events view narrows it.
    assert "Retry 2 failed runs" in (await console.get(f"{base}/new?task={task_id}&q=A-")).text

    unnamed = await console.post(base, {"task": task_id, "kind": "task", "name": ""})
    assert unnamed.status_code == 400 and "name the bulk retry" in unnamed.text

    await api.tasks.save(task_id, TaskDraft(script='{% action "echo", ok: true %}'))
    started = await console.post(base, {"task": task_id, "kind": "task", "name": "stock outage"})
    assert started.status_code == 303
    progress_url = started.headers["location"]
    page = (await console.get(progress_url)).text
    assert "Bulk retry “stock outage”" in page and "Open in Temporal Web UI" in page and "by console" in page

    async def completed() -> str | None:
        partial = (await console.get(progress_url, headers={"HX-Request": "true"})).text
        return partial if "Completed" in partial else None

    partial = await eventually(completed, timeout=60)
    assert "3 of 3 done, 3 retried, 0 refused" in partial and "hx-trigger" not in partial
    for event_id in event_ids:
        await wait_for_runs(api, event_id, settled(1))
    assert "stock outage" in (await console.get(base)).text


async def test_bulk_retry_needs_the_csrf_token(console: ConsoleClient, api: Ratchet) -> None:
    task_id, _ = await failing(api, [{"sku": "A-1"}])
    refused = await console.post(f"/s/{console.shop}/bulk-retries", {"task": task_id, "name": "x"}, csrf=False)
    assert refused.status_code == 403
    assert await api.runs.bulk_retries() == []


async def test_the_events_view_offers_to_retry_its_failed_runs(console: ConsoleClient, api: Ratchet) -> None:
    task_id, _ = await failing(api, [{"sku": "A-1"}, {"sku": "B-2"}])
    page = (await console.get(f"/s/{console.shop}/events?tab=errors&task={task_id}&q=A-")).text
    link = f'href="/s/{console.shop}/bulk-retries/new?tab=errors&amp;task={task_id}&amp;q=A-"'
    assert link in page and "Retry 1 failed run…" in page
    assert "Retry 2 failed runs…" in (await console.get(f"/s/{console.shop}/events")).text
