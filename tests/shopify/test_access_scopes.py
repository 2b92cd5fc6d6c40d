"""The scopes `ratchet shop scopes` asks for: declared, or inferred from topics, reads and writes."""

from __future__ import annotations

import pytest

from ratchet.services.access_scopes import task_scopes
from ratchet.store.tables import Task


@pytest.mark.parametrize(
    ("script", "subscriptions", "scopes"),
    [
        (
            "{% permissions %}\nread_orders, write_products\n{% endpermissions %}{{ shop.customers.size }}",
            [],
            {"read_orders", "write_products"},
        ),
        ('{% action "echo", n: order.name %}', ["shopify/orders/create"], {"read_orders"}),
        ("{{ shop.collections.size }}", ["mechanic/user/trigger"], {"read_products"}),
        (
            '{% action "shopify" %}mutation { productVariantsBulkUpdate(productId: 1) { userErrors { field } } }{% endaction %}',
            ["shopify/customers/create"],
            {"read_customers", "write_products"},
        ),
        (
            '{% action "shopify" %}mutation { tagsAdd(id: "gid://shopify/Customer/1", tags: ["x"]) { node { id } } }{% endaction %}',
            [],
            {"write_customers"},
        ),
        ('{% action "echo", x: 1 %}', ["mechanic/scheduler/daily"], set()),
    ],
)
def test_scopes_are_declared_or_inferred(script: str, subscriptions: list[str], scopes: set[str]) -> None:
    task = Task(id="t", shop_id="s", name="n", script=script, subscriptions=subscriptions)
    assert task_scopes(task) == scopes
