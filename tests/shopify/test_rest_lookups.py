"""Mechanic's REST-era Liquid lookups, read lazily from the REST Admin API of the Shopify fake."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ratchet.core.api_versions import LATEST_STABLE_API_VERSION
from ratchet.core.runs import RunKind, RunState
from ratchet.liquid import TaskRenderError
from ratchet.liquid.errors import shopify_read_failure
from ratchet.shopify import ShopifyConfig, make_liquid_shopify_callable
from ratchet.shopify.client import is_transient
from ratchet.store.database import Store
from ratchet.store.tables import Shop
from starter.api import Ratchet
from tests.support.liquid import run
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task
from tests.support.waiting import wait_for_runs

CUSTOMER = {"id": 7, "email": "ada@example.com", "first_name": "Ada", "orders_count": 3}


def _order(order_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "closed_at": None,
        "cancelled_at": None,
        "customer": CUSTOMER,
    } | fields


def _render(store: Store, shop: Shop, script: str, **kwargs: Any) -> list[dict[str, Any]]:
    reader = make_liquid_shopify_callable(store, shop, "2026-07", config=ShopifyConfig(time_scale=0.05))
    result = run(script, shopify=reader, **kwargs)
    assert not result.errors, result.errors
    return [a.options for a in result.actions]


def test_shop_lists_filter_and_page_through_every_order(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.rest_resources["orders"] = [_order(i) for i in range(1, 301)] + [
        _order(900, cancelled_at="2026-01-01T00:00:00Z"),
        _order(901, closed_at="2026-01-02T00:00:00Z"),
    ]
    script = """{% assign open = 0 %}{% for order in shop.orders %}{% assign open = open | plus: 1 %}{% endfor %}
{% assign cancelled = shop.orders.any.cancelled | map: "id" %}
{% action "echo", open: open, cancelled: cancelled, all: shop.orders.any.size %}"""
    (echo,) = _render(sqlite_store, sqlite_shop, script)
    assert echo == {"open": 300, "cancelled": [900], "all": 302}
    # 300 open orders are two pages of 250, every call under the run's API version.
    assert all(r.path.startswith("/admin/api/2026-07/orders") for r in fake.requests)
    assert sum(1 for r in fake.requests if r.path.endswith("/orders.json")) == 3


def test_lookups_by_id_email_and_through_a_resource(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.rest_resources["orders"] = [_order(1), _order(2, closed_at="2026-01-01T00:00:00Z"), _order(3)]
    fake.rest_resources["customers"] = [CUSTOMER | {"orders_count": 4}]
    fake.rest_resources["locations"] = [{"id": 55, "name": "Warehouse", "active": True}]
    fake.on_rest("GET", "/admin/api/2026-07/customers/search.json", 200, {"customers": [CUSTOMER]})
    fake.on_rest(
        "GET",
        "/admin/api/2026-07/orders/1/metafields.json",
        200,
        {"metafields": [{"namespace": "mechanic", "key": "seen", "type": "json", "value": '["a"]'}]},
    )
    script = """{% action "echo",
  name: shop.orders[2].name,
  by_email: shop.customers["ada@example.com"].id,
  location: shop.locations[55].name,
  locations: shop.locations.size,
  orders_count: order.customer.reload.orders_count,
  customer_orders: order.customer.orders.any.size,
  reloaded: order.reload.name,
  seen: order.metafields.mechanic.seen %}"""
    (echo,) = _render(sqlite_store, sqlite_shop, script, topic="shopify/orders/updated", data=_order(1, name="stale"))
    assert echo == {
        "name": "#2",
        "by_email": 7,
        "location": "Warehouse",
        "locations": 1,
        "orders_count": 4,
        "customer_orders": 3,
        "reloaded": "#1",
        "seen": ["a"],
    }


def test_only_documented_routes_are_called(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    """Collections are custom + smart collections; a customer's orders come from customers/{id}/orders.json."""
    fake.rest_resources["custom_collections"] = [{"id": 1, "title": "Frontpage"}]
    fake.rest_resources["smart_collections"] = [{"id": 2, "title": "On sale"}, {"id": 3, "title": "New"}]
    fake.rest_resources["orders"] = [_order(1), _order(2, customer={"id": 8}), _order(3)]
    script = """{% action "echo",
  collections: shop.collections | map: "title",
  count: shop.collections.size,
  one: shop.collections[2].title,
  customer_orders: order.customer.orders | map: "id",
  customer_order_count: order.customer.orders.size %}"""
    (echo,) = _render(sqlite_store, sqlite_shop, script, topic="shopify/orders/create", data=_order(1))
    assert echo == {
        "collections": ["Frontpage", "On sale", "New"],
        "count": 3,
        "one": "On sale",
        "customer_orders": [1, 3],
        "customer_order_count": 2,
    }
    paths = {r.path.removeprefix("/admin/api/2026-07/") for r in fake.requests}
    assert paths == {
        "custom_collections.json",
        "smart_collections.json",
        "custom_collections/count.json",
        "smart_collections/count.json",
        "collections/2.json",
        "customers/7/orders.json",
    }


def test_rest_lists_are_arrays_to_every_filter(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.rest_resources["orders"] = [
        _order(1, financial_status="unpaid", total_price="5.00"),
        _order(2, financial_status="partially_paid", total_price="7.50"),
        _order(3, financial_status="paid", total_price="9.00"),
    ]
    script = """{% assign due = shop.orders.unpaid | concat: shop.orders.partially_paid %}
{% action "echo",
  due: due | map: "id",
  sorted: shop.orders | sort: "total_price" | reverse | map: "id",
  paid: shop.orders | where: "financial_status", "paid" | map: "id",
  joined: shop.orders | map: "name" | join: ",",
  size: shop.orders | size,
  first: shop.orders | first | map: "id" %}"""
    (echo,) = _render(sqlite_store, sqlite_shop, script)
    assert echo == {"due": [1, 2], "sorted": [3, 2, 1], "paid": [3], "joined": "#1,#2,#3", "size": 3, "first": [1]}


@pytest.mark.parametrize(
    ("kind", "alternative"),
    [("location", r"location\(id: …\) \{ metafields"), ("fulfillment", r"order\(id: …\) \{ metafields")],
)
def test_metafields_without_a_rest_owner_fail_naming_graphql(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake, kind: str, alternative: str
) -> None:
    reader = make_liquid_shopify_callable(sqlite_store, sqlite_shop, "2026-07", config=ShopifyConfig())
    with pytest.raises(TaskRenderError, match=rf"{kind}.metafields: .*no metafields.*{alternative}"):
        run(f"{{{{ {kind}.metafields.a.b }}}}", shopify=reader, topic=f"shopify/{kind}s/update", data={"id": 1})
    assert fake.requests == []


def test_the_fake_refuses_routes_shopify_does_not_document(sqlite_shop: Shop, fake: ShopifyFake) -> None:
    headers = {"x-shopify-access-token": fake.access_token}
    for path in ("collections.json", "locations/1/metafields.json", "widgets.json"):
        response = httpx.get(f"{fake.base_url}/admin/api/2026-07/{path}", headers=headers)
        assert response.status_code == 404, path


def test_a_fulfillment_reaches_its_order(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.rest_resources["orders"] = [_order(1, email="ada@example.com")]
    script = '{% action "echo", to: fulfillment.order.email %}'
    (echo,) = _render(
        sqlite_store, sqlite_shop, script, topic="shopify/fulfillments/create", data={"id": 9, "order_id": 1}
    )
    assert echo == {"to": "ada@example.com"}


def test_preview_reads_nothing(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.rest_resources["orders"] = [_order(1)]
    script = '{% action "echo", open: shop.orders.size, first: shop.orders[1], kept: order.reload.name %}'
    (echo,) = _render(
        sqlite_store, sqlite_shop, script, topic="shopify/orders/create", data=_order(1, name="stub"), preview=True
    )
    assert echo == {"open": 0, "first": None, "kept": "stub"}
    assert fake.requests == []


@pytest.mark.parametrize(
    ("script", "names"),
    [
        ("{% for p in shop.products %}{% endfor %}", "shop.products: Shopify removed products from the REST"),
        ("{{ variant.reload.title }}", "variant.reload: Shopify removed variants from the REST"),
    ],
)
def test_removed_rest_resources_fail_naming_the_graphql_alternative(
    sqlite_store: Store, sqlite_shop: Shop, script: str, names: str
) -> None:
    reader = make_liquid_shopify_callable(sqlite_store, sqlite_shop, "2026-07", config=ShopifyConfig())
    with pytest.raises(TaskRenderError, match="(?s)" + names + ".*GraphQL.*line 1"):
        run(script, shopify=reader, topic="shopify/variants/update", data={"id": 1})


def test_an_outage_is_transient_and_names_the_loop(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.on_rest("GET", "/admin/api/2026-07/orders/count.json", 503, {"errors": "unavailable"})
    reader = make_liquid_shopify_callable(sqlite_store, sqlite_shop, "2026-07", config=ShopifyConfig())
    with pytest.raises(TaskRenderError, match=r"HTTP 503.*\(line 2, column") as caught:
        run(
            "{% comment %}all open orders{% endcomment %}\n{% for o in shop.orders %}{{ o.id }}{% endfor %}",
            shopify=reader,
        )
    read = shopify_read_failure(caught.value)
    assert read is not None and is_transient(read.cause)


async def test_a_refused_lookup_fails_the_run_at_once_naming_the_line(api: Ratchet, fake: ShopifyFake) -> None:
    await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)
    fake.on_rest("GET", f"/admin/api/{LATEST_STABLE_API_VERSION}/orders/5.json", 403, {"errors": "needs read_orders"})
    await add_task(api, "Lookup", '{% log "start" %}\n{% assign order = shop.orders[5] %}', ["user/lookup/go"])
    event_id = await api.events.send("user/lookup/go", None)
    runs = await wait_for_runs(
        api, event_id, lambda rs: any(r.kind == RunKind.task and r.state == RunState.failed for r in rs)
    )
    (task_run,) = [r for r in runs if r.kind == RunKind.task]
    assert task_run.attempts == 1
    assert "HTTP 403" in (task_run.error or "") and "(line 2, column" in (task_run.error or "")
