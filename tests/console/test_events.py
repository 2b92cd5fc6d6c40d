"""The Events list as a user reads it: newest first in the shop's zone, tabs, filters, pages, polling."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from ratchet.core.runs import RunState
from ratchet.services.event_listing import EventQuery, list_events
from ratchet.store.database import Store
from starter.api import Ratchet
from tests.support.console import ConsoleClient
from tests.support.ledger_seed import SeededTaskRun, seed_event
from tests.support.tasks import add_task
from tests.support.waiting import settled, wait_for_runs

EVENT_LINK = re.compile(r'href="/s/[^/]+/events/([0-9a-f-]{36})"><time')
NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


def listed(html: str) -> list[str]:
    """Event ids in the order the page lists them."""
    return EVENT_LINK.findall(html)


async def events(console: ConsoleClient, query: str = "") -> str:
    response = await console.get(f"/s/{console.shop}/events{query}")
    assert response.status_code == 200, response.text
    return response.text


async def test_newest_first_in_the_shops_zone_with_a_line_per_task_run(console: ConsoleClient, api: Ratchet) -> None:
    await api.shops.set(console.shop, timezone_name="America/New_York")
    older = seed_event(api.store, console.shop, "user/a", created_at=NOW - timedelta(hours=1))
    newer = seed_event(
        api.store,
        console.shop,
        "shopify/orders/create",
        created_at=NOW,
        task_runs=(SeededTaskRun("Tag orders", actions=2), SeededTaskRun("Broken", state=RunState.failed)),
    )
    html = await events(console)
    assert listed(html) == [newer, older]
    assert "2026-12-05 10:00:00 EST" in html  # 15:00 UTC in New York
    assert re.search(r"✓ Succeeded</span>\s*Tag orders\s*<span class=\"muted\">· 2 actions", html)
    assert re.search(r"✗ Failed</span>\s*Broken\s*<span class=\"muted\">· 0 actions", html)


async def test_tabs_show_errors_and_waiting_work(console: ConsoleClient, api: Ratchet) -> None:
    ok = seed_event(api.store, console.shop, created_at=NOW, task_runs=(SeededTaskRun("Fine", actions=1),))
    failed_action = seed_event(
        api.store,
        console.shop,
        created_at=NOW - timedelta(minutes=1),
        task_runs=(SeededTaskRun("Mailer", actions=1, action_state=RunState.failed),),
    )
    waiting = seed_event(
        api.store,
        console.shop,
        created_at=NOW - timedelta(minutes=2),
        task_runs=(SeededTaskRun("Later", state=RunState.scheduled),),
    )
    assert listed(await events(console)) == [ok, failed_action, waiting]
    assert listed(await events(console, "?tab=errors")) == [failed_action]
    assert listed(await events(console, "?tab=waiting")) == [waiting]
    assert 'aria-current="page">Errors' in await events(console, "?tab=errors")


async def test_filters_narrow_the_list_and_live_in_the_query_string(console: ConsoleClient, api: Ratchet) -> None:
    task = await add_task(api, "Order tagger", "{% log 'hi' %}", ["shopify/orders/create"])
    store, shop = api.store, console.shop
    order = seed_event(
        store,
        shop,
        "shopify/orders/create",
        data={"id": 4512, "email": "ada@example.com"},
        created_at=NOW,
        task_runs=(SeededTaskRun("Order tagger", task_id=task.id, actions=1),),
    )
    customer = seed_event(
        store, shop, "shopify/customers/create", data={"email": "bob@example.com"}, created_at=NOW - timedelta(days=2)
    )
    idle = seed_event(store, shop, "user/ping", created_at=NOW - timedelta(days=3), task_runs=(SeededTaskRun("Noop"),))

    assert listed(await events(console, "?topic=shopify/orders/create")) == [order]
    assert listed(await events(console, "?topic=shopify/")) == [order, customer]
    assert listed(await events(console, f"?task={task.id}")) == [order]
    assert listed(await events(console, "?q=ada%40example.com")) == [order]
    assert listed(await events(console, f"?q={customer}")) == [customer]
    assert listed(await events(console, "?state=Succeeded&topic=user/ping")) == [idle]
    # The customer event ran no task and the ping's task run made no action: both did nothing.
    assert listed(await events(console, "?hide_idle=1")) == [order]
    # Dates are the shop's (UTC here), both ends inclusive.
    assert listed(await events(console, "?from=2026-12-03&to=2026-12-03")) == [customer]
    assert listed(await events(console, "?from=2026-12-03")) == [order, customer]
    # The form shows the view it lists, and tabs keep the filters.
    html = await events(console, "?q=ada%40example.com&hide_idle=1")
    assert 'value="ada@example.com"' in html and 'name="hide_idle" value="1" checked' in html
    assert 'href="/s/' + shop + '/events?tab=errors&amp;q=ada%40example.com&amp;hide_idle=1"' in html


async def test_keyset_pages_neither_skip_nor_repeat_when_new_events_arrive(
    console: ConsoleClient, api: Ratchet
) -> None:
    # Pairs share a creation time: the id breaks the tie, so no event falls between two pages.
    seeded = [seed_event(api.store, console.shop, created_at=NOW - timedelta(seconds=i // 2)) for i in range(120)]
    expected = sorted(seeded, key=lambda e: (seeded.index(e) // 2, [-ord(c) for c in e]))  # time, then id, descending
    first = await events(console)
    assert listed(first) == expected[:50]
    seed_event(api.store, console.shop, created_at=NOW + timedelta(minutes=1))  # arrives while reading
    second_link = re.search(r'href="([^"]+)" rel="next"', first)
    assert second_link
    second = await events(console, "?" + second_link.group(1).split("?", 1)[1].replace("&amp;", "&"))
    assert listed(second) == expected[50:100]
    third_link = re.search(r'href="([^"]+)" rel="next"', second)
    assert third_link
    third = await events(console, "?" + third_link.group(1).split("?", 1)[1].replace("&amp;", "&"))
    assert listed(third) == expected[100:]
    assert 'rel="next"' not in third and "Newest events" in third


async def test_the_first_page_polls_until_paused(console: ConsoleClient, api: Ratchet) -> None:
    seed_event(api.store, console.shop, created_at=NOW)
    live = await events(console, "?tab=errors")
    assert f'hx-get="/s/{console.shop}/events?tab=errors" hx-trigger="every 5s"' in live
    assert f'href="/s/{console.shop}/events?tab=errors&amp;paused=1">Pause updates' in live
    paused = await events(console, "?tab=errors&paused=1")
    assert "hx-trigger" not in paused and "Resume updates" in paused
    fragment = await console.get(f"/s/{console.shop}/events", headers={"hx-request": "true"})
    assert fragment.text.lstrip().startswith('<div id="event-results"') and "<html" not in fragment.text


async def test_malformed_filters_are_a_clear_400(console: ConsoleClient) -> None:
    for query, message in (
        ("?tab=nope", "tab: expected one of all, errors, waiting"),
        ("?from=yesterday", "from: expected a date like 2026-12-31"),
        ("?state=Lost", "state: expected one of"),
        ("?after=garbage", "after: not a page cursor"),
        ("?from=2026-12-05&to=2026-12-01", "to: the range ends before it starts"),
    ):
        response = await console.get(f"/s/{console.shop}/events{query}")
        assert response.status_code == 400 and message in response.text, query


async def test_an_event_the_engine_ran_is_listed_with_its_task_run(console: ConsoleClient, api: Ratchet) -> None:
    await add_task(api, "Echoer", '{% action "echo", n: 1 %}', ["user/console/go"])
    event_id = await api.events.send("user/console/go")
    await wait_for_runs(api, event_id, settled(1))
    html = await events(console)
    assert listed(html) == [event_id]
    assert re.search(
        r"✓ Succeeded</span>\s*<a href=\"/s/[^\"]+/tasks/[^\"]+\">Echoer</a>\s*<span class=\"muted\">· 1 action<", html
    )


async def test_unknown_shop_is_a_404(console: ConsoleClient) -> None:
    response = await console.get("/s/no-such-shop/events")
    assert response.status_code == 404


def test_keyset_pages_and_filters_on_both_databases(db_store: Store) -> None:
    shop = f"shop-{uuid.uuid4().hex[:10]}"
    seeded = [
        seed_event(
            db_store,
            shop,
            "shopify/orders/create",
            data={"email": f"c{i}@example.com"},
            created_at=NOW - timedelta(seconds=i // 3),
            task_runs=(SeededTaskRun("T", state=RunState.failed if i % 4 == 0 else RunState.succeeded),),
        )
        for i in range(30)
    ]
    expected = sorted(seeded, key=lambda e: (seeded.index(e) // 3, [-ord(c) for c in e]))
    pages: list[str] = []
    cursor = None
    with db_store.session() as session:
        while True:
            page = list_events(session, shop, EventQuery(), after=cursor, limit=7)
            pages.extend(row.id for row in page.rows)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert pages == expected
        failed = list_events(session, shop, EventQuery(tab="errors", search="@example.com"), limit=100)
        assert [row.id for row in failed.rows] == [e for e in expected if seeded.index(e) % 4 == 0]
        assert list_events(session, shop, EventQuery(search="c7@example"), limit=100).rows[0].id == seeded[7]
