"""The console under test: an in-process HTTP client (fast tests) and a real browser on a real listener.

Fast tests: `console` is a logged-in `ConsoleClient` on the app for this test's shop (the `api`
fixture: real Temporal dev server, worker and SQLite store); `anonymous_console` has no session.
Its `post` adds the session's CSRF token unless told not to.

Browser tests (`@pytest.mark.browser`): `console_server` serves the same app with uvicorn on a
free port, `browser` is Debian's Chromium driven by Playwright from PyPI (never `playwright
install`: this network cannot download browsers), `page` is a logged-in tab at 1280×800, and
`phone_page` one at 390×844; both fail the test if the page reported a CSP violation. `screenshot(page, name)` saves tests/console/screenshots/<name>.png
(gitignored); `assert_accessible(page)` runs axe-core and fails on serious or critical findings.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ratchet.config import ConsoleSettings
from ratchet.console.app import create_console_app
from ratchet.console.server import serve_console
from ratchet.engine.devserver import free_port
from starter.api import Ratchet
from tests.support.waiting import until_answering

CONSOLE_TOKEN = "console-test-token-5d1f0c"
CONSOLE_BASE = "http://127.0.0.1:8081"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "console" / "screenshots"
CHROMIUM = os.environ.get("RATCHET_TEST_CHROMIUM", "/usr/bin/chromium")
# Headless Chromium that reaches nothing beyond the console (no updates, no sync, no GPU).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def console_app(api: Ratchet, address: str = "127.0.0.1:8081", **settings: Any) -> FastAPI:
    config = ConsoleSettings(address=address, **settings)
    return create_console_app(api, config, token=CONSOLE_TOKEN, temporal_ui_url="http://127.0.0.1:8233")


@dataclass
class ConsoleClient:
    """An httpx client on the console app, with the session's CSRF token once logged in."""

    http: httpx.AsyncClient
    shop: str
    csrf_token: str = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf_token)
        return await self.http.post(path, data=form, **kwargs)

    async def log_in(self, token: str = CONSOLE_TOKEN) -> httpx.Response:
        response = await self.http.post("/login", data={"token": token, "next": f"/s/{self.shop}/events"})
        if response.status_code == 303:
            page = await self.http.get(f"/s/{self.shop}/events")
            found = CSRF_META.search(page.text)
            assert found, "a logged-in page carries the CSRF token"
            self.csrf_token = found.group(1)
        return response


@pytest.fixture
async def anonymous_console(api: Ratchet) -> AsyncIterator[ConsoleClient]:
    app = console_app(api)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=CONSOLE_BASE) as http:
        yield ConsoleClient(http, api.settings.shop)


@pytest.fixture
async def console(anonymous_console: ConsoleClient) -> ConsoleClient:
    response = await anonymous_console.log_in()
    assert response.status_code == 303, response.text
    return anonymous_console


# -- a real listener and a real browser ---------------------------------------------------------------


@dataclass(frozen=True)
class RunningConsole:
    url: str
    app: FastAPI


@pytest.fixture
async def console_server(api: Ratchet) -> AsyncIterator[RunningConsole]:
    address = f"127.0.0.1:{free_port()}"
    app = console_app(api, address)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_console(app, ConsoleSettings(address=address), stop))
    url = f"http://{address}"
    await until_answering(f"{url}/login")
    try:
        yield RunningConsole(url, app)
    finally:
        stop.set()
        await serving


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


def csp_violations(page: Any) -> list[str]:
    """Console messages of the page so far that report a Content-Security-Policy violation."""
    return [text for text in page.console_messages if "Content Security Policy" in text]


async def logged_in_page(browser: Any, server: RunningConsole, shop: str, width: int, height: int) -> Any:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(message.text))
    await page.goto(f"{server.url}/s/{shop}/events")
    await page.get_by_label("Console token").fill(CONSOLE_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{server.url}/s/{shop}/events")
    return page


@pytest.fixture
async def page(browser: Any, console_server: RunningConsole, api: Ratchet) -> AsyncIterator[Any]:
    """A logged-in tab at 1280×800 on this test's shop's Events page."""
    tab = await logged_in_page(browser, console_server, api.settings.shop, 1280, 800)
    yield tab
    violations = csp_violations(tab)
    await tab.context.close()
    assert not violations, violations  # a script, style or frame the policy blocked: a broken page


@pytest.fixture
async def phone_page(browser: Any, console_server: RunningConsole, api: Ratchet) -> AsyncIterator[Any]:
    """A logged-in tab 390 px wide (a phone), on this test's shop's Events page."""
    tab = await logged_in_page(browser, console_server, api.settings.shop, 390, 844)
    yield tab
    violations = csp_violations(tab)
    await tab.context.close()
    assert not violations, violations


async def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save the page as tests/console/screenshots/<name>.png; look at it.

    `full_page=False` takes the viewport only: Chromium paints sandboxed (cross-origin) iframes
    in viewport screenshots but leaves them blank in full-page ones.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def assert_accessible(page: Any) -> None:
    """axe-core (bundled by axe-playwright-python, no network) on the page: no serious or critical finding."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in serious
    )
