"""Bulk operations end to end: run button → bulk query → completion → the same task acts on the objects.

Everything is real: the Temporal dev server, the worker, SQLite, the ingress receiving Shopify's
`bulk_operations/finish` webhook, and the Shopify fake running the operation and serving its
JSONL result file.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.bulk_operations import BulkOperationActivities
from activities.runs import RunActivities
from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.contract import REPORT_BULK_OPERATION, BulkOperationRef
from ratchet.services.bulk_operations import render_objects
from ratchet.services.status import ledger_status
from ratchet.shopify.bulk_results import ResultsUnavailable
from ratchet.store.database import Store
from ratchet.store.tables import BulkOperation, Event
from starter.api import Ratchet
from tests.support.engine import TIME_SCALE
from tests.support.ingress import SHOPIFY_SECRET, Ingress
from tests.support.shopify_fake import FakeBulkOperation, ShopifyFake
from tests.support.tasks import add_task
from tests.support.waiting import child_events, eventually, of_kind, settled, wait_for_children, wait_for_runs
from worker import WORKFLOW_RUNNER, build_services, build_worker
from workflows.bulk_operations import BulkOperationWorkflow
from workflows.event import EventWorkflow

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tasks"
LIBRARY_TASK = CORPUS / "auto-tag-customers-upon-product-purchase.json"

PRODUCTS_QUERY = """
{% if event.topic == "mechanic/user/trigger" %}
  {% action "shopify" %}
    mutation {
      bulkOperationRunQuery(query: "{ products { edges { node { __typename id } } } }") {
        bulkOperation { id status }
        userErrors { field message }
      }
    }
  {% endaction %}
{% elsif event.topic == "mechanic/shopify/bulk_operation" %}
  {% action "echo", status: bulkOperation.status, error: bulkOperation.errorCode, type: bulkOperation.type,
    count: bulkOperation.objects.size, first: bulkOperation.objects.first.id %}
{% endif %}
"""
PRODUCTS = [
    {"__typename": "Product", "id": "gid://shopify/Product/1"},
    {"__typename": "Product", "id": "gid://shopify/Product/2"},
]


def customer(number: int, tags: list[str]) -> dict[str, Any]:
    return {
        "__typename": "Customer",
        "id": f"gid://shopify/Customer/{number}",
        "defaultEmailAddress": {"emailAddress": f"c{number}@example.com"},
        "tags": tags,
    }


def order(number: int, customer_number: int) -> dict[str, Any]:
    return {
        "__typename": "Order",
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "__parentId": f"gid://shopify/Customer/{customer_number}",
    }


def line_item(number: int, order_number: int, variant: str | None) -> dict[str, Any]:
    return {
        "__typename": "LineItem",
        "id": f"gid://shopify/LineItem/{number}",
        "resource": {"legacyResourceId": variant, "displayName": f"Variant {variant}"} if variant else None,
        "__parentId": f"gid://shopify/Order/{order_number}",
    }


# Bought variant 111 (the one the task's search finds): customers 1, 3 (already tagged) and 4 (twice).
PURCHASES = [
    customer(1, []),
    order(10, 1),
    line_item(100, 10, "111"),
    customer(2, []),
    order(20, 2),
    line_item(200, 20, "999"),
    line_item(201, 20, None),
    customer(3, ["bought-widget"]),
    order(30, 3),
    line_item(300, 30, "111"),
    customer(4, ["vip"]),
    order(40, 4),
    line_item(400, 40, "111"),
    order(41, 4),
    line_item(410, 41, "111"),
]


async def connect_shop(api: Ratchet, fake: ShopifyFake) -> None:
    fake.reset(time_scale=TIME_SCALE)
    await api.shops.set(
        api.settings.shop,
        shopify_domain=fake.base_url,
        access_token=fake.access_token,
        webhook_secret=SHOPIFY_SECRET,
    )


async def started_operation(fake: ShopifyFake) -> FakeBulkOperation:
    async def running() -> list[FakeBulkOperation]:
        return fake.running_bulk_operations()

    (operation,) = await eventually(running)
    return operation


async def send_finish_webhook(fake: ShopifyFake, ingress: Ingress, shop_id: str, gid: str) -> None:
    response = await asyncio.to_thread(
        fake.send_bulk_finish_webhook, gid, f"{ingress.url}/webhooks/shopify/{shop_id}", SHOPIFY_SECRET
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"bulk_operation": gid}


def operation_row(store: Store, shop_id: str) -> BulkOperation:
    with store.session() as session:
        (row,) = session.exec(select(BulkOperation).where(BulkOperation.shop_id == shop_id))
        return row


async def test_library_task_tags_exactly_the_right_customers(
    api: Ratchet, shopify_fake_server: ShopifyFake, ingress: Ingress
) -> None:
    fake = shopify_fake_server
    await connect_shop(api, fake)
    # The task's own search (the `shopify` filter, every render) finds variant 111.
    fake.on_graphql(
        "resources: productVariants",
        {
            "resources": {
                "pageInfo": {"hasNextPage": False, "endCursor": None},
                "nodes": [{"id": "gid://shopify/ProductVariant/111", "legacyResourceId": "111", "displayName": "W"}],
            }
        },
    )
    fake.on_graphql("tagsAdd", {"tagsAdd": {"userErrors": []}})
    export = json.loads(LIBRARY_TASK.read_text())
    export["options"] = {
        "search_query__required": "sku:WIDGET",
        "search_for__choice_o1_products_o2_variants_required": "variants",
        "customer_tags_to_apply__required_array": ["bought-widget"],
        "test_mode__boolean": False,
    }
    task = (await api.tasks.import_(export)).task
    assert task.enabled

    trigger = await api.tasks.run(task.name)
    (start_action,) = of_kind(await wait_for_runs(api, trigger, settled(1)), RunKind.action)
    operation = await started_operation(fake)

    async def shown_operations() -> list[dict[str, Any]]:
        return (await api.runs.get(start_action.id)).bulk_operations

    # The run shows Succeeded a moment before its bulk operation is recorded (tracking follows
    # the success record), so under load the first read can come in between.
    shown = await eventually(shown_operations)
    assert [(op["id"], op["type"]) for op in shown] == [(operation.gid, "QUERY")]
    assert shown[0]["status"] in ("CREATED", "RUNNING")  # RUNNING once the monitor has looked
    running = ledger_status(api.store, api.settings.shop)["bulk_operations"]
    assert [op["id"] for op in running] == [operation.gid]

    fake.complete_bulk_operation(operation.gid, PURCHASES)
    await send_finish_webhook(fake, ingress, api.settings.shop, operation.gid)

    (bulk_event,) = await wait_for_children(api, trigger, BULK_OPERATION_TOPIC)
    runs = await wait_for_runs(api, bulk_event.id, settled(2))
    assert [r.state for r in runs] == [RunState.succeeded] * len(runs)
    assert {r.task_id for r in of_kind(runs, RunKind.task)} == {task.id}
    tagged = [
        re.search(r'id: "(gid://shopify/Customer/\d+)"', str(r.json["query"])).group(1)  # type: ignore[union-attr]  # every tagsAdd names its customer
        for r in fake.requests
        if isinstance(r.json, dict) and "tagsAdd" in str(r.json.get("query"))
    ]
    assert sorted(tagged) == ["gid://shopify/Customer/1", "gid://shopify/Customer/4"]

    # The event carries the attributes; the objects stay in the result file.
    assert bulk_event.data["id"] == operation.gid
    assert (bulk_event.data["status"], bulk_event.data["type"], bulk_event.data["objectCount"]) == (
        "COMPLETED",
        "QUERY",
        str(len(PURCHASES)),
    )
    assert "objects" not in bulk_event.data
    # A redelivered webhook changes nothing: still one event, and nothing left running.
    await send_finish_webhook(fake, ingress, api.settings.shop, operation.gid)
    assert len(child_events(api, trigger, BULK_OPERATION_TOPIC)) == 1
    assert ledger_status(api.store, api.settings.shop)["bulk_operations"] == []
    shown = (await api.runs.get(start_action.id)).bulk_operations
    assert [(op["status"], op["object_count"], op["report_event_id"]) for op in shown] == [
        ("COMPLETED", len(PURCHASES), bulk_event.id)
    ]


async def test_webhook_before_the_action_run_records_the_operation(
    api: Ratchet, shopify_fake_server: ShopifyFake, ingress: Ingress
) -> None:
    fake = shopify_fake_server
    await connect_shop(api, fake)
    # The fake holds its answer to the start mutation until the operation has finished and
    # Shopify's webhook has been delivered: the monitor starts from the webhook.
    fake.bulk_start_gate = threading.Event()
    task = await add_task(api, "Products", PRODUCTS_QUERY, ["mechanic/user/trigger", BULK_OPERATION_TOPIC])
    trigger = await api.tasks.run(task.name)
    operation = await started_operation(fake)
    fake.complete_bulk_operation(operation.gid, PRODUCTS)
    await send_finish_webhook(fake, ingress, api.settings.shop, operation.gid)
    fake.bulk_start_gate.set()

    (bulk_event,) = await wait_for_children(api, trigger, BULK_OPERATION_TOPIC)
    (echo,) = of_kind(await wait_for_runs(api, bulk_event.id, settled(1)), RunKind.action)
    assert (await api.runs.get(echo.id)).result == {
        "status": "COMPLETED",
        "error": None,
        "type": "QUERY",
        "count": 2,
        "first": "gid://shopify/Product/1",
    }
    assert len(child_events(api, trigger, BULK_OPERATION_TOPIC)) == 1

    # When the retention window ends the file goes; a late render says why instead of seeing nothing.
    service = build_services(api.settings, api.store, api.client).bulk_operations
    await service.delete_results(api.settings.shop, operation.gid)
    assert not service.results_directory(api.settings.shop, operation.gid).exists()
    with (
        pytest.raises(ResultsUnavailable, match="deleted after the retention window"),
        render_objects(api.settings, api.store, bulk_event),
    ):
        pass


async def test_polling_reports_a_failed_operation_without_a_webhook(
    api: Ratchet, shopify_fake_server: ShopifyFake
) -> None:
    fake = shopify_fake_server
    await connect_shop(api, fake)
    task = await add_task(api, "Products", PRODUCTS_QUERY, ["mechanic/user/trigger", BULK_OPERATION_TOPIC])
    trigger = await api.tasks.run(task.name)
    operation = await started_operation(fake)
    fake.fail_bulk_operation(operation.gid, "ACCESS_DENIED")

    (bulk_event,) = await wait_for_children(api, trigger, BULK_OPERATION_TOPIC)
    (echo,) = of_kind(await wait_for_runs(api, bulk_event.id, settled(1)), RunKind.action)
    assert (await api.runs.get(echo.id)).result == {
        "status": "FAILED",
        "error": "ACCESS_DENIED",
        "type": "QUERY",
        "count": 0,
        "first": None,
    }
    assert not any(r.path.startswith("/bulk-results/") for r in fake.requests)


async def test_the_concurrency_limit_fails_the_second_start(api: Ratchet, shopify_fake_server: ShopifyFake) -> None:
    fake = shopify_fake_server
    await connect_shop(api, fake)
    # Before API 2026-01 Shopify runs one bulk query per shop at a time.
    task = await add_task(
        api,
        "Products",
        PRODUCTS_QUERY,
        ["mechanic/user/trigger", BULK_OPERATION_TOPIC],
        shopify_api_version="2025-10",
    )
    first = await api.tasks.run(task.name)
    await wait_for_runs(api, first, settled(1))
    operation = await started_operation(fake)

    second = await api.tasks.run(task.name)
    (refused,) = of_kind(await wait_for_runs(api, second, settled(1)), RunKind.action)
    assert refused.state == RunState.failed and refused.attempts == 1
    # A failed action run keeps the statistics of the Shopify call it made.
    refused_meta = (await api.runs.get(refused.id)).result_meta
    assert refused_meta["shopify_admin_graphql_api_requests_count"] == 1
    assert refused.error == (
        "Received a Shopify error (user errors in bulkOperationRunQuery.userErrors): "
        f"A bulk query operation for this app and shop is already in progress: {operation.gid}."
    )
    assert [op["id"] for op in ledger_status(api.store, api.settings.shop)["bulk_operations"]] == [operation.gid]

    # The operation that did start still reports back (and its monitor stops polling the fake).
    fake.complete_bulk_operation(operation.gid, PRODUCTS)
    (bulk_event,) = await wait_for_children(api, first, BULK_OPERATION_TOPIC)
    await wait_for_runs(api, bulk_event.id, settled(1))


@pytest.mark.parametrize("event_created_before_crash", [False, True], ids=["before-event", "after-event"])
async def test_a_crash_while_reporting_still_gives_one_event(
    api: Ratchet, client: Client, store: Store, shopify_fake_server: ShopifyFake, event_created_before_crash: bool
) -> None:
    fake = shopify_fake_server
    queue = f"bulk-crash-{uuid.uuid4().hex[:8]}"
    local = Ratchet(api.settings.updated(temporal={"task_queue": queue}), api.store, api.client)
    await connect_shop(local, fake)
    task = await add_task(local, "Products", PRODUCTS_QUERY, ["mechanic/user/trigger", BULK_OPERATION_TOPIC])

    # A worker that dies while reporting: before creating the event, or after creating it but
    # before its activity could tell the workflow.
    services = build_services(local.settings, store, client)
    crashed = asyncio.Event()

    @activity.defn(name=REPORT_BULK_OPERATION)
    async def crashing_report(ref: BulkOperationRef) -> str:
        if event_created_before_crash:
            await services.bulk_operations.report(ref.shop_id, ref.gid)
        crashed.set()
        raise RuntimeError("worker crashed while reporting")

    monitor = BulkOperationActivities(services.bulk_operations)
    crashing_worker = Worker(
        client,
        task_queue=queue,
        workflows=[EventWorkflow, BulkOperationWorkflow],
        activities=[
            *RunActivities(local.settings, services.perform).all(),
            monitor.check,
            monitor.collect,
            crashing_report,
        ],
        workflow_runner=WORKFLOW_RUNNER,
    )
    async with crashing_worker:
        trigger = await local.tasks.run(task.name)
        operation = await started_operation(fake)
        fake.complete_bulk_operation(operation.gid, PRODUCTS)
        await asyncio.wait_for(crashed.wait(), timeout=60)
    assert len(child_events(local, trigger, BULK_OPERATION_TOPIC)) == (1 if event_created_before_crash else 0)

    async with build_worker(client, local.settings, store):
        (bulk_event,) = await wait_for_children(local, trigger, BULK_OPERATION_TOPIC)
        runs = await wait_for_runs(local, bulk_event.id, settled(1))

        async def reported() -> bool:
            return operation_row(store, local.settings.shop).report_event_id == bulk_event.id

        await eventually(reported)
    assert len(child_events(local, trigger, BULK_OPERATION_TOPIC)) == 1
    assert len(of_kind(runs, RunKind.task)) == 1
    with store.session() as session:
        events = session.exec(select(Event).where(Event.shop_id == local.settings.shop))
        assert sorted(e.topic for e in events) == [BULK_OPERATION_TOPIC, "mechanic/user/trigger"]
