"""The `shopify` and `flow` actions against the Shopify fake."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.actions.base import (
    ActionError,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    get_handler,
)
from ratchet.actions.flow import FLOW_TRIGGER_HANDLES
from ratchet.actions.shopify import GraphQLRequest, RestRequest
from ratchet.engine.devserver import free_port
from ratchet.shopify import ShopifyThrottled
from ratchet.shopify.client import DEFAULT_API_VERSION
from ratchet.store.database import Store
from ratchet.store.tables import Shop
from tests.support.actions import action_context
from tests.support.shopify_fake import ShopifyFake

shopify = get_handler("shopify")
flow = get_handler("flow")

CUSTOMER_CREATE = """
mutation CustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id } userErrors { field message } }
}"""


# -- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("{ shop { name } }", GraphQLRequest("{ shop { name } }")),
        (
            {"query": "query Q($a: ID!) { node(id: $a) { id } }", "variables": {"a": "1"}},
            GraphQLRequest("query Q($a: ID!) { node(id: $a) { id } }", {"a": "1"}),
        ),
        (
            ["create", "customer", {"email": "a@b.c"}],
            RestRequest("POST", "customers.json", True, {"customer": {"email": "a@b.c"}}),
        ),
        (
            ["update", ["order", 123], {"note": "x"}],
            RestRequest("PUT", "orders/123.json", True, {"order": {"note": "x"}}),
        ),
        (["delete", ["product", "123"]], RestRequest("DELETE", "products/123.json", True)),
        (
            ["create", ["customer", 7, "address"], {"city": "X"}],
            RestRequest("POST", "customers/7/addresses.json", True, {"address": {"city": "X"}}),
        ),
        (
            ["update", ["smart_collection", 5], {"title": "T"}],
            RestRequest("PUT", "smart_collections/5.json", True, {"smart_collection": {"title": "T"}}),
        ),
        (
            ["get", "/admin/api/2020-01/orders.json", {"status": "any"}],
            RestRequest("GET", "/admin/api/2020-01/orders.json", False, params={"status": "any"}),
        ),
        (
            ["put", "/admin/api/2020-01/orders/1.json", {"order": {"note": "n"}}],
            RestRequest("PUT", "/admin/api/2020-01/orders/1.json", False, {"order": {"note": "n"}}),
        ),
        (
            ["delete", "/admin/api/2020-01/orders/1.json"],
            RestRequest("DELETE", "/admin/api/2020-01/orders/1.json", False),
        ),
    ],
)
def test_shopify_options_forms(options: Any, expected: GraphQLRequest | RestRequest) -> None:
    assert shopify.validate(options) == expected


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ("   ", "query"),
        ({"query": "{ shop { id } }", "variables": [1]}, "variables"),
        ({"query": "{ shop { id } }", "extra": 1}, "options"),
        (["create", "customer"], "options"),
        (["update", "order", {"note": "x"}], "options[1]"),
        (["update", ["order", "gid://shopify/Order/1"], {}], "options[1]"),
        (["post", "/admin/api/2020-01/orders.json"], "options[2]"),
        (["get", "orders.json"], "options[1]"),
        (["frobnicate", ["order", 1]], "options[0]"),
        (42, "options"),
        ("{ " + "a " * 50_001 + "}", "query"),
    ],
)
def test_shopify_invalid_options_name_the_field(options: Any, field: str) -> None:
    with pytest.raises(ActionOptionsError) as caught:
        shopify.validate(options)
    assert caught.value.field_name == field


# -- GraphQL --------------------------------------------------------------------------------------------


async def test_graphql_result_is_whole_response_with_result_meta(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.on_graphql(
        "CustomerCreate",
        {"customerCreate": {"customer": {"id": "gid://shopify/Customer/1"}, "userErrors": []}},
        cost=10,
    )
    ctx = action_context(sqlite_store, sqlite_shop, api_version="2024-10")
    options = shopify.validate({"query": CUSTOMER_CREATE, "variables": {"input": {"email": "a@b.c"}}})

    result = await shopify.perform(options, ctx)

    assert result["data"]["customerCreate"]["customer"]["id"] == "gid://shopify/Customer/1"
    assert result["extensions"]["cost"]["actualQueryCost"] == 10
    (request,) = fake.requests
    assert request.path == "/admin/api/2024-10/graphql.json"
    assert request.json["variables"] == {"input": {"email": "a@b.c"}}
    assert ctx.result_meta["shopify_admin_graphql_api_cost"] == 10
    assert ctx.result_meta["shopify_admin_graphql_api_requests_count"] == 1
    assert ctx.result_meta["shopify_admin_rest_api_requests_count"] == 0
    assert isinstance(ctx.result_meta["shopify_admin_api_time_ms"], int)


async def test_user_errors_fail_permanently(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.on_graphql(
        "CustomerCreate",
        {
            "customerCreate": {
                "customer": None,
                "userErrors": [{"field": ["input", "email"], "message": "Email has already been taken"}],
            }
        },
    )
    ctx = action_context(sqlite_store, sqlite_shop)
    with pytest.raises(PermanentActionError) as caught:
        await shopify.perform(shopify.validate(CUSTOMER_CREATE), ctx)
    assert caught.value.message == (
        "Received a Shopify error (user errors in customerCreate.userErrors): input.email: Email has already been taken"
    )
    assert caught.value.result["data"]["customerCreate"]["customer"] is None
    assert ctx.result_meta["shopify_admin_graphql_api_requests_count"] == 1
    # The failed run keeps what the call cost, as a successful one does.
    assert caught.value.result_meta == ctx.result_meta


async def test_variant_user_errors_are_found_anywhere(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.on_graphql(
        "customerActivate", {"a": {"customerActivate": {"customerUserErrors": [{"field": None, "message": "Invalid"}]}}}
    )
    with pytest.raises(PermanentActionError, match=r"a\.customerActivate\.customerUserErrors\): Invalid"):
        await shopify.perform(
            shopify.validate("mutation { customerActivate }"), action_context(sqlite_store, sqlite_shop)
        )


async def test_top_level_errors_fail_permanently(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.on_graphql(
        "orders", errors=[{"message": "Access denied for orders field.", "extensions": {"code": "ACCESS_DENIED"}}]
    )
    with pytest.raises(PermanentActionError) as caught:
        await shopify.perform(
            shopify.validate("{ orders(first: 1) { nodes { id } } }"), action_context(sqlite_store, sqlite_shop)
        )
    assert caught.value.message == "Received a Shopify error (ACCESS_DENIED): Access denied for orders field."


async def test_throttled_graphql_raises_shopify_throttled(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.clock.freeze()
    fake.set_graphql_bucket(available=0)
    fake.on_graphql("shop", {"shop": {"name": "x"}})
    ctx = action_context(sqlite_store, sqlite_shop)
    with pytest.raises(ShopifyThrottled) as caught:
        await shopify.perform(shopify.validate("{ shop { name } }"), ctx)
    # The engine must be able to tell it from an attempt-spending failure.
    assert not isinstance(caught.value, ActionError)
    assert caught.value.retry_after_seconds > 0
    assert ctx.result_meta["shopify_admin_graphql_api_requests_count"] == 1


async def test_transport_error_is_transient(sqlite_store: Store) -> None:
    shop = Shop(id="unreachable", shopify_domain=f"http://127.0.0.1:{free_port()}", access_token="t")
    with pytest.raises(TransientActionError):
        await shopify.perform(shopify.validate("{ shop { name } }"), action_context(sqlite_store, shop))


async def test_missing_token_is_permanent(sqlite_store: Store, fake: ShopifyFake) -> None:
    shop = Shop(id="no-token", shopify_domain=fake.base_url)
    with pytest.raises(PermanentActionError, match="access token"):
        await shopify.perform(shopify.validate("{ shop { name } }"), action_context(sqlite_store, shop))
    assert fake.requests == []


# -- REST -----------------------------------------------------------------------------------------------


async def test_rest_resourceful_forms_reach_the_right_endpoint(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    ctx = action_context(sqlite_store, sqlite_shop, api_version="2024-01")

    created = await shopify.perform(shopify.validate(["create", "customer", {"email": "a@b.c"}]), ctx)
    updated = await shopify.perform(shopify.validate(["update", ["order", 123], {"note": "hi"}]), ctx)
    deleted = await shopify.perform(shopify.validate(["delete", ["product", 456]]), ctx)

    assert [(r.method, r.path, r.json) for r in fake.requests] == [
        ("POST", "/admin/api/2024-01/customers.json", {"customer": {"email": "a@b.c"}}),
        ("PUT", "/admin/api/2024-01/orders/123.json", {"order": {"note": "hi"}}),
        ("DELETE", "/admin/api/2024-01/products/456.json", None),
    ]
    assert created == {"customer": {"email": "a@b.c", "id": created["customer"]["id"]}}
    assert isinstance(created["customer"]["id"], int)
    assert updated == {"order": {"note": "hi", "id": 123}}
    assert deleted == {}
    assert ctx.result_meta["shopify_admin_rest_api_requests_count"] == 1


async def test_rest_explicit_form_keeps_the_given_path(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.on_rest("GET", "/admin/api/2020-01/orders.json", 200, {"orders": [{"id": 1}]})
    ctx = action_context(sqlite_store, sqlite_shop, api_version="2025-10")
    result = await shopify.perform(shopify.validate(["get", "/admin/api/2020-01/orders.json", {"status": "any"}]), ctx)
    assert result == {"orders": [{"id": 1}]}
    (request,) = fake.requests
    assert (request.method, request.path, request.params) == (
        "GET",
        "/admin/api/2020-01/orders.json",
        {"status": "any"},
    )


async def test_rest_422_is_permanent_with_mechanic_message(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.on_rest(
        "POST",
        f"/admin/api/{DEFAULT_API_VERSION}/draft_orders.json",
        422,
        {"errors": {"base": ["Add at least 1 product"]}},
    )
    with pytest.raises(PermanentActionError) as caught:
        await shopify.perform(
            shopify.validate(["create", "draft_order", {}]), action_context(sqlite_store, sqlite_shop)
        )
    assert caught.value.message == "Received a Shopify error (resource invalid): Add at least 1 product"


async def test_rest_5xx_is_transient(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.on_rest("PUT", f"/admin/api/{DEFAULT_API_VERSION}/orders/1.json", 503, {"errors": "Unavailable"})
    with pytest.raises(TransientActionError, match="Unavailable"):
        await shopify.perform(
            shopify.validate(["update", ["order", 1], {"note": "x"}]), action_context(sqlite_store, sqlite_shop)
        )


async def test_rest_429_raises_shopify_throttled(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.clock.freeze()
    fake.set_rest_used(40)
    with pytest.raises(ShopifyThrottled) as caught:
        await shopify.perform(shopify.validate(["delete", ["product", 1]]), action_context(sqlite_store, sqlite_shop))
    assert caught.value.retry_after_seconds == pytest.approx(0.5)


# -- flow -------------------------------------------------------------------------------------------------


def test_flow_defaults_and_general_trigger() -> None:
    assert flow.validate(None) == {
        "handle": FLOW_TRIGGER_HANDLES[None],
        "payload": {
            "user_boolean": False,
            "user_email": "hey@mechanic.invalid",
            "user_number": 0,
            "user_string": "",
            "user_url": "https://mechanic.invalid/",
        },
    }


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"customer_id": 1, "order_id": 2}, "order_id"),
        ({"product_id": "gid://shopify/Product/1"}, "product_id"),
        ({"user_boolean": "yes"}, "user_boolean"),
        ({"user_number": True}, "user_number"),
        ({"user_url": "ftp://x"}, "user_url"),
        ({"shop_id": 1}, "options"),
        ([], "options"),
    ],
)
def test_flow_invalid_options(options: Any, field: str) -> None:
    with pytest.raises(ActionOptionsError) as caught:
        flow.validate(options)
    assert caught.value.field_name == field


async def test_flow_sends_flow_trigger_receive(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.on_graphql("flowTriggerReceive", {"flowTriggerReceive": {"userErrors": []}})
    ctx = action_context(sqlite_store, sqlite_shop)
    options = flow.validate({"order_id": "450789469", "user_string": "hello", "user_number": 2.5})

    result = await flow.perform(options, ctx)

    assert result["data"] == {"flowTriggerReceive": {"userErrors": []}}
    (request,) = fake.requests
    assert "flowTriggerReceive(handle: $handle, payload: $payload)" in request.json["query"]
    assert request.json["variables"] == {
        "handle": "mechanic-sent-order-data",
        "payload": {
            "order_id": 450789469,
            "user_boolean": False,
            "user_email": "hey@mechanic.invalid",
            "user_number": 2.5,
            "user_string": "hello",
            "user_url": "https://mechanic.invalid/",
        },
    }
    assert ctx.result_meta["shopify_admin_graphql_api_requests_count"] == 1


async def test_flow_user_errors_fail(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.on_graphql(
        "flowTriggerReceive",
        {"flowTriggerReceive": {"userErrors": [{"field": ["handle"], "message": "Invalid handle"}]}},
    )
    with pytest.raises(PermanentActionError, match="handle: Invalid handle"):
        await flow.perform(flow.validate({}), action_context(sqlite_store, sqlite_shop))


async def test_graphql_401_is_permanent(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    shop = sqlite_shop.model_copy(update={"access_token": "revoked"})
    with pytest.raises(PermanentActionError) as caught:
        await shopify.perform(shopify.validate("{ shop { name } }"), action_context(sqlite_store, shop))
    assert caught.value.message.startswith("Received a Shopify error (unauthorized access): [API] Invalid API key")
