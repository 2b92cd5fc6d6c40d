"""Task pages in a real browser: import the dead man's switch, run it, edit options and watch the preview follow, versions, a bulk retry started and followed to the end, and a run link; axe on each screen, screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from starter.api import Ratchet, TaskDraft
from tests.support.console import RunningConsole, assert_accessible, screenshot
from tests.support.tasks import add_task
from tests.support.waiting import settled, wait_for_runs

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).parents[2] / "examples" / "dead-mans-switch.json"
TAGGER = '{% log "tagging with " | append: options.tag__required %}\n{% action "echo", tag: options.tag__required %}'


async def test_import_the_dead_mans_switch_and_run_it(page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    shop = api.settings.shop
    await page.goto(f"{console_server.url}/s/{shop}/tasks")
    await page.get_by_label("or paste it").fill(EXAMPLE.read_text())
    await page.get_by_role("button", name="Import").click()
    await page.get_by_role("heading", name="Dead man's switch", level=1).wait_for()
    await page.get_by_text("Imported. It is enabled.").wait_for()
    # The preview shows what the run button would do: a cache write, performed nowhere.
    await page.locator("#preview").get_by_text("mechanic/user/trigger", exact=False).first.wait_for()
    await assert_accessible(page)
    await screenshot(page, "tasks-task")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    await page.get_by_role("cell", name="Enabled").first.wait_for()
    await assert_accessible(page)
    await screenshot(page, "tasks-list")
    await page.get_by_role("button", name="Run Dead man's switch").click()
    # The run button lands on the new event's page.
    await page.wait_for_url(f"{console_server.url}/s/{shop}/events/*")
    event_id = page.url.rsplit("/", 1)[1]
    await wait_for_runs(api, event_id, settled(1))
    await page.reload()
    await page.get_by_text("Succeeded").first.wait_for()


async def test_editing_an_option_updates_the_preview(page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    task = await add_task(api, "Tagger", TAGGER, ["user/tag/now"], options={"tag__required": "vip"})
    await page.goto(f"{console_server.url}/s/{api.settings.shop}/tasks/{task.id}")
    preview = page.locator("#preview")
    await preview.get_by_text("tagging with vip").wait_for()
    await page.get_by_label("Tag (required)").fill("wholesale")
    # Debounced re-render from the unsaved value; nothing is saved.
    await preview.get_by_text("tagging with wholesale").wait_for()
    assert (await api.tasks.get(task.id)).options == {"tag__required": "vip"}
    await screenshot(page, "tasks-preview-edited")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Saved as version 2.").wait_for()
    assert (await api.tasks.get(task.id)).options == {"tag__required": "wholesale"}

    await page.get_by_role("link", name="Advanced").click()
    script = page.get_by_label("Script (Liquid)")
    await script.fill(TAGGER + "\n{% if %}")
    await preview.get_by_text("Liquid syntax error", exact=False).first.wait_for()
    await assert_accessible(page)
    await screenshot(page, "tasks-advanced-error")

    await page.goto(f"{console_server.url}/s/{api.settings.shop}/tasks/{task.id}/versions")
    await page.get_by_role("heading", name="Version 2 (current)").wait_for()
    await assert_accessible(page)
    await screenshot(page, "tasks-versions")


async def test_a_bulk_retry_from_the_errors_view(page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    task = await add_task(api, "Stock", '{% error "out of stock" %}', ["user/stock/check"])
    event_ids = [await api.events.send("user/stock/check", {"n": n}) for n in range(3)]
    for event_id in event_ids:
        await wait_for_runs(api, event_id, settled(0))
    await api.tasks.save(task.id, TaskDraft(script='{% action "echo", ok: true %}'))

    await page.goto(f"{console_server.url}/s/{api.settings.shop}/bulk-retries/new?tab=errors&task={task.id}")
    await page.get_by_role("heading", name="Retry 3 failed runs").wait_for()
    await assert_accessible(page)
    await screenshot(page, "bulk-confirm")
    await page.get_by_label("Name (required", exact=False).fill("stock outage")
    await page.get_by_role("button", name="Retry 3 runs").click()
    await page.get_by_role("heading", name="Bulk retry “stock outage”").wait_for()
    # The page follows the workflow without a reload.
    await page.get_by_text("3 of 3 done, 3 retried, 0 refused").wait_for(timeout=60_000)
    await assert_accessible(page)
    await screenshot(page, "bulk-progress")
    for event_id in event_ids:
        await wait_for_runs(api, event_id, settled(1))


async def test_task_page_at_phone_width(phone_page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    task = await add_task(api, "Tagger", TAGGER, ["user/tag/now"], options={"tag__required": "vip"})
    await phone_page.goto(f"{console_server.url}/s/{api.settings.shop}/tasks/{task.id}")
    await phone_page.get_by_label("Tag (required)").fill("phone")
    await phone_page.locator("#preview").get_by_text("tagging with phone").wait_for()
    await assert_accessible(phone_page)
    await screenshot(phone_page, "tasks-task-phone")


async def test_a_run_link_leads_to_the_task_with_its_variants_filled_in(
    page: Any, console_server: RunningConsole, api: Ratchet
) -> None:
    task = await add_task(api, "Per variant", '{% action "echo", id: variant.id %}', ["mechanic/user/variant"])
    await page.goto(f"{console_server.url}/s/{api.settings.shop}/tasks/run?resource_type=variant&ids[]=41&ids[]=42")
    await page.get_by_role("heading", name="Send variant to a task").wait_for()
    await assert_accessible(page)
    await screenshot(page, "tasks-run-link")
    await page.get_by_role("link", name="Per variant").click()
    await page.get_by_role("heading", name="Run for Shopify resources").wait_for()
    assert await page.get_by_label("Ids or order names").input_value() == "41, 42"
    await assert_accessible(page)
    await screenshot(page, "tasks-run-resources")
    await page.locator("#run-resources ~ form").get_by_role("button", name="Run task").click()
    await page.wait_for_url(f"{console_server.url}/s/{api.settings.shop}/events?task={task.id}")
