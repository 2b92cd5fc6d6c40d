"""The console's Events page on a big ledger: the first page of 100,000 events, target under 200 ms.

Seeds a fresh ledger (SQLite in a temporary directory, or `--database-url` PostgreSQL, which
must be an empty database) with N events spread over 15 days (Mechanic's retention), each with
its event run and one task run; 70 % of task runs made one action run, 3 % failed, 1 % still wait.
Then times, for each view, the median of `--repeat` requests of the whole page through the
console app (login cookie, guard, service, Jinja2; in process, no socket) and of the service call
alone (`list_events`), after one warm-up:

  all            the first page, no filter
  errors         the Errors tab
  waiting        the Waiting tab
  hide idle      "hide events that did nothing"
  page 20        the 20th page (keyset: costs what the first costs)
  search         text inside event data (a scan of the shop's events until a page is found)

    uv run python benchmarks/events_page.py [--events 100000] [--repeat 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ratchet.config import ConsoleSettings, load_settings
from ratchet.console.app import create_console_app
from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.services.event_listing import Cursor, EventQuery, list_events
from ratchet.store import ledger
from ratchet.store.database import Store, table_of
from ratchet.store.tables import Event, Run
from starter.api import Ratchet

SHOP = "default"
TOKEN = "benchmark-token"
CHUNK = 5000
VIEWS: dict[str, tuple[str, EventQuery]] = {
    "all": ("", EventQuery()),
    "errors": ("tab=errors", EventQuery(tab="errors")),
    "waiting": ("tab=waiting", EventQuery(tab="waiting")),
    "hide idle": ("hide_idle=1", EventQuery(hide_idle=True)),
    "search": ("q=customer-77777%40example.com", EventQuery(search="customer-77777@example.com")),
}


def seed(store: Store, count: int) -> None:
    """`count` events over the last 15 days, each with an event run and a task run (some with an action run)."""
    rng = random.Random(7)
    now = utcnow()
    span = timedelta(days=15).total_seconds()
    events: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for index in range(count):
        event_id = str(uuid.uuid4())
        created = now - timedelta(seconds=span * index / count)
        events.append(
            {
                "id": event_id,
                "shop_id": SHOP,
                "topic": rng.choice(["shopify/orders/create", "shopify/customers/update", "user/report/run"]),
                "data": {"id": 5000000 + index, "email": f"customer-{index}@example.com", "total_price": "19.90"},
                "source": "shopify",
                "workflow_id": ledger.event_workflow_id(SHOP, event_id),
                "created_at": created,
                "run_at": created,
            }
        )
        roll = rng.random()
        state = RunState.failed if roll < 0.03 else RunState.due if roll < 0.04 else RunState.succeeded
        event_run = ledger.derived_id("event-run", event_id)
        task_run = ledger.derived_id(event_run, "task")
        runs.append(_run(event_run, RunKind.event, event_id, None, RunState.succeeded, created))
        runs.append(_run(task_run, RunKind.task, event_id, event_run, state, created, task_name="Order tagger"))
        if state == RunState.succeeded and rng.random() < 0.7:
            runs.append(_run(ledger.derived_id(task_run, 0), RunKind.action, event_id, task_run, state, created))
        if len(events) == CHUNK:
            _insert(store, events, runs)
    _insert(store, events, runs)


def _run(
    run_id: str,
    kind: RunKind,
    event_id: str,
    parent_id: str | None,
    state: RunState,
    at: Any,
    task_name: str | None = None,
) -> dict[str, Any]:
    return {
        "id": run_id,
        "kind": kind,
        "shop_id": SHOP,
        "event_id": event_id,
        "parent_id": parent_id,
        "topic": "shopify/orders/create",
        "task_id": None,
        "task_name": task_name,
        "state": state,
        "attempts": 1,
        "manual_retries": 0,
        "perform_event": True,
        "position": 0,
        "notes": [],
        "run_at": at,
        "enqueued_at": at,
    }


def _insert(store: Store, events: list[dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    with store.engine.begin() as connection:
        if events:
            connection.execute(table_of(Event).insert(), events)
        if runs:
            connection.execute(table_of(Run).insert(), runs)
    events.clear()
    runs.clear()


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure(store: Store, repeat: int) -> list[tuple[str, float, float, int]]:
    settings = load_settings(shop=SHOP)
    app = create_console_app(Ratchet(settings, store, None), ConsoleSettings(), token=TOKEN)
    transport = httpx.ASGITransport(app=app)
    results = []
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8081") as http:
        await http.post("/login", data={"token": TOKEN})
        page20 = _cursor_after_pages(store, 19)
        views = {**VIEWS, "page 20": (f"after={page20.encode()}", EventQuery())}
        for name, (query_string, query) in views.items():
            after = page20 if name == "page 20" else None
            url = f"/s/{SHOP}/events?{query_string}"
            page_times, service_times = [], []
            rows = 0
            for attempt in range(repeat + 1):
                started = time.perf_counter()
                response = await http.get(url)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text[:300]
                started = time.perf_counter()
                with store.session() as session:
                    rows = len(list_events(session, SHOP, query, after=after).rows)
                service = time.perf_counter() - started
                if attempt:  # the first is a warm-up
                    page_times.append(elapsed)
                    service_times.append(service)
            results.append((name, _median_ms(page_times), _median_ms(service_times), rows))
    return results


def _cursor_after_pages(store: Store, pages: int) -> Cursor:
    cursor = None
    with store.session() as session:
        for _ in range(pages):
            cursor = list_events(session, SHOP, EventQuery(), after=cursor).next_cursor
            assert cursor is not None
    assert cursor is not None
    return cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database (default: SQLite in a temporary directory)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        store = Store(args.database_url or f"sqlite:///{Path(home) / 'ratchet.db'}")
        store.create_schema()
        started = time.perf_counter()
        seed(store, args.events)
        print(f"seeded {args.events} events in {time.perf_counter() - started:.1f} s ({store.engine.dialect.name})")
        print(f"{'view':<12} {'page ms':>8} {'service ms':>11} {'rows':>5}")
        for name, page_ms, service_ms, rows in asyncio.run(measure(store, args.repeat)):
            print(f"{name:<12} {page_ms:8.1f} {service_ms:11.1f} {rows:5d}")
        store.dispose()


if __name__ == "__main__":
    main()
