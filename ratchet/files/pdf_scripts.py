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
(`uv sync --extra pdf-scripts`), imported only when a scripted PDF is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ratchet.files.errors import GeneratorError

if TYPE_CHECKING:
    from playwright.sync_api import Route

# Pdfcrowd's defaults for the two options the browser step honours.
DEFAULT_DELAY_MS = 200
DEFAULT_VIEWPORT_WIDTH = 1024
# Ratchet's ceilings: a script that never settles fails the file instead of holding the worker.
MAX_DELAY_MS = 10_000
LOAD_TIMEOUT_MS = 20_000

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


def run_scripts(html: str, options: ScriptOptions, browser: Path) -> str:
    """The document as its scripts leave it, canvases as images and without scripts (blocking)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        raise GeneratorError(
            "RATCHET_PDF_BROWSER is set but Playwright is not installed (uv sync --extra pdf-scripts)"
        ) from error
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(browser))
            try:
                page = chromium.new_page(viewport={"width": options.viewport_width, "height": 800})
                page.route("**/*", _web_only)
                page.set_content(html, wait_until="load", timeout=LOAD_TIMEOUT_MS)
                for selector in options.wait_for:
                    page.wait_for_selector(selector, state="attached", timeout=LOAD_TIMEOUT_MS)
                page.wait_for_timeout(options.delay_ms)
                snapshot: str = page.evaluate(_SNAPSHOT)
                return snapshot
            finally:
                chromium.close()
    except Error as error:
        first_line = (error.message or type(error).__name__).splitlines()[0]
        raise GeneratorError(f"running the PDF's scripts in {browser} failed: {first_line}") from error


def _web_only(route: Route) -> None:
    if route.request.url.startswith(("http://", "https://", "data:")):
        route.continue_()
    else:
        route.abort()
