"""Run task for resources (Mechanic's admin action links): events carry the resources' REST representation."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.core.runs import RunKind
from ratchet.errors import Conflict, InvalidInput
from ratchet.services.resource_runs import parse_refs
from starter.api import Ratchet
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs

ECHO_ORDER = '{% action "echo", name: order.name, total: order.total_price %}'
ECHO_ORDERS = '{% action "echo", names: orders | map: "name" %}'


def order(order_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "closed_at": None,
        "cancelled_at": None,
        "total_price": "9.50",
    } | fields


async def connected(api: Ratchet, fake: ShopifyFake) -> None:
    await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)
    fake.rest_resources["orders"] = [order(1001), order(1002, closed_at="2026-01-01T00:00:00Z"), order(1003)]


async def test_one_event_per_order_by_id_or_name(api: Ratchet, fake: ShopifyFake) -> None:
    await connected(api, fake)
    task = await add_task(api, "Per order", ECHO_ORDER, ["mechanic/user/order"])
    # A closed order is found by name too (status=any).
    event_ids = await api.tasks.run_for(task.id, "order", parse_refs("1001, #1002\ngid://shopify/Order/1003"))
    assert len(event_ids) == 3
    names = []
    for event_id in event_ids:
        runs = await wait_for_runs(api, event_id, settled(1))
        names.append((await api.runs.get(of_kind(runs, RunKind.action)[0].id)).action_options["name"])
    assert names == ["#1001", "#1002", "#1003"]


async def test_the_batch_topic_gets_lists_of_at_most_fifty(api: Ratchet, fake: ShopifyFake) -> None:
    await connected(api, fake)
    # 60 order reads overflow REST's 40-request bucket: the fake's clock runs at the engine's time
    # scale, so the client's scaled throttle waits let the bucket leak as much as Shopify's would.
    fake.reset(time_scale=api.settings.time_scale)
    fake.rest_resources["orders"] = [order(n) for n in range(1, 61)]
    task = await add_task(api, "Batch", ECHO_ORDERS, ["mechanic/user/orders"])
    event_ids = await api.tasks.run_for(task.id, "order", [str(n) for n in range(1, 61)])
    sizes = []
    for event_id in event_ids:
        runs = await wait_for_runs(api, event_id, settled(1))
        sizes.append(len((await api.runs.get(of_kind(runs, RunKind.action)[0].id)).action_options["names"]))
    assert sizes == [50, 10]


async def test_nothing_is_sent_unless_every_resource_is_found(api: Ratchet, fake: ShopifyFake) -> None:
    await connected(api, fake)
    task = await add_task(api, "Per order", ECHO_ORDER, ["mechanic/user/order"])
    with pytest.raises(InvalidInput, match="order '#4040' was not found"):
        await api.tasks.run_for(task.id, "order", ["1001", "#4040"])
    with pytest.raises(InvalidInput, match="order '999' was not found"):
        await api.tasks.run_for(task.id, "order", ["999"])
    with pytest.raises(Conflict, match="does not subscribe to mechanic/user/product"):
        await api.tasks.run_for(task.id, "product", ["1"])
    with pytest.raises(Conflict, match="does not subscribe to mechanic/user/customer"):
        await api.tasks.run_for(task.id, "customer", ["1"])
    assert (await api.runs.list()) == []


async def test_products_and_variants_carry_their_ids_only(api: Ratchet, fake: ShopifyFake) -> None:
    # Mechanic's admin links send only `id` and `admin_graphql_api_id` for these since Shopify's
    # REST deprecations (https://learn.mechanic.dev/core/shopify/admin-action-links); no REST read.
    await connected(api, fake)
    echo = '{% action "echo", id: variant.id, gid: variant.admin_graphql_api_id, title: variant.title %}'
    task = await add_task(api, "Per variant", echo, ["mechanic/user/variant"])
    before = len(fake.requests)
    [event_id] = await api.tasks.run_for(task.id, "variant", ["gid://shopify/ProductVariant/42"])
    runs = await wait_for_runs(api, event_id, settled(1))
    options = (await api.runs.get(of_kind(runs, RunKind.action)[0].id)).action_options
    assert options == {"id": 42, "gid": "gid://shopify/ProductVariant/42", "title": None}
    assert len(fake.requests) == before
    with pytest.raises(InvalidInput, match="variant 'blue-shirt': give its numeric id"):
        await api.tasks.run_for(task.id, "variant", ["blue-shirt"])
