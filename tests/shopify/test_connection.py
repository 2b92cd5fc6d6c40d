"""Connecting a shop: the token is verified at once, Shopify's shop becomes the Liquid `shop`, its zone the shop's."""

from __future__ import annotations

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.devserver import free_port
from ratchet.engine.schedules import schedule_id
from ratchet.services.status import shop_status
from ratchet.store.tables import ShopifyConnection
from starter.api import Ratchet, RatchetError
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task
from tests.support.waiting import eventually, settled, wait_for_runs


async def _connect(api: Ratchet, fake: ShopifyFake) -> None:
    await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)


def _connection(api: Ratchet) -> ShopifyConnection | None:
    with api.store.session() as session:
        return session.get(ShopifyConnection, api.settings.shop)


async def test_a_wrong_token_is_refused_and_nothing_is_saved(api: Ratchet, fake: ShopifyFake) -> None:
    with pytest.raises(RatchetError, match=r"Shopify refused the access token .* \(HTTP 401\); check --access-token"):
        await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token="shpat_wrong")
    shop = await api.shops.get(api.settings.shop)
    assert shop.access_token is None and shop.shopify_domain is None
    assert _connection(api) is None


async def test_an_unreachable_shop_is_refused(api: Ratchet) -> None:
    with pytest.raises(RatchetError, match=r"cannot reach Shopify at http://127\.0\.0\.1"):
        await api.shops.add("unreachable-shop", shopify_domain=f"http://127.0.0.1:{free_port()}", access_token="t")
    with pytest.raises(RatchetError, match="unknown shop"):
        await api.shops.get("unreachable-shop")


async def test_a_token_without_scopes_is_refused(api: Ratchet, fake: ShopifyFake) -> None:
    fake.access_scopes = []
    with pytest.raises(RatchetError, match="has no access scopes; grant the scopes"):
        await _connect(api, fake)
    assert (await api.shops.get(api.settings.shop)).access_token is None


async def test_a_forbidden_token_is_refused(api: Ratchet, fake: ShopifyFake) -> None:
    fake.fail_graphql("currentAppInstallation", 403)
    with pytest.raises(RatchetError, match=r"\(HTTP 403\)"):
        await _connect(api, fake)


async def test_the_shop_snapshot_drives_liquid_zone_and_status(api: Ratchet, fake: ShopifyFake) -> None:
    await _connect(api, fake)
    shop = await api.shops.get(api.settings.shop)
    assert shop.timezone == "America/New_York"

    await add_task(
        api,
        "Shop facts",
        '{% action "echo", name: shop.name, id: shop.id, email: shop.email, domain: shop.domain, '
        "admin: shop.admin_url, zone: shop.iana_timezone, price: 1234.5 | money, "
        'today: "2026-07-01T12:00:00Z" | date: "%H:%M %Z" %}',
        ["user/shop/facts"],
    )
    event_id = await api.events.send("user/shop/facts", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    (action,) = [r for r in runs if r.kind == RunKind.action]
    assert action.state == RunState.succeeded
    detail = await api.runs.get(action.id)
    assert detail.result == {
        "name": "Fake Outfitters",
        "id": 548380009,
        "email": "owner@fake-outfitters.example",
        "domain": "fake-outfitters.example",
        "admin": "https://admin.shopify.com/store/fake-outfitters/",
        "zone": "America/New_York",
        "price": "€1.234,50",
        "today": "08:00 EDT",
    }

    status = await shop_status(api.store, api.settings.shop, public_url=None)
    shopify = status["shopify"]
    assert (shopify["name"], shopify["iana_timezone"], shopify["currency"]) == (
        "Fake Outfitters",
        "America/New_York",
        "EUR",
    )
    assert shopify["access_scopes"] == ["read_customers", "read_orders", "write_products"]
    assert "set RATCHET_PUBLIC_URL" in shopify["webhooks_note"]


async def test_an_explicit_timezone_is_only_for_unconnected_shops(api: Ratchet, fake: ShopifyFake) -> None:
    await _connect(api, fake)
    with pytest.raises(RatchetError, match="takes its time zone from Shopify"):
        await api.shops.set(api.settings.shop, timezone_name="Europe/Paris")
    assert (await api.shops.get(api.settings.shop)).timezone == "America/New_York"


async def test_shop_update_webhook_and_sync_refresh_the_snapshot_and_move_schedules(
    api: Ratchet, fake: ShopifyFake
) -> None:
    await _connect(api, fake)
    await add_task(api, "Nightly", '{% action "echo", x: 1 %}', ["mechanic/scheduler/daily"])
    handle = api.client.get_schedule_handle(schedule_id(api.settings.shop, "mechanic/scheduler/daily"))
    assert (await handle.describe()).schedule.spec.time_zone_name == "America/New_York"

    # Shopify's shop/update payload is the REST shop.
    event_id = await api.events.send(
        "shopify/shop/update", {"id": 548380009, "name": "Renamed Outfitters", "iana_timezone": "Asia/Tokyo"}
    )
    await wait_for_runs(api, event_id, lambda runs: bool(runs) and all(r.state == RunState.succeeded for r in runs))
    connection = _connection(api)
    assert connection is not None and connection.snapshot["name"] == "Renamed Outfitters"
    assert (await api.shops.get(api.settings.shop)).timezone == "Asia/Tokyo"

    # The schedules follow once the event run is recorded (PerformService._move_schedules), so poll.
    async def schedule_zone() -> bool:
        return (await handle.describe()).schedule.spec.time_zone_name == "Asia/Tokyo"

    await eventually(schedule_zone)

    # `ratchet shop sync` reads Shopify again.
    fake.shop = {**fake.shop, "name": "Synced Outfitters", "ianaTimezone": "Europe/Berlin", "currencyCode": "CHF"}
    shop = await api.shops.sync(api.settings.shop)
    assert shop.timezone == "Europe/Berlin"
    connection = _connection(api)
    assert connection is not None and connection.snapshot["currency"] == "CHF"
    assert (await handle.describe()).schedule.spec.time_zone_name == "Europe/Berlin"


async def test_sync_of_an_unconnected_shop_says_how_to_connect(api: Ratchet) -> None:
    with pytest.raises(RatchetError, match="has no Shopify connection; set one with `ratchet shop set"):
        await api.shops.sync(api.settings.shop)
