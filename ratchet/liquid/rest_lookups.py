"""Mechanic's REST-era Liquid lookups, loaded lazily from the REST Admin API.

Mechanic still serves `shop.orders`, `shop.orders[id]`, `shop.orders.any.cancelled`,
`shop.customers[id or email]`, `shop.draft_orders[id or status]`, `shop.locations`,
`shop.collections[id]`, `order.reload`, `order.customer.reload`, `customer.orders.any`,
`fulfillment.order`, and `<resource>.metafields.<namespace>.<key>` (spec 6.2: deprecated, but
43 library tasks use them). Each is a Shopify REST call made only when the template touches it,
through the run's Shopify client (same API version, throttle waits and failure rules as the
`shopify` filter), and only on routes Shopify documents (https://shopify.dev/docs/api/admin-rest):

    shop.orders                 orders.json, orders/count.json, orders/{id}.json        (resources/order)
    shop.customers              customers.json, …/count.json, …/{id}.json, …/search.json (resources/customer)
    customer.orders             customers/{id}/orders.json                             (resources/customer)
    shop.draft_orders           draft_orders.json, …/count.json, …/{id}.json            (resources/draftorder)
    shop.locations              locations.json, …/count.json, …/{id}.json               (resources/location)
    shop.collections            custom_collections.json + smart_collections.json, their count.json;
                                collections/{id}.json                                  (resources/customcollection,
                                                                                        smartcollection, collection)
    fulfillment.reload          orders/{order_id}/fulfillments/{id}.json                (resources/fulfillment)
    <owner>.metafields          {owner}/{id}/metafields.json for the owners REST has: shop, orders, customers,
                                draft_orders, collections                              (resources/metafield)

A lookup with no REST route (`location.metafields`, `fulfillment.metafields`) and the products
and variants Shopify removed from REST on 2025-02-01 fail the run naming the GraphQL
alternative, never answering a silent nil.

Resources are dicts (their payload) whose missing keys load lazily; lists are sequences that
page through Shopify (250 a page) as a `for` loop walks them, and that every array filter takes
as an array (ratchet/liquid/environment.py). In preview, or without a Shopify connection,
nothing is fetched: lists are empty, single lookups nil and `reload` keeps the event's data, so
previews of library tasks render their stubs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from liquid.exceptions import LiquidError
from liquid.token import Token

from .errors import ShopifyReadError

PAGE_SIZE = 250


# GET a path under the run's API version: (body, the next page's query parameters or None).
RestGet = Callable[[str, Mapping[str, Any] | None], tuple[Any, dict[str, str] | None]]


class NoRestRoute(LiquidError):
    """A lookup Shopify's REST Admin API has no route for (any more); the message names the GraphQL way."""


# REST path of each resource kind, and the response's wrapper key for one of them.
_PLURALS = {
    "order": "orders",
    "customer": "customers",
    "draft_order": "draft_orders",
    "location": "locations",
    "collection": "collections",
    "fulfillment": "fulfillments",
}
_REMOVED = {
    "product": "products",
    "variant": "variants",
}
_GRAPHQL_FOR_REMOVED = {
    "products": "`product(id: …)` or `products(query: …)`",
    "variants": "`productVariant(id: …)` or `productVariants(query: …)`",
}
# The list routes behind each list: collections are two REST resources, custom and smart.
_LIST_ROUTES = {
    "orders": ("orders",),
    "customers": ("customers",),
    "draft_orders": ("draft_orders",),
    "locations": ("locations",),
    "collections": ("custom_collections", "smart_collections"),
}
# Resources REST keeps metafields for (resources/metafield, "Resources that can have metafields").
_METAFIELD_OWNERS = {"shop", "order", "customer", "draft_order", "collection"}
_GRAPHQL_METAFIELDS = {
    "location": "`location(id: …) { metafields(first: …) { nodes { namespace key value } } }`",
    "fulfillment": "the order's or fulfillment order's metafields, `order(id: …) { metafields(first: …) { … } }`",
}
# Hashes inside a payload that are resources themselves (`order.customer.reload`).
_NESTED = {"order": {"customer": "customer"}, "draft_order": {"customer": "customer"}}
# Words that narrow a list, by the REST query parameter they set (`shop.orders.any.cancelled`).
_FILTERS = {
    "orders": {
        **dict.fromkeys(("open", "closed", "cancelled", "any"), "status"),
        **dict.fromkeys(("shipped", "partial", "unshipped", "unfulfilled"), "fulfillment_status"),
        **dict.fromkeys(
            ("authorized", "pending", "paid", "partially_paid", "refunded", "voided", "partially_refunded", "unpaid"),
            "financial_status",
        ),
    },
    "draft_orders": dict.fromkeys(("open", "invoice_sent", "completed"), "status"),
    "customers": {},
    "locations": {},
    "collections": {},
}


def removed_error(plural: str, lookup: str) -> NoRestRoute:
    return NoRestRoute(
        f"{lookup}: Shopify removed {plural} from the REST Admin API on 2025-02-01; read them with the "
        f"shopify filter and GraphQL instead ({_GRAPHQL_FOR_REMOVED[plural]})",
        token=None,
    )


def no_metafields_error(kind: str) -> NoRestRoute:
    alternative = _GRAPHQL_METAFIELDS.get(kind, "its `metafields` field")
    return NoRestRoute(
        f"{kind}.metafields: Shopify's REST Admin API keeps no metafields for a {kind}; read them with the "
        f"shopify filter and GraphQL instead ({alternative})",
        token=None,
    )


class RestSource:
    """The run's REST reader (None in preview or without a Shopify connection)."""

    def __init__(self, reader: RestGet | None) -> None:
        self.reader = reader

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, str] | None]:
        assert self.reader is not None
        try:
            return self.reader(path, params)
        except LiquidError:
            raise
        except Exception as exc:
            # Same rules as the `shopify` filter: the run's error names the lookup's line.
            raise ShopifyReadError(exc) from exc


def _legacy_id(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("gid://"):
        return value.rsplit("/", 1)[-1]
    return value


class Resource(dict[str, Any]):
    """One REST resource: its payload, plus the lookups Mechanic adds (`reload`, `metafields`, ...)."""

    def __init__(self, kind: str, data: Mapping[str, Any], source: RestSource) -> None:
        super().__init__(data)
        self.kind = kind
        self.source = source

    def __getitem__(self, key: str) -> Any:
        try:
            value = super().__getitem__(key)
        except KeyError:
            return self._lazy(key)
        nested = _NESTED.get(self.kind, {}).get(key)
        if nested is not None and type(value) is dict:
            value = Resource(nested, value, self.source)
            dict.__setitem__(self, key, value)
        return value

    def _path(self) -> str | None:
        resource_id = _legacy_id(self.get("id"))
        if resource_id is None:
            return None
        if self.kind == "fulfillment":
            return f"orders/{self.get('order_id')}/fulfillments/{resource_id}"
        return f"{_PLURALS[self.kind]}/{resource_id}"

    def _lazy(self, key: str) -> Any:
        if self.kind in _REMOVED and key in ("reload", "metafields"):
            raise removed_error(_REMOVED[self.kind], f"{self.kind}.{key}")
        if key == "reload":
            return self._reload()
        if key == "metafields":
            return self._metafields()
        if self.kind == "customer" and key == "orders" and self.get("id") is not None:
            return RestList("orders", self.source, under=f"customers/{_legacy_id(self['id'])}")
        if self.kind == "fulfillment" and key == "order" and self.get("order_id") is not None:
            return fetch_one(self.source, "order", f"orders/{self['order_id']}")
        raise KeyError(key)

    def _reload(self) -> Any:
        path = self._path()
        if self.source.reader is None or path is None:
            return self
        return fetch_one(self.source, self.kind, path)

    def _metafields(self) -> Any:
        if self.kind not in _METAFIELD_OWNERS:
            raise no_metafields_error(self.kind)
        path = self._path()
        if self.source.reader is None or path is None:
            return {}
        return metafields(self.source, f"{path}/metafields.json")


class Shop(Resource):
    """The Liquid `shop`: Shopify's snapshot, plus its REST lists."""

    def __init__(self, data: Mapping[str, Any], source: RestSource) -> None:
        super().__init__("shop", data, source)

    def _lazy(self, key: str) -> Any:
        if key in _FILTERS:
            return RestList(key, self.source)
        if key in _GRAPHQL_FOR_REMOVED:
            raise removed_error(key, f"shop.{key}")
        if key == "metafields":
            return {} if self.source.reader is None else metafields(self.source, "metafields.json")
        raise KeyError(key)


def fetch_one(source: RestSource, kind: str, path: str) -> Resource | None:
    if source.reader is None:
        return None
    body, _ = source.get(f"{path}.json")
    data = body.get(kind) if isinstance(body, dict) else None
    return Resource(kind, data, source) if isinstance(data, dict) else None


def metafields(source: RestSource, path: str) -> dict[str, dict[str, Any]]:
    """`metafields.<namespace>.<key>` -> value (JSON-typed values parsed), all pages."""
    found: dict[str, dict[str, Any]] = {}
    params: Mapping[str, Any] | None = {"limit": PAGE_SIZE}
    while params is not None:
        body, params = source.get(path, params)
        for field in (body or {}).get("metafields") or []:
            value = field.get("value")
            if str(field.get("type") or field.get("value_type") or "").startswith("json") and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            found.setdefault(str(field.get("namespace")), {})[str(field.get("key"))] = value
    return found


class RestList(Sequence[Any]):
    """A REST list (`shop.orders.open`): filtered by words, indexed by id, paged as it is walked.

    `under` nests the list below its owner (`customers/{id}` for `customer.orders`); such a list
    has no count route, so its size is counted by walking it.
    """

    def __init__(
        self, plural: str, source: RestSource, params: Mapping[str, Any] | None = None, *, under: str | None = None
    ) -> None:
        self.plural = plural
        self.kind = next(kind for kind, name in _PLURALS.items() if name == plural)
        self.source = source
        self.params = dict(params or {})
        self.under = under
        # The Liquid expression's token, so that paging errors name its line (set by the render context).
        self.token: Token | None = None

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and key in _FILTERS[self.plural]:
            narrowed = RestList(
                self.plural, self.source, {**self.params, _FILTERS[self.plural][key]: key}, under=self.under
            )
            narrowed.token = self.token
            return narrowed
        if key in ("size", "count"):
            return len(self)
        if key == "first":
            return next(iter(self), None)
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            return self._stamped(fetch_one, self.source, self.kind, f"{self.plural}/{key}")
        if self.plural == "customers" and isinstance(key, str) and "@" in key:
            return self._stamped(self._customer_by_email, key)
        raise KeyError(key)

    def _routes(self) -> tuple[str, ...]:
        if self.under is not None:
            return (f"{self.under}/{self.plural}",)
        return _LIST_ROUTES[self.plural]

    def _customer_by_email(self, email: str) -> Resource | None:
        if self.source.reader is None:
            return None
        body, _ = self.source.get("customers/search.json", {"query": f"email:{json.dumps(email)}", "limit": 1})
        found = (body or {}).get("customers") or []
        return Resource("customer", found[0], self.source) if found else None

    def __len__(self) -> int:
        if self.source.reader is None:
            return 0
        if self.under is not None:
            return sum(1 for _ in self)
        total = 0
        for route in self._routes():
            body, _ = self._stamped(self.source.get, f"{route}/count.json", self.params)
            total += int((body or {}).get("count") or 0)
        return total

    def __iter__(self) -> Iterator[Resource]:
        if self.source.reader is None:
            return
        for route in self._routes():
            wrapper = route.rsplit("/", 1)[-1]
            params: Mapping[str, Any] | None = {**self.params, "limit": PAGE_SIZE}
            while params is not None:
                body, next_page = self._stamped(self.source.get, f"{route}.json", params)
                # Shopify's next-page link carries only page_info and limit; filters ride in page_info.
                params = next_page
                for item in (body or {}).get(wrapper) or []:
                    yield Resource(self.kind, item, self.source)

    def _stamped(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except LiquidError as err:
            if err.token is None:
                err.token = self.token
            raise


def wrap_subject(name: str, data: Any, source: RestSource) -> Any:
    """The topic's subject variable with its REST lookups (`order.reload`), when it is a REST resource."""
    if type(data) is dict and (name in _PLURALS or name in _REMOVED):
        return Resource(name, data, source)
    return data
