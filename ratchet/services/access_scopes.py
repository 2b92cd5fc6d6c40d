"""The access scopes a shop's enabled tasks need: what to grant the app in the Dev Dashboard.

Mechanic infers a task's scopes from its subscriptions, its Shopify reads and its actions, unless
the task declares them in one `{% permissions %}` block (spec 1.2). Here:

* a `{% permissions %}` block is taken as the task's whole declaration;
* otherwise each `shopify/{resource}/…` subscription needs the resource's read scope (Shopify lists
  the scope each webhook topic requires: https://shopify.dev/docs/api/webhooks?reference=graphql);
* and the script's Admin API words decide the rest: a read of a resource (GraphQL root field or
  REST lookup such as `shop.orders`) needs `read_…`, a mutation of it (`orderUpdate`, `tagsAdd`
  on a `gid://shopify/Order/…`) needs `write_…`
  (https://shopify.dev/docs/api/usage/access-scopes#authenticated-access-scopes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlmodel import col, select

from ratchet.errors import RatchetError
from ratchet.liquid.render import parse_template
from ratchet.services.shops import require_shop
from ratchet.store.database import Store
from ratchet.store.tables import Task

# Resource word (webhook topic resource, GraphQL root field stem, REST lookup) → the scope's resource.
_RESOURCE_SCOPES = {
    "order": "orders",
    "orders": "orders",
    "refunds": "orders",
    "order_transactions": "orders",
    "checkouts": "orders",
    "draftorder": "draft_orders",
    "draft_orders": "draft_orders",
    "customer": "customers",
    "customers": "customers",
    "customer_groups": "customers",
    "product": "products",
    "products": "products",
    "productvariant": "products",
    "collection": "products",
    "collections": "products",
    "product_listings": "product_listings",
    "inventoryitem": "inventory",
    "inventorylevel": "inventory",
    "inventory_items": "inventory",
    "inventory_levels": "inventory",
    "location": "locations",
    "locations": "locations",
    "fulfillment": "fulfillments",
    "fulfillments": "fulfillments",
    "fulfillmentorder": "assigned_fulfillment_orders",
    "fulfillment_orders": "assigned_fulfillment_orders",
    "themes": "themes",
    "discount": "discounts",
}
_WORD = re.compile(
    r"\b(order|draftOrder|customer|product|productVariant|collection|inventoryItem|inventoryLevel|location|"
    r"fulfillment|fulfillmentOrder|discount)(s?)(?:Bulk)?(Create|Update|Delete|Set|Add|Remove|Adjust|Close|Open|"
    r"Cancel|Activate|Move|Merge|Capture|Complete|\b)",
    re.IGNORECASE,
)
_GID = re.compile(r"gid://shopify/(Order|DraftOrder|Customer|Product|ProductVariant|Collection|Location)/")
_TAG_OR_METAFIELD_WRITE = re.compile(r"\b(tagsAdd|tagsRemove|metafieldsSet|metafieldsDelete)\b")


def task_scopes(task: Task) -> set[str]:
    """The scopes one task needs (see the module docstring)."""
    try:
        declared = parse_template(task.script).permissions
    except RatchetError:
        declared = ()
    if declared:
        return set(declared)
    needed = {f"read_{scope}" for topic in task.subscriptions if (scope := _topic_scope(topic))}
    for match in _WORD.finditer(task.script):
        resource = _RESOURCE_SCOPES.get(match.group(1).lower())
        if resource:
            needed.add(f"{'read' if match.group(3) == '' else 'write'}_{resource}")
    if _TAG_OR_METAFIELD_WRITE.search(task.script):
        for gid in _GID.finditer(task.script):
            resource = _RESOURCE_SCOPES.get(gid.group(1).lower())
            if resource:
                needed.add(f"write_{resource}")
    return set(_without_implied(needed))


def _topic_scope(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "shopify":
        return None
    return _RESOURCE_SCOPES.get(parts[1])


def needed_scopes(store: Store, shop_id: str) -> list[str]:
    """The union over the shop's enabled tasks; a write scope makes its read scope redundant."""
    with store.session() as session:
        require_shop(session, shop_id)
        enabled = list(session.exec(select(Task).where(col(Task.shop_id) == shop_id, col(Task.enabled).is_(True))))
    return _without_implied(scope for task in enabled for scope in task_scopes(task))


def _without_implied(scopes: Iterable[str]) -> list[str]:
    wanted = set(scopes)
    # Shopify grants read access with every write scope (write_orders implies read_orders).
    return sorted(s for s in wanted if not (s.startswith("read_") and "write_" + s.removeprefix("read_") in wanted))
