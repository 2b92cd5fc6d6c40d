"""The event detail: runs as Mechanic shows them, and retry buttons only where a retry is accepted.

The retry itself goes through the CLI's call and is refused in place when Mechanic's rules say no.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from temporalio.client import WorkflowExecutionStatus

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.services.cancellations import CancelRefused
from starter.api import Ratchet
from tests.support.cli import one_line_error, ratchet
from tests.support.console import ConsoleClient
from tests.support.ledger_seed import SeededTaskRun, seed_event
from tests.support.tasks import add_task, export
from tests.support.waiting import eventually, of_kind, settled, wait_for_runs

# Fails with a positioned Liquid error when the event asks it to; otherwise one echo action.
FLAKY = '{% if event.data.fail %}\n  {{ "x" | date: 1, 2, 3 }}\n{% endif %}\n{% action "echo", n: 1 %}'
FIXED = '{% action "echo", n: 2 %}'


def retry_forms(html: str) -> dict[str, str]:
    """Run id → label of each Retry button on the page."""
    return dict(
        re.findall(
            r'/runs/([0-9a-f-]{36})/retry"\s+hx-post="[^"]+" hx-target="[^"]+">\s*<input[^>]+>\s*<button[^>]*>([^<]+)<',
            html,
        )
    )


async def test_a_failed_task_run_shows_its_liquid_error_and_only_it_can_be_retried(
    console: ConsoleClient, api: Ratchet
) -> None:
    await add_task(api, "Flaky", FLAKY, ["user/detail/go"])
    event_id = await api.events.send("user/detail/go", {"fail": True})
    runs = await wait_for_runs(api, event_id, lambda rs: any(r.state == RunState.failed for r in rs))
    task_run = of_kind(runs, RunKind.task)[0]

    page = await console.get(f"/s/{console.shop}/events/{event_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "Liquid error at line 2, column" in html
    assert "✗ Failed" in html and "Task run: <a href" in html
    # The event run produced a task run, so only the failed task run offers a retry.
    assert retry_forms(html) == {task_run.id: "Retry task run"}
    assert "Runs the task's current code and options." in html


async def test_retry_uses_the_fixed_code_and_shows_the_new_attempt(console: ConsoleClient, api: Ratchet) -> None:
    await add_task(api, "Flaky", FLAKY, ["user/detail/go"])
    event_id = await api.events.send("user/detail/go", {"fail": True})
    runs = await wait_for_runs(api, event_id, lambda rs: any(r.state == RunState.failed for r in rs))
    task_run = of_kind(runs, RunKind.task)[0]
    await api.tasks.import_(export("Flaky", FIXED, ["user/detail/go"]))

    response = await console.post(f"/s/{console.shop}/events/{event_id}/runs/{task_run.id}/retry")
    assert response.status_code == 303
    assert response.headers["location"] == f"/s/{console.shop}/events/{event_id}#run-{task_run.id}"
    await wait_for_runs(api, event_id, settled(1))
    html = (await console.get(f"/s/{console.shop}/events/{event_id}")).text
    assert "(1 manual retry)" in html and "Action run 1: echo" in html
    assert "&#34;n&#34;: 2" in html or '"n": 2' in html  # the action the fixed code rendered
    assert 'hx-trigger="every 2s"' not in html  # settled: the page stops refreshing itself
    assert retry_forms(html) == {}


async def test_a_refused_retry_shows_its_reason_in_place(console: ConsoleClient, api: Ratchet) -> None:
    await add_task(api, "Echo", FIXED, ["user/detail/ok"])
    event_id = await api.events.send("user/detail/ok")
    runs = await wait_for_runs(api, event_id, settled(1))
    action = of_kind(runs, RunKind.action)[0]
    url = f"/s/{console.shop}/events/{event_id}/runs/{action.id}/retry"

    refused = await console.post(url)
    assert refused.status_code == 409
    assert f"Cannot retry: action run {action.id} succeeded; only failed action runs can be retried" in refused.text
    swapped = await console.post(url, headers={"hx-request": "true"})
    assert swapped.status_code == 200
    assert swapped.text.strip() == (
        f'<p class="refusal" role="alert">Cannot retry: action run {action.id} succeeded; only failed action runs can be retried</p>'
    )
    assert (await api.runs.get(action.id)).attempts == 1  # nothing was retried


async def test_a_failed_action_run_offers_a_retry_with_its_original_options(
    console: ConsoleClient, api: Ratchet
) -> None:
    event_id = seed_event(
        api.store,
        console.shop,
        task_runs=(SeededTaskRun("Mailer", actions=1, action_state=RunState.failed),),
    )
    html = (await console.get(f"/s/{console.shop}/events/{event_id}")).text
    labels = list(retry_forms(html).values())
    assert labels == ["Retry action run"] and "Runs again with its original options." in html


async def test_a_run_of_another_event_cannot_be_retried_through_this_one(console: ConsoleClient, api: Ratchet) -> None:
    one = seed_event(api.store, console.shop, task_runs=(SeededTaskRun("A", state=RunState.failed),))
    other = seed_event(api.store, console.shop, task_runs=(SeededTaskRun("B", state=RunState.failed),))
    other_run = next(iter(retry_forms((await console.get(f"/s/{console.shop}/events/{other}")).text)))
    response = await console.post(f"/s/{console.shop}/events/{one}/runs/{other_run}/retry")
    assert response.status_code == 404


async def test_links_download_and_related_events(console: ConsoleClient, api: Ratchet) -> None:
    parent = seed_event(api.store, console.shop, "user/parent", data={"order": 1001})
    child = seed_event(
        api.store, console.shop, "user/child", parent_id=parent, task_runs=(SeededTaskRun("Kid", actions=1),)
    )
    html = (await console.get(f"/s/{console.shop}/events/{parent}")).text
    workflow = quote(f"event/{console.shop}/{parent}", safe="")
    assert f'href="http://127.0.0.1:8233/namespaces/default/workflows/{workflow}"' in html
    assert f'href="/s/{console.shop}/events/{child}"><code>user/child</code>' in html
    assert 'Kid <span class="muted">· 1 action</span>' in html
    child_html = (await console.get(f"/s/{console.shop}/events/{child}")).text
    assert f'href="/s/{console.shop}/events/{parent}"><code>user/parent</code>' in child_html

    download = await console.get(f"/s/{console.shop}/events/{child}/export.json")
    assert download.headers["content-disposition"] == f'attachment; filename="event-{child}.json"'
    exported = download.json()
    assert exported["event"]["id"] == child and exported["parent_id"] == parent
    assert [run["kind"] for run in exported["runs"]] == ["event", "task", "action"]


async def test_send_a_copy_prefills_the_form_and_sends_through_the_api(console: ConsoleClient, api: Ratchet) -> None:
    original = seed_event(api.store, console.shop, "user/copy/me", data={"email": "ada@example.com"})
    form = (await console.get(f"/s/{console.shop}/events/new?copy={original}")).text
    assert 'value="user/copy/me"' in form and "&#34;email&#34;: &#34;ada@example.com&#34;" in form

    bad = await console.post(f"/s/{console.shop}/events", {"topic": "user/copy/me", "data": "{nope"})
    assert bad.status_code == 400 and "Event data is not JSON" in bad.text
    bad_topic = await console.post(f"/s/{console.shop}/events", {"topic": "no slashes", "data": "{}"})
    assert bad_topic.status_code == 400 and 'role="alert"' in bad_topic.text

    sent = await console.post(f"/s/{console.shop}/events", {"topic": "user/copy/me", "data": json.dumps({"n": 2})})
    assert sent.status_code == 303
    new_id = sent.headers["location"].rsplit("/", 1)[1]

    async def recorded() -> bool:
        page = await console.get(f"/s/{console.shop}/events/{new_id}")
        return page.status_code == 200 and "&#34;n&#34;: 2" in page.text

    await eventually(recorded)


async def test_an_unknown_event_is_a_404(console: ConsoleClient) -> None:
    assert (await console.get(f"/s/{console.shop}/events/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_a_scheduled_event_can_be_cancelled_once(console: ConsoleClient, api: Ratchet) -> None:
    await add_task(api, "Later", FIXED, ["user/detail/later"])
    event_id = await api.events.send("user/detail/later", run_at=utcnow() + timedelta(hours=1))
    url = f"/s/{console.shop}/events/{event_id}"

    async def scheduled() -> str | None:
        html = (await console.get(url)).text
        return html if "Cancel event" in html else None

    html = await eventually(scheduled)
    assert "◷ Scheduled" in html and 'hx-trigger="every 2s"' in html
    cancelled = await console.post(f"{url}/cancel")
    assert cancelled.status_code == 303 and cancelled.headers["location"] == url
    event_run = (await api.runs.list(event_id=event_id))[0]
    assert (event_run.state, event_run.error) == (RunState.failed, "cancelled by user")
    workflow = await api.client.get_workflow_handle(f"event/{console.shop}/{event_id}").describe()
    assert workflow.status == WorkflowExecutionStatus.CANCELED
    html = (await console.get(url)).text
    assert "Cancel event" not in html and "cancelled by user" in html
    assert list(retry_forms(html).values()) == ["Retry event run"]  # a cancelled run is a failed run

    again = await console.post(f"{url}/cancel")
    assert again.status_code == 409
    assert "Cannot cancel: every run of this event has finished" in again.text


async def test_a_finished_event_cannot_be_cancelled_from_the_cli_either(api: Ratchet) -> None:
    await add_task(api, "Echo", FIXED, ["user/detail/ok"])
    event_id = await api.events.send("user/detail/ok")
    await wait_for_runs(api, event_id, settled(1))
    with pytest.raises(CancelRefused, match="every run of this event has finished"):
        await api.events.cancel(event_id)


async def test_the_cli_cancels_the_same_way(api: Ratchet) -> None:
    await add_task(api, "Later", FIXED, ["user/detail/later+1.hour"])
    event_id = await api.events.send("user/detail/later")

    async def task_run_scheduled() -> bool:
        runs = await api.runs.list(event_id=event_id)
        return any(r.kind == RunKind.task and r.state == RunState.scheduled for r in runs)

    await eventually(task_run_scheduled)
    cancelled = await ratchet(api.settings, api.settings.shop, "event", "cancel", event_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"cancelled 1 waiting run(s) of event {event_id}"
    task_run = of_kind(await api.runs.list(event_id=event_id), RunKind.task)[0]
    assert (task_run.state, task_run.error) == (RunState.failed, "cancelled by user")
    again = await ratchet(api.settings, api.settings.shop, "event", "cancel", event_id)
    one_line_error(again, "cannot cancel: every run of this event has finished")
