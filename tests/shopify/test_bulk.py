"""Bulk operations against the Shopify fake: detection, the concurrency limit, and result files.

The result file is downloaded from the fake's signed-URL stand-in, indexed, and read back by a
real task render, so `bulkOperation.objects`, `__parentId` and `object.__parent` are checked the
way a task uses them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ratchet.actions.base import PermanentActionError, get_handler
from ratchet.core.bulk_operations import detect_bulk_operations, poll_interval_seconds, with_grouped_objects
from ratchet.liquid import RenderRequest, render_task
from ratchet.shopify.bulk_results import (
    PARTIAL_FILE,
    RESULTS_FILE,
    BulkResults,
    build_index,
    download_results,
)
from ratchet.store.database import Store
from ratchet.store.tables import Shop
from tests.support.actions import action_context
from tests.support.shopify_fake import ShopifyFake

shopify = get_handler("shopify")

START_QUERY = """
mutation {
  bulkOperationRunQuery(query: "{ customers { edges { node { __typename id } } } }") {
    bulkOperation { id status }
    userErrors { field message }
  }
}"""

CUSTOMERS_WITH_ORDERS: list[dict[str, Any]] = [
    {"__typename": "Customer", "id": "gid://shopify/Customer/1", "email": "a@example.com", "tags": []},
    {"__typename": "Order", "id": "gid://shopify/Order/11", "name": "#11", "__parentId": "gid://shopify/Customer/1"},
    {
        "__typename": "LineItem",
        "id": "gid://shopify/LineItem/111",
        "sku": "ABC",
        "__parentId": "gid://shopify/Order/11",
    },
    {"__typename": "Customer", "id": "gid://shopify/Customer/2", "email": "b@example.com", "tags": ["vip"]},
    {"__typename": "Order", "id": "gid://shopify/Order/21", "name": "#21", "__parentId": "gid://shopify/Customer/2"},
    {
        "__typename": "LineItem",
        "id": "gid://shopify/LineItem/211",
        "sku": "XYZ",
        "__parentId": "gid://shopify/Order/21",
    },
]


@pytest.mark.parametrize(
    ("query", "data", "expected"),
    [
        (
            START_QUERY,
            {"bulkOperationRunQuery": {"bulkOperation": {"id": "gid://shopify/BulkOperation/7", "status": "CREATED"}}},
            [("gid://shopify/BulkOperation/7", "QUERY")],
        ),
        (
            'mutation { op: bulkOperationRunMutation(mutation: "m", stagedUploadPath: "p") '
            "{ bulkOperation { id } userErrors { message } } }",
            {"op": {"bulkOperation": {"id": "gid://shopify/BulkOperation/8"}, "userErrors": []}},
            [("gid://shopify/BulkOperation/8", "MUTATION")],
        ),
        # Refused operations (bulkOperation null) and ordinary mutations start nothing.
        (START_QUERY, {"bulkOperationRunQuery": {"bulkOperation": None}}, []),
        ("mutation { tagsAdd(id: 1, tags: []) { node { id } } }", {"tagsAdd": {"node": {"id": "1"}}}, []),
    ],
)
def test_detects_started_operations(query: str, data: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert [(op.gid, op.type) for op in detect_bulk_operations(query, {"data": data})] == expected


def test_polling_slows_down_to_a_cap() -> None:
    intervals = [poll_interval_seconds(n) for n in range(20)]
    assert intervals[:3] == [20.0, 30.0, 45.0]
    assert intervals == sorted(intervals) and intervals[-1] == 600.0


@pytest.mark.parametrize(("api_version", "limit"), [("2025-10", 1), ("2026-01", 5), ("2026-10", 5)])
async def test_concurrency_limit_follows_the_api_version(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake, api_version: str, limit: int
) -> None:
    """One bulk query at a time before 2026-01, five from 2026-01 (bulk-operations/queries#limitations)."""

    def start() -> Any:
        context = action_context(sqlite_store, sqlite_shop, api_version=api_version)
        return shopify.perform(shopify.validate(START_QUERY), context)

    started = [(await start())["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"] for _ in range(limit)]
    assert len(set(started)) == limit
    with pytest.raises(PermanentActionError) as refused:
        await start()
    assert refused.value.message == (
        "Received a Shopify error (user errors in bulkOperationRunQuery.userErrors): "
        f"A bulk query operation for this app and shop is already in progress: {started[0]}."
    )


TAGGER = """
{% assign line_items = bulkOperation.objects | where: "__typename", "LineItem" %}
{% for line_item in line_items %}
  {% assign order = line_item.__parent %}
  {% assign customer = order.__parent %}
  {% if line_item.sku == "ABC" %}
    {% action "echo", customer: customer.id, email: customer.email, order: order.name %}
  {% endif %}
{% endfor %}
{% assign orders = bulkOperation.objects | where: "__parentId", "gid://shopify/Customer/2" %}
{% assign groups = bulkOperation.objects | in_groups_of: 4, fill_with: false %}
{% log count: bulkOperation.objects.size, groups: groups.size, last_group: groups.last.size, first: bulkOperation.objects.first.id, last: bulkOperation.objects.last.id,
  orders_of_2: orders.size, root_parent: bulkOperation.objects.first.__parent %}
"""


def render_with(objects: Any) -> Any:
    event = {"topic": "mechanic/shopify/bulk_operation", "data": {"status": "COMPLETED", "objects": objects}}
    return render_task(RenderRequest(script=TAGGER, options={}, event=event, task={}, shop={}))


async def test_results_download_index_and_render_lazily(fake: ShopifyFake, tmp_path: Path) -> None:
    op = await _started_operation(fake)
    fake.complete_bulk_operation(op, CUSTOMERS_WITH_ORDERS)
    url = fake.bulk_operations[op].url
    assert url is not None

    await download_results(url, tmp_path)
    assert build_index(tmp_path) == len(CUSTOMERS_WITH_ORDERS)
    with BulkResults(tmp_path) as results:
        lazy = render_with(results.objects)

    assert [a.options for a in lazy.actions] == [
        {"customer": "gid://shopify/Customer/1", "email": "a@example.com", "order": "#11"}
    ]
    assert lazy.logs == [
        {
            "count": 6,
            "groups": 2,
            "last_group": 2,
            "first": "gid://shopify/Customer/1",
            "last": "gid://shopify/LineItem/211",
            "orders_of_2": 1,
            "root_parent": None,
        }
    ]


@pytest.mark.parametrize(
    ("api_version", "argument", "grouped"),
    [("2025-10", "", True), ("2026-10", "", False), ("2026-10", ", groupObjects: true", True)],
)
async def test_parents_resolve_whatever_the_grouping(
    fake: ShopifyFake, tmp_path: Path, api_version: str, argument: str, grouped: bool
) -> None:
    """From 2026-01 `groupObjects` defaults to false and children need not follow their parent."""
    query = START_QUERY.replace('node { __typename id } } } }")', f'node {{ __typename id }} }} }} }}"{argument})')
    op = await _started_operation(fake, api_version, query)
    fake.complete_bulk_operation(op, CUSTOMERS_WITH_ORDERS)
    assert fake.bulk_operations[op].group_objects is grouped
    first_line = json.loads(fake.bulk_operations[op].results.splitlines()[0])
    assert ("__parentId" not in first_line) is grouped
    url = fake.bulk_operations[op].url
    assert url is not None
    await download_results(url, tmp_path)
    build_index(tmp_path)
    with BulkResults(tmp_path) as results:
        rendered = render_with(results.objects)
    assert [a.options for a in rendered.actions] == [
        {"customer": "gid://shopify/Customer/1", "email": "a@example.com", "order": "#11"}
    ]


def test_a_bulk_query_that_does_not_choose_asks_for_grouped_objects() -> None:
    # The nested query string has parentheses and even the word; only the call's own arguments count.
    query = 'mutation { bulkOperationRunQuery(query: "{ orders(query: \\"groupObjects (x)\\") { edges { node { id } } } }") { x } }'
    grouped = with_grouped_objects(query, "2026-10")
    assert grouped == query.replace("bulkOperationRunQuery(", "bulkOperationRunQuery(groupObjects: true, ")
    assert with_grouped_objects(grouped, "2026-10") == grouped
    chosen = query.replace("(query:", "(groupObjects: false, query:")
    assert with_grouped_objects(chosen, "2026-10") == chosen
    block = 'mutation { bulkOperationRunQuery(query: """{ a(b: ")") }""") { x } }'
    assert with_grouped_objects(block, "unstable").count("groupObjects: true") == 1
    # Before 2025-07 the argument does not exist and output is always grouped.
    assert with_grouped_objects(query, "2025-04") == query


async def test_interrupted_download_resumes_where_it_stopped(fake: ShopifyFake, tmp_path: Path) -> None:
    op = await _started_operation(fake)
    fake.complete_bulk_operation(op, CUSTOMERS_WITH_ORDERS)
    content = fake.bulk_operations[op].results
    (tmp_path / PARTIAL_FILE).write_bytes(content[:100])

    url = fake.bulk_operations[op].url
    assert url is not None
    await download_results(url, tmp_path)

    assert (tmp_path / RESULTS_FILE).read_bytes() == content
    assert [r.headers.get("range") for r in fake.result_downloads()] == ["bytes=100-"]


async def _started_operation(fake: ShopifyFake, api_version: str = "2025-10", query: str = START_QUERY) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{fake.base_url}/admin/api/{api_version}/graphql.json",
            json={"query": query},
            headers={"x-shopify-access-token": fake.access_token},
        )
    gid: str = response.json()["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
    return gid
