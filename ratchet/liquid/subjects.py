"""The topic's subject variable (spec 2.7): `shopify/orders/create` -> `order`."""

from __future__ import annotations

_MECHANIC_SUBJECTS = {
    "mechanic/actions/perform": "action",
    "mechanic/shopify/bulk_operation": "bulkOperation",
    "mechanic/emails/received": "email",
    "mechanic/user/form": "input",
}
# mechanic/user/<resource> (admin links): one resource, or a batch under the plural.
_USER_RESOURCES = frozenset({"customer", "order", "draft_order", "product", "variant", "collection"})
_USER_BATCHES = frozenset({"customers", "orders", "draft_orders", "products", "variants"})


def singularize(word: str) -> str:
    """Singular of a Shopify webhook subject (`inventory_levels` -> `inventory_level`)."""
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def subject_variable(topic: str, shopify_topic: str | None = None) -> str | None:
    """Name of the extra variable holding `event.data`, or None for this topic."""
    parts = topic.split("/")
    if len(parts) != 3:
        return None
    domain, subject, _verb = parts
    if domain == "shopify":
        return singularize(subject)
    if domain == "mechanic":
        if topic in _MECHANIC_SUBJECTS:
            return _MECHANIC_SUBJECTS[topic]
        if subject == "errors":
            return "error"
        if subject == "user" and (_verb in _USER_RESOURCES or _verb in _USER_BATCHES):
            return _verb
        return None
    if shopify_topic:
        # Custom Shopify webhooks deliver user/... events with the source topic.
        return subject_variable(shopify_topic if shopify_topic.startswith("shopify/") else f"shopify/{shopify_topic}")
    return None
