"""The console in a real browser (Debian's Chromium): what a user sees and clicks, at 1280×800 and 390 px.

Each test saves screenshots of the screens it visits in tests/console/screenshots/ and runs axe-core
on them (serious or critical findings fail).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import update

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.devserver import free_port
from ratchet.store.database import table_of
from ratchet.store.tables import Run
from starter.api import Ratchet
from tests.support.console import CONSOLE_TOKEN, RunningConsole, assert_accessible, screenshot
from tests.support.ledger_seed import SeededTaskRun, seed_event
from tests.support.tasks import add_task, export
from tests.support.waiting import of_kind, settled, wait_for_runs

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dead-mans-switch.json"
FLAKY = '{% if event.data.fail %}\n  {{ "x" | date: 1, 2, 3 }}\n{% endif %}\n{% action "echo", n: 1 %}'
FIXED = '{% action "echo", fixed: true %}'


async def test_login_page(browser: Any, console_server: RunningConsole) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(f"{console_server.url}/")
    await expect(page.get_by_role("heading", name="Log in to the Ratchet console")).to_be_visible()
    await page.get_by_label("Console token").fill("wrong")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong token.")
    await assert_accessible(page)
    await screenshot(page, "login")
    await page.close()


async def test_a_run_appears_without_reloading_and_opens(page: Any, api: Ratchet) -> None:
    imported = await api.tasks.import_(json.loads(EXAMPLE.read_text()))
    await expect(page.get_by_text("No events")).to_be_visible()
    await assert_accessible(page)
    event_id = await api.tasks.run(imported.task.id)  # the task's Run button (mechanic/user/trigger)
    await wait_for_runs(api, event_id, settled(1))
    row = page.get_by_role("row").filter(has_text="mechanic/user/trigger")
    await expect(row).to_be_visible(timeout=15_000)  # polled in, no reload
    await expect(row).to_contain_text("✓ Succeeded Dead man's switch · 1 action")
    await screenshot(page, "events-list")

    await row.get_by_role("link", name="mechanic/user/trigger").click()
    await expect(page.get_by_role("heading", name="Event mechanic/user/trigger")).to_be_visible()
    action = page.get_by_role("article", name="Action run 1: cache")
    await expect(action).to_contain_text("Cache setex key monitor-10min")
    await expect(page.get_by_role("link", name="Open in Temporal Web UI (opens in a new tab)")).to_be_visible()
    await assert_accessible(page)
    await screenshot(page, "event-detail")


async def test_find_a_failed_run_fix_the_task_and_retry_it(
    page: Any, api: Ratchet, console_server: RunningConsole
) -> None:
    await add_task(api, "Flaky", FLAKY, ["user/orders/review"])
    event_id = await api.events.send("user/orders/review", {"fail": True, "order": 1001})
    await wait_for_runs(api, event_id, lambda runs: any(r.state == RunState.failed for r in runs))

    await page.get_by_role("navigation", name="Event views").get_by_role("link", name="Errors").click()
    await expect(page.get_by_role("row").filter(has_text="user/orders/review")).to_contain_text("✗ Failed Flaky")
    await screenshot(page, "events-errors-tab")
    await page.get_by_role("link", name="user/orders/review").click()
    await expect(page.get_by_text("Liquid error at line 2, column")).to_be_visible()
    await assert_accessible(page)
    await screenshot(page, "event-detail-failed")

    await api.tasks.import_(export("Flaky", FIXED, ["user/orders/review"]))  # the fix, as the task editor saves it
    retry = page.get_by_role("button", name="Retry task run")
    await retry.focus()  # keyboard only: focus it and press Enter
    await page.keyboard.press("Enter")
    task_run = page.get_by_role("article", name="Task run: Flaky")
    await expect(task_run.locator(".state").first).to_have_text("✓ Succeeded", timeout=20_000)
    await expect(task_run).to_contain_text("(1 manual retry)")
    await expect(page.get_by_role("heading", name="Action run 1: echo")).to_be_visible()
    await screenshot(page, "event-detail-retried")


async def test_retry_works_without_javascript(browser: Any, console_server: RunningConsole, api: Ratchet) -> None:
    await add_task(api, "Flaky", FLAKY, ["user/orders/review"])
    event_id = await api.events.send("user/orders/review", {"fail": True})
    runs = await wait_for_runs(api, event_id, lambda rs: any(r.state == RunState.failed for r in rs))
    await api.tasks.import_(export("Flaky", FIXED, ["user/orders/review"]))
    context = await browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{console_server.url}/s/{api.settings.shop}/events/{event_id}")
    await page.get_by_label("Console token").fill(CONSOLE_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("button", name="Retry task run").click()
    assert page.url.endswith(f"/events/{event_id}#run-{of_kind(runs, RunKind.task)[0].id}")
    await wait_for_runs(api, event_id, settled(1))
    await page.reload()
    await expect(page.get_by_role("heading", name="Action run 1: echo")).to_be_visible()
    await context.close()


async def test_settings_page(page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    await api.webhooks.add("Contact form", "user/forms/contact", secret="s3cret", shop_id=api.settings.shop)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="Mechanic webhooks")).to_be_visible()
    await page.get_by_label("Draft filter, tried on the latest 20 events (nothing is saved)").fill("false")
    await page.get_by_role("button", name="Try it").click()
    await expect(page.get_by_role("heading", name="Test bench")).to_be_visible()
    await assert_accessible(page)
    await screenshot(page, "settings")


async def test_phone_width(phone_page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    await add_task(api, "Flaky", FLAKY, ["user/orders/review"])
    event_id = await api.events.send("user/orders/review", {"fail": True})
    await wait_for_runs(api, event_id, lambda rs: any(r.state == RunState.failed for r in rs))
    page = phone_page
    await page.reload()
    await expect(page.get_by_text("✗ Failed")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    await assert_accessible(page)
    await screenshot(page, "phone-events-list")
    await page.get_by_role("link", name="user/orders/review").click()
    await expect(page.get_by_text("Liquid error at line 2, column")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await assert_accessible(page)
    await screenshot(page, "phone-event-detail")
    await api.webhooks.add("Contact form", "user/forms/contact", shop_id=api.settings.shop)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="Mechanic webhooks")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await assert_accessible(page)
    await screenshot(page, "phone-settings")


@pytest.fixture
def attacker_site(console_server: RunningConsole) -> Iterator[str]:
    """A page on another local port that submits a form to the console as soon as it loads."""
    page = f"""<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="{console_server.url}/logout"><input name="csrf_token" value="guess"></form>
<script>document.getElementById("f").submit()</script>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


async def test_a_form_from_another_site_is_refused(page: Any, attacker_site: str, api: Ratchet) -> None:
    events_url = page.url
    async with page.expect_navigation(url="**/logout") as navigation:
        await page.goto(attacker_site)
    response = await navigation.value
    assert response is not None and response.status == 403
    await page.goto(events_url)
    await expect(page.get_by_role("heading", name="Events")).to_be_visible()  # still logged in


async def test_email_bodies_render_only_in_a_sandbox(page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    body = '<h1 id="inside">Order 1001 shipped</h1><script>parent.document.title = "pwned"</script>'
    email = {"to": "ada@example.com", "subject": "Your order shipped", "body": body}
    event_id = seed_event(
        api.store,
        api.settings.shop,
        "shopify/orders/fulfilled",
        data={"id": 1001},
        task_runs=(SeededTaskRun("Notify", actions=1, action_options=[email]),),
    )
    with api.store.session() as session:  # as the email action records its runs
        session.execute(
            update(table_of(Run))
            .where(table_of(Run).c.kind == RunKind.action, table_of(Run).c.event_id == event_id)
            .values(action_type="email")
        )
        session.commit()
    await page.goto(f"{console_server.url}/s/{api.settings.shop}/events/{event_id}")
    frame = page.frame_locator('iframe[title="Email body: Your order shipped"]')
    await expect(frame.locator("#inside")).to_have_text("Order 1001 shipped")
    assert await page.title() != "pwned"  # no script runs in the sandbox
    sandbox = await page.locator("iframe.email-body").get_attribute("sandbox")
    assert sandbox == ""  # every restriction: no scripts, no same origin, no forms
    await expect(page.get_by_text("ada@example.com")).to_be_visible()
    await assert_accessible(page)
    await page.locator("iframe.email-body").scroll_into_view_if_needed()
    await screenshot(page, "event-detail-email", full_page=False)


async def test_send_a_copy_and_the_error_page(page: Any, console_server: RunningConsole, api: Ratchet) -> None:
    original = seed_event(api.store, api.settings.shop, "user/orders/review", data={"order": 1001})
    await page.goto(f"{console_server.url}/s/{api.settings.shop}/events/{original}")
    await page.get_by_role("link", name="Send a copy").click()
    await expect(page.get_by_label("Topic")).to_have_value("user/orders/review")
    await page.get_by_label("Event data (JSON)").fill('{"order": 1002}')
    await assert_accessible(page)
    await screenshot(page, "event-send")
    await page.get_by_role("button", name="Send event").click()
    await expect(page.get_by_role("heading", name="Event user/orders/review")).to_be_visible()
    await expect(page.get_by_text('"order": 1002').first).to_be_visible()

    await page.goto(f"{console_server.url}/s/{api.settings.shop}/events/00000000-0000-0000-0000-000000000000")
    await expect(page.get_by_role("alert")).to_contain_text("unknown event")
    await assert_accessible(page)
    await screenshot(page, "error-page")
