"""Run a task for Shopify resources: what Mechanic's admin action links do, from Ratchet's console or API.

In Mechanic, "Send to Mechanic" on an order (or a selection of orders) in the Shopify admin
makes a `mechanic/user/order` event per order, or one `mechanic/user/orders` event carrying up
to 50 of them, each in its REST representation; only the tasks the user picked receive it
(https://learn.mechanic.dev/core/shopify/admin-action-links). Ratchet has no admin link, so the
user names the resources (ids, or order names such as #1001), or follows a run link in
Mechanic's form (`tasks/run?resource_type=order&ids[]=1`, the console's run-link page), and these
are read from Shopify's REST Admin API through the same client as the Liquid REST lookups.

Products and variants carry only their ids (`id`, `admin_graphql_api_id`), as Mechanic's have
since Shopify's REST deprecations (same page): the task reads the rest over GraphQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ratchet.core.api_versions import effective_api_version
from ratchet.core.subscriptions import RESOURCE_PLURALS, parse_subscriptions
from ratchet.errors import InvalidInput
from ratchet.services.tasks import require_subscribed
from ratchet.shopify.client import ShopifyConfig, ShopifyHTTPError, make_liquid_shopify_callable
from ratchet.store.tables import Shop, Task

# Mechanic's batch events carry at most this many resources (spec: "≤ 50 resources per batch event").
BATCH_LIMIT = 50
MAX_RESOURCES = 250

# Sent as ids only; the GraphQL type names their admin_graphql_api_id.
_IDS_ONLY = {"product": "Product", "variant": "ProductVariant"}
_ID = re.compile(r"^(?:gid://shopify/\w+/)?(\d+)$")


@dataclass(frozen=True)
class ResourceRun:
    """What a task receives for a resource kind: one event per resource, or batches under the plural topic."""

    resource: str
    topic: str
    batch: bool


def resource_run(task: Task, resource: str) -> ResourceRun:
    """The topic a run of `task` for `resource`s sends: the batch topic when the task subscribes to it."""
    if resource not in RESOURCE_PLURALS:
        raise InvalidInput(f"unknown resource {resource!r}: use one of {', '.join(RESOURCE_PLURALS)}")
    topics = {s.topic for s in parse_subscriptions(task.subscriptions or [])}
    batch_topic, single_topic = f"mechanic/user/{RESOURCE_PLURALS[resource]}", f"mechanic/user/{resource}"
    if batch_topic in topics and resource != "collection":
        topic, batch = batch_topic, True
    else:
        topic, batch = single_topic, False
    require_subscribed(task, topic)
    return ResourceRun(resource, topic, batch)


def resource_kinds(task: Task) -> list[str]:
    """The resources the task can be run for (it subscribes to their admin-link topics)."""
    topics = {s.topic for s in parse_subscriptions(task.subscriptions or [])}
    return [r for r, plural in RESOURCE_PLURALS.items() if {f"mechanic/user/{r}", f"mechanic/user/{plural}"} & topics]


def parse_refs(text: str) -> list[str]:
    """Resource references as a user types them: ids or names, separated by commas, spaces or lines."""
    refs = [ref for ref in re.split(r"[\s,]+", text) if ref]
    if not refs:
        raise InvalidInput("name at least one resource (an id, or an order name such as #1001)")
    if len(refs) > MAX_RESOURCES:
        raise InvalidInput(f"at most {MAX_RESOURCES} resources at once")
    return refs


def fetch_resources(config: ShopifyConfig, shop: Shop, task: Task, resource: str, refs: list[str]) -> list[Any]:
    """Each resource's REST representation, in the order given; InvalidInput names any not found (blocking)."""
    if resource in _IDS_ONLY:
        return [_ids_only(resource, ref) for ref in refs]
    api = make_liquid_shopify_callable(
        None, shop, effective_api_version(task.shopify_api_version, shop.shopify_api_version), config=config
    )
    plural = RESOURCE_PLURALS[resource]
    found = []
    for ref in refs:
        found.append(_fetch_one(api, resource, plural, ref))
    return found


def _ids_only(resource: str, ref: str) -> dict[str, Any]:
    match = _ID.match(ref)
    if match is None:
        raise InvalidInput(f"{resource} {ref!r}: give its numeric id")
    number = int(match.group(1))
    return {"id": number, "admin_graphql_api_id": f"gid://shopify/{_IDS_ONLY[resource]}/{number}"}


def _fetch_one(api: Any, resource: str, plural: str, ref: str) -> Any:
    match = _ID.match(ref)
    try:
        if match:
            body, _ = api.rest_get(f"{plural}/{match.group(1)}.json", None)
            return body[resource]
        if resource != "order":
            raise InvalidInput(f"{resource} {ref!r}: give its numeric id")
        # Orders by name: https://shopify.dev/docs/api/admin-rest/latest/resources/order#get-orders
        name = ref if ref.startswith("#") else f"#{ref}"
        body, _ = api.rest_get("orders.json", {"name": name, "status": "any"})
    except ShopifyHTTPError as exc:
        if exc.status_code == 404:
            raise InvalidInput(f"{resource} {ref!r} was not found in the shop") from exc
        raise
    orders = body.get("orders") or []
    if not orders:
        raise InvalidInput(f"order {ref!r} was not found in the shop")
    return orders[0]


def resource_events(run: ResourceRun, resources: list[Any]) -> list[Any]:
    """The data of each event to send: one per resource, or lists of at most 50 for a batch topic."""
    if not run.batch:
        return list(resources)
    return [resources[i : i + BATCH_LIMIT] for i in range(0, len(resources), BATCH_LIMIT)]
