"""A PDF's scripts, run in a browser before WeasyPrint lays the document out.

Pdfcrowd, Mechanic's PDF renderer, is a browser engine: a template's scripts run, so charts
drawn by Chart.js and tables filled in by script appear in the PDF. WeasyPrint has no
JavaScript. With `RATCHET_PDF_BROWSER` naming a Chromium binary (Debian's `/usr/bin/chromium`),
a PDF whose HTML has `<script>` elements is first loaded there: its scripts run, Ratchet waits
for Pdfcrowd's `wait_for_element` selectors and `javascript_delay` milliseconds (default 200),
then each `<canvas>` becomes an `<img>` of its pixels, the scripts are dropped, and that HTML
goes to WeasyPrint with the document's page options as before
(https://pdfcrowd.com/api/html-to-pdf-http/, options javascript_delay, wait_for_element,
disable_javascript, viewport_width).

As for WeasyPrint, the page may only load http(s) and data: URLs, so a template cannot read
the worker's files. Playwright (PyPI) drives the browser; it is an optional dependency
(`uv sync --extra pdf-scripts`). The worker keeps one browser for all its scripted PDFs
(`ScriptBrowser`), each in a context of its own, and closes it after five idle minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ratchet.files.errors import GeneratorError

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Route

# Pdfcrowd's defaults for the two options the browser step honours.
DEFAULT_DELAY_MS = 200
DEFAULT_VIEWPORT_WIDTH = 1024
# Ratchet's ceilings: a script that never settles fails the file instead of holding the worker.
MAX_DELAY_MS = 10_000
LOAD_TIMEOUT_MS = 20_000
# How long an unused browser stays up for the next scripted PDF.
IDLE_CLOSE_SECONDS = 300.0

# Canvases become images of what was drawn (a canvas tainted by another origin cannot be read
# and stays a canvas, which WeasyPrint leaves blank); then the document without its scripts.
_SNAPSHOT = """() => {
  for (const canvas of Array.from(document.querySelectorAll("canvas"))) {
    let source;
    try { source = canvas.toDataURL("image/png"); } catch (error) { continue; }
    const box = canvas.getBoundingClientRect();
    const image = document.createElement("img");
    image.src = source;
    image.style.cssText = canvas.style.cssText;
    image.style.width = box.width + "px";
    image.style.height = box.height + "px";
    if (canvas.id) image.id = canvas.id;
    if (canvas.className) image.className = canvas.className;
    canvas.replaceWith(image);
  }
  for (const script of Array.from(document.querySelectorAll("script"))) script.remove();
  return "<!DOCTYPE html>" + document.documentElement.outerHTML;
}"""


@dataclass(frozen=True)
class ScriptOptions:
    """How a scripted PDF's page runs in the browser (Pdfcrowd's option names)."""

    delay_ms: int = DEFAULT_DELAY_MS
    """javascript_delay: milliseconds to wait after the page loaded."""
    wait_for: tuple[str, ...] = ()
    """wait_for_element: CSS selectors that must match before the snapshot."""
    viewport_width: int = DEFAULT_VIEWPORT_WIDTH
    """viewport_width: the browser window's width in pixels, which responsive charts size to."""


def parse_options(options: dict[str, Any]) -> ScriptOptions:
    """The browser step's options from a pdf generator's options (GeneratorError names a bad one)."""
    delay = options.get("javascript_delay", DEFAULT_DELAY_MS)
    width = options.get("viewport_width", DEFAULT_VIEWPORT_WIDTH)
    for name, value, ceiling in (("javascript_delay", delay, MAX_DELAY_MS), ("viewport_width", width, 10_000)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ceiling:
            raise GeneratorError(f"pdf option {name!r} must be a whole number from 0 to {ceiling}, got {value!r}")
    selectors = options.get("wait_for_element", "")
    if not isinstance(selectors, str):
        raise GeneratorError(f"pdf option 'wait_for_element' must be CSS selectors, got {selectors!r}")
    return ScriptOptions(
        delay_ms=delay, wait_for=tuple(s.strip() for s in selectors.split(",") if s.strip()), viewport_width=width
    )


class ScriptBrowser:
    """One Chromium a process keeps for scripted PDFs: launched at the first, closed when idle.

    A scripted report took 0.79 s with a browser launched for it and 0.31 s in the kept one
    (benchmarks/scripted_pdfs.py); a worker sending one per order would otherwise spend most of
    that time starting browsers. Each PDF gets a fresh browser context (its own cookies, storage
    and cache), so documents never see each other. A browser that crashed is launched again at the next PDF.
    Bound to the event loop that first used it, like every Playwright object.
    """

    def __init__(self, executable: Path, idle_close_seconds: float = IDLE_CLOSE_SECONDS) -> None:
        self.executable = executable
        self.idle_close_seconds = idle_close_seconds
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launching = asyncio.Lock()
        self._in_use = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None
        self.launches = 0
        """How many times this process started the browser (once, unless it idled out or crashed)."""

    @property
    def running(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def run_scripts(self, html: str, options: ScriptOptions) -> str:
        """The document as its scripts leave it, canvases as images and without scripts."""
        from playwright.async_api import Error as PlaywrightError

        self._in_use += 1
        try:
            browser = await self._ready()
            context = await browser.new_context(viewport={"width": options.viewport_width, "height": 800})
            try:
                page = await context.new_page()
                await page.route("**/*", _web_only)
                await page.set_content(html, wait_until="load", timeout=LOAD_TIMEOUT_MS)
                for selector in options.wait_for:
                    await page.wait_for_selector(selector, state="attached", timeout=LOAD_TIMEOUT_MS)
                await page.wait_for_timeout(options.delay_ms)
                snapshot: str = await page.evaluate(_SNAPSHOT)
                return snapshot
            finally:
                await context.close()
        except PlaywrightError as error:
            first_line = (error.message or type(error).__name__).splitlines()[0]
            raise GeneratorError(f"running the PDF's scripts in {self.executable} failed: {first_line}") from error
        finally:
            self._in_use -= 1
            self._close_when_idle()

    async def close(self) -> None:
        """Close the browser and its Playwright driver (a later PDF launches them again)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        async with self._launching:
            await self._stop()

    async def _close_if_idle(self) -> None:
        async with self._launching:
            # A PDF that began after the timer fired keeps the browser (its launch waits on the lock).
            if self._in_use == 0:
                await self._stop()

    async def _stop(self) -> None:
        from playwright.async_api import Error as PlaywrightError

        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        with contextlib.suppress(PlaywrightError):
            if browser is not None:
                await browser.close()
        if playwright is not None:
            await playwright.stop()

    async def _ready(self) -> Browser:
        from playwright.async_api import async_playwright

        async with self._launching:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(executable_path=str(self.executable))
            self.launches += 1
            return self._browser

    def _close_when_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = asyncio.get_running_loop().call_later(self.idle_close_seconds, self._idle)

    def _idle(self) -> None:
        self._idle_timer = None
        if self._in_use == 0:
            # Kept referenced until done: the loop holds only weak references to its tasks.
            self._closing = asyncio.get_running_loop().create_task(self._close_if_idle())


# Per event loop: Playwright's objects work only on the loop that made them (a CLI command may
# run several loops one after another; a worker runs one).
_browsers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, ScriptBrowser]] = weakref.WeakKeyDictionary()


def script_browser(executable: Path) -> ScriptBrowser:
    """The running loop's browser for `executable` (RATCHET_PDF_BROWSER).

    Raises GeneratorError when Playwright, an optional dependency, is not installed.
    """
    try:
        import playwright.async_api  # noqa: F401  (imported at the first scripted PDF: seconds of start-up saved elsewhere)
    except ImportError as error:
        raise GeneratorError(
            "RATCHET_PDF_BROWSER is set but Playwright is not installed (uv sync --extra pdf-scripts)"
        ) from error
    browsers = _browsers.setdefault(asyncio.get_running_loop(), {})
    browser = browsers.get(executable)
    if browser is None:
        browser = browsers[executable] = ScriptBrowser(executable)
    return browser


async def close_script_browsers() -> None:
    """Close every browser the running loop launched for scripted PDFs (a worker shutting down)."""
    for browser in _browsers.get(asyncio.get_running_loop(), {}).values():
        await browser.close()


async def _web_only(route: Route) -> None:
    if route.request.url.startswith(("http://", "https://", "data:")):
        await route.continue_()
    else:
        await route.abort()
