"""flow: start Shopify Flow workflows through a Flow trigger (spec 7.9).

Options: at most one numeric `customer_id` | `order_id` | `product_id` (choosing the Customer,
Order or Product trigger; none = General) plus `user_boolean`, `user_email`, `user_number`,
`user_string`, `user_url`, always sent, with Mechanic's defaults when omitted.

Sent as Shopify's `flowTriggerReceive(handle, payload)` mutation through the shop's Admin API
client. The handles name the Flow trigger extensions of the app whose access token the shop uses
(`FLOW_TRIGGER_HANDLES`); each declares the reference field for its resource (payload key
`customer_id` / `order_id` / `product_id`, Flow's convention) and the five custom fields keyed
exactly like the options. Result: the whole GraphQL response; `userErrors` fail the run.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, register
from ratchet.actions.shopify import perform_graphql

# Resource option -> trigger extension handle (None = the General trigger).
FLOW_TRIGGER_HANDLES: dict[str | None, str] = {
    "customer_id": "mechanic-sent-customer-data",
    "order_id": "mechanic-sent-order-data",
    "product_id": "mechanic-sent-product-data",
    None: "mechanic-sent-general-data",
}

# Mechanic's documented defaults, sent whenever an option is omitted.
USER_DEFAULTS: dict[str, Any] = {
    "user_boolean": False,
    "user_email": "hey@mechanic.invalid",
    "user_number": 0,
    "user_string": "",
    "user_url": "https://mechanic.invalid/",
}

FLOW_TRIGGER_MUTATION = """\
mutation flowTriggerReceive($handle: String, $payload: JSON) {
  flowTriggerReceive(handle: $handle, payload: $payload) {
    userErrors {
      field
      message
    }
  }
}"""

_RESOURCE_OPTIONS = tuple(key for key in FLOW_TRIGGER_HANDLES if key is not None)


def _resource_id(name: str, value: Any) -> int:
    # Mechanic accepts fully numeric ids only, never global ids (gid://shopify/Customer/1).
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    raise ActionOptionsError(name, f"must be a numeric Shopify id (not a global id), got {value!r}")


def _user_value(name: str, value: Any) -> Any:
    if name == "user_boolean":
        if not isinstance(value, bool):
            raise ActionOptionsError(name, f"must be true or false, got {value!r}")
    elif name == "user_number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ActionOptionsError(name, f"must be a number, got {value!r}")
    elif not isinstance(value, str):
        raise ActionOptionsError(name, f"must be a string, got {value!r}")
    elif name == "user_email" and "@" not in value:
        raise ActionOptionsError(name, f"must be an email address, got {value!r}")
    elif name == "user_url" and not value.startswith(("http://", "https://")):
        raise ActionOptionsError(name, f"must be an http(s) URL, got {value!r}")
    return value


class FlowAction:
    type: ClassVar[str] = "flow"

    def validate(self, options: Any) -> dict[str, Any]:
        """Return the flowTriggerReceive variables: {"handle": ..., "payload": {...}}."""
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise ActionOptionsError("options", "must be an object")
        unknown = set(options) - set(_RESOURCE_OPTIONS) - set(USER_DEFAULTS)
        if unknown:
            raise ActionOptionsError("options", f"unknown keys {sorted(unknown)}")
        resources = [key for key in _RESOURCE_OPTIONS if options.get(key) is not None]
        if len(resources) > 1:
            raise ActionOptionsError(resources[1], f"at most one of {', '.join(_RESOURCE_OPTIONS)} may be given")

        payload: dict[str, Any] = {}
        resource = resources[0] if resources else None
        if resource is not None:
            payload[resource] = _resource_id(resource, options[resource])
        for name, default in USER_DEFAULTS.items():
            value = options.get(name)
            payload[name] = default if value is None else _user_value(name, value)
        return {"handle": FLOW_TRIGGER_HANDLES[resource], "payload": payload}

    async def perform(self, options: dict[str, Any], ctx: ActionContext) -> Any:
        return await perform_graphql(ctx, FLOW_TRIGGER_MUTATION, options)


register(FlowAction())
