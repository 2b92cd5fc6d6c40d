"""Peak memory of a bulk operation's result file on its way to a task render.

    uv run python benchmarks/bulk_results.py [--lines 100000]

Ratchet: stream the JSONL file from a local HTTP server to disk, index it, and render a task
that walks every object and resolves `__parent` twice for the matching ones, with
`bulkOperation.objects` read lazily. Baseline: the same file read and parsed whole into a
list (what holding `objects` in the event would need), rendered with the same template.

Each side runs in its own process so peak RSS (`ru_maxrss`) is not shared; tracemalloc's
peak counts Python allocations during the measured step only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ratchet.liquid import RenderRequest, render_task
from ratchet.shopify.bulk_results import BulkResults, InMemoryResults, build_index, download_results

TEMPLATE = """
{% for object in bulkOperation.objects %}
  {% if object.__typename == "LineItem" and object.sku == "SKU-7" %}
    {% assign customer = object.__parent.__parent %}
    {% action "echo", customer: customer.id, order: object.__parent.name %}
  {% endif %}
{% endfor %}
{% log objects: bulkOperation.objects.size %}
"""


def write_results(path: Path, lines: int) -> None:
    """Customers, each with two orders of two line items: 1 + 2 + 4 lines per customer."""
    written = 0
    with path.open("w") as out:
        number = 0
        while written < lines:
            number += 1
            customer_id = f"gid://shopify/Customer/{number}"
            rows: list[dict[str, Any]] = [
                {"__typename": "Customer", "id": customer_id, "email": f"c{number}@example.com", "tags": ["a", "b"]}
            ]
            for o in range(2):
                order_id = f"gid://shopify/Order/{number * 10 + o}"
                rows.append({"__typename": "Order", "id": order_id, "name": f"#{number}{o}", "__parentId": customer_id})
                for li in range(2):
                    rows.append(
                        {
                            "__typename": "LineItem",
                            "id": f"gid://shopify/LineItem/{number * 100 + o * 10 + li}",
                            "sku": f"SKU-{(number + o + li) % 50}",
                            "title": "A product title long enough to look like real data",
                            "__parentId": order_id,
                        }
                    )
            for row in rows[: lines - written]:
                out.write(json.dumps(row) + "\n")
                written += 1


def render(objects: Any) -> int:
    event = {"topic": "mechanic/shopify/bulk_operation", "data": {"status": "COMPLETED", "objects": objects}}
    result = render_task(RenderRequest(script=TEMPLATE, options={}, event=event, task={}, shop={}))
    return len(result.actions)


def measure_lazy(source: Path) -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(source.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{source.name}"
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work)
        tracemalloc.start()
        started = time.perf_counter()
        asyncio.run(download_results(url, directory))
        count = build_index(directory)
        downloaded = time.perf_counter()
        with BulkResults(directory) as results:
            actions = render(results.objects)
        finished = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    server.shutdown()
    return {
        "objects": count,
        "actions": actions,
        "download_and_index_s": round(downloaded - started, 2),
        "render_s": round(finished - downloaded, 2),
        "tracemalloc_peak_mb": round(peak / 2**20, 1),
    }


def measure_whole(source: Path) -> dict[str, Any]:
    tracemalloc.start()
    started = time.perf_counter()
    items = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    loaded = time.perf_counter()
    actions = render(InMemoryResults(items).objects)
    finished = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "objects": len(items),
        "actions": actions,
        "load_s": round(loaded - started, 2),
        "render_s": round(finished - loaded, 2),
        "tracemalloc_peak_mb": round(peak / 2**20, 1),
    }


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--measure", choices=["lazy", "whole"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measured = (measure_lazy if args.measure == "lazy" else measure_whole)(args.file)
        measured["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(measured))
        return
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "results.jsonl"
        write_results(source, args.lines)
        print(f"{args.lines:,} lines, {source.stat().st_size / 2**20:.1f} MB")
        for mode in ("lazy", "whole"):
            out = subprocess.run(
                [sys.executable, __file__, "--measure", mode, "--file", str(source)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            print(
                f"{'ratchet (streamed, indexed, lazy)' if mode == 'lazy' else 'baseline (parsed whole)':36} {out.strip()}"
            )


if __name__ == "__main__":
    main()
