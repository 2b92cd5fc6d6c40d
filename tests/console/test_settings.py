"""The settings page: the shop, event filters with their test bench, Mechanic webhooks, activity, access.

And secrets that are never sent back to the browser.
"""

from __future__ import annotations

import os
import re

from ratchet.store.tables import Shop
from starter.api import Ratchet
from tests.support.console import CONSOLE_TOKEN, ConsoleClient
from tests.support.ledger_seed import SeededTaskRun, seed_event
from tests.support.tasks import add_task

SHOP_TOKEN = "shpat_leaktest_0d9f8e7c6b5a"
SHOP_SECRET = "shpss_leaktest_1a2b3c4d5e6f"
HOOK_SECRET = "hook-secret-leaktest-77aa88bb"


async def settings(console: ConsoleClient) -> str:
    response = await console.get(f"/s/{console.shop}/settings")
    assert response.status_code == 200, response.text
    return response.text


async def test_filters_are_added_tried_and_removed(console: ConsoleClient, api: Ratchet) -> None:
    kept = seed_event(api.store, console.shop, "user/keep/me")
    dropped = seed_event(api.store, console.shop, "user/drop/me")
    draft = '{% if event.topic contains "drop" %}false{% endif %}'
    bench = await console.post(f"/s/{console.shop}/settings/filters/test", {"template": draft})
    assert bench.status_code == 200
    rows = re.findall(
        r'/events/([0-9a-f-]{36})"><code>[^<]+</code></a></td>\s*<td[^>]*>[^<]*</td>\s*<td data-label="Verdict">([^<]+)<',
        bench.text,
    )
    assert dict(rows) == {kept: "Lets through", dropped: "Would drop"}
    assert await api.filters.list(console.shop) == []  # the bench saves nothing

    broken = await console.post(f"/s/{console.shop}/settings/filters/test", {"template": "{% if %}"})
    assert broken.status_code == 400 and "Liquid syntax error" in broken.text

    saved = await console.post(f"/s/{console.shop}/settings/filters", {"name": "No drops", "template": draft})
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=filters#filters")
    assert [f.name for f in await api.filters.list(console.shop)] == ["No drops"]
    assert "Remove filter “No drops”" in await settings(console)
    removed = await console.post(f"/s/{console.shop}/settings/filters/remove", {"name": "No drops"})
    assert removed.status_code == 303 and await api.filters.list(console.shop) == []


async def test_webhooks_are_listed_with_their_url_and_never_their_secret(console: ConsoleClient, api: Ratchet) -> None:
    added = await console.post(
        f"/s/{console.shop}/settings/webhooks",
        {"name": "Contact form", "topic": "user/forms/contact", "mode": "full", "secret": HOOK_SECRET},
    )
    assert added.status_code == 303
    [hook] = await api.webhooks.list(console.shop)
    html = await settings(console)
    assert f"<code>{api.webhooks.url(hook)}</code>" in html and "full request" in html
    assert '<td data-label="Secret">set</td>' in html and HOOK_SECRET not in html
    bad = await console.post(f"/s/{console.shop}/settings/webhooks", {"name": "x", "topic": "user/x/y", "mode": "raw"})
    assert bad.status_code == 400 and "unknown mode &#39;raw&#39;: use auto or full" in bad.text
    removed = await console.post(f"/s/{console.shop}/settings/webhooks/{hook.id}/remove")
    assert removed.status_code == 303 and await api.webhooks.list(console.shop) == []


async def test_the_shop_zone_is_changed_through_shop_set(console: ConsoleClient, api: Ratchet) -> None:
    changed = await console.post(f"/s/{console.shop}/settings/shop", {"timezone": "Europe/Paris"})
    assert changed.status_code == 303
    assert (await api.shops.get(console.shop)).timezone == "Europe/Paris"
    bad = await console.post(f"/s/{console.shop}/settings/shop", {"timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert (await api.shops.get(console.shop)).timezone == "Europe/Paris"


async def test_activity_shows_the_shop_status_figures(console: ConsoleClient, api: Ratchet) -> None:
    await add_task(api, "Counted", "{% log 'x' %}", ["user/a/b"])
    html = await settings(console)
    assert "<dt>Enabled tasks</dt><dd>1</dd>" in html and "ratchet shop status --json" in html


async def test_no_page_ever_contains_a_secret(console: ConsoleClient, api: Ratchet) -> None:
    """Seeds every kind of secret the console could reach, then reads every page and fragment."""
    with api.store.session() as session:
        shop = session.get(Shop, console.shop)
        assert shop is not None
        shop.access_token, shop.webhook_secret = SHOP_TOKEN, SHOP_SECRET
        session.add(shop)
        session.commit()
    await api.webhooks.add("Signed", "user/signed/in", secret=HOOK_SECRET, shop_id=console.shop)
    task = await add_task(api, "Mailer", "{% log 'x' %}", ["user/a/b"])
    event_id = seed_event(api.store, console.shop, task_runs=(SeededTaskRun("Mailer", task_id=task.id, actions=1),))
    secrets = [SHOP_TOKEN, SHOP_SECRET, HOOK_SECRET, CONSOLE_TOKEN, os.environ["RATCHET_SECRET_KEY"]]
    base = f"/s/{console.shop}"
    pages = [
        await console.get(path)
        for path in (
            "/login",
            f"{base}/events",
            f"{base}/events?tab=errors",
            f"{base}/events/{event_id}",
            f"{base}/events/{event_id}/export.json",
            f"{base}/events/new?copy={event_id}",
            f"{base}/settings",
            f"{base}/no-such-page",
        )
    ]
    pages.append(await console.get(f"{base}/events", headers={"hx-request": "true"}))
    pages.append(await console.post(f"{base}/settings/shop", {"timezone": "Nowhere/Land"}))
    pages.append(await console.post(f"{base}/settings/filters/test", {"template": "{{ shop | json }}"}))
    pages.append(await console.http.post("/login", data={"token": "wrong"}))
    assert len(pages) == 12
    for page in pages:
        for secret in secrets:
            assert secret not in page.text, f"{page.request.url} shows a secret"
        for name, value in page.headers.items():
            assert not any(secret in value for secret in secrets), f"{page.request.url} header {name}"
