"""Scripted PDFs: one kept browser (the worker's `ScriptBrowser`) against a browser launched per PDF.

Each side renders the same `--pdfs` documents one after another through the whole generator path
(`generate_files`: the scripts in Chromium, then WeasyPrint's layout); the baseline closes its
browser after every document, as Ratchet did before it kept one. Same process, same Chromium,
halves interleaved (kept, per-PDF, per-PDF, kept). Needs Debian's Chromium and the `pdf-scripts`
extra.

    uv run python benchmarks/scripted_pdfs.py [--pdfs 10] [--browser /usr/bin/chromium]

The last line is `ratio per-pdf/kept (seconds per PDF): 9.5`: how many times longer a PDF took
when each launched its own browser.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from ratchet.files import generate_files, parse_files, pdf_scripts
from ratchet.files.pdf_scripts import close_script_browsers

# A report's shape: a chart drawn on a canvas by script and a figure the script writes.
REPORT = (
    '<h1>Sales</h1><canvas id="chart" width="480" height="200"></canvas><p id="total">…</p>'
    "<script>const pen = document.getElementById('chart').getContext('2d');"
    "for (let i = 0; i < 12; i++) { pen.fillStyle = '#36c'; pen.fillRect(i * 40, 200 - i * 15, 30, i * 15); }"
    "document.getElementById('total').textContent = 'Total: 1,234';</script>"
)


async def render(count: int, browser: Path, *, kept: bool) -> float:
    """Seconds to render `count` scripted PDFs one after another."""
    specs = parse_files("files", {"report.pdf": {"pdf": {"html": REPORT, "javascript_delay": 0}}})
    started = time.perf_counter()
    for _ in range(count):
        files = await generate_files(specs, browser)
        assert b"%PDF" in files["report.pdf"].content[:8]
        if not kept:
            await close_script_browsers()
    return time.perf_counter() - started


async def main(count: int, browser: Path) -> None:
    await render(1, browser, kept=False)  # imports (WeasyPrint, Playwright) and the disk cache warm
    kept = per_pdf = 0.0
    for side in ("kept", "per-pdf", "per-pdf", "kept"):
        seconds = await render(count // 2, browser, kept=side == "kept")
        if side == "kept":
            kept += seconds
        else:
            per_pdf += seconds
        await close_script_browsers()
    launches = pdf_scripts.script_browser(browser).launches
    print(f"{count} scripted PDFs each way; {launches} browser launches in all")
    print(f"kept browser: {kept / count:.3f} s per PDF; a browser per PDF: {per_pdf / count:.3f} s per PDF")
    print(f"ratio per-pdf/kept (seconds per PDF): {per_pdf / kept:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=int, default=10, help="documents per side (even)")
    parser.add_argument("--browser", type=Path, default=Path("/usr/bin/chromium"))
    args = parser.parse_args()
    asyncio.run(main(args.pdfs, args.browser))
