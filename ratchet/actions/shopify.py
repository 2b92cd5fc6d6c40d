"""shopify: a GraphQL query/mutation, or one of Mechanic's older REST forms (spec 7.1).

Options:
    "mutation { ... }"                                         GraphQL text
    {"query": "...", "variables": {...}}                       GraphQL with variables
    ["create", "customer", {attrs}]                            POST   .../customers.json  {"customer": attrs}
    ["update", ["order", 123], {attrs}]                        PUT    .../orders/123.json {"order": attrs}
    ["delete", ["product", 123]]                               DELETE .../products/123.json
    ["get"|"post"|"put"|"delete", "/admin/api/…/x.json", {…}]  explicit path, body sent as given
                                                               (query parameters for get)
Resourceful forms address nested resources too: ["create", ["customer", 1, "address"], {...}],
["update", ["customer", 1, "address", 2], {...}]; the wrapper key is the last resource name.

A `bulkOperationRunQuery` that does not choose `groupObjects` asks for grouped output, the order
Mechanic's tasks were written against (see `core/bulk_operations.py`).

Result: the whole GraphQL response, or the REST response body. Failure classes: transport
errors and 5xx are transient; top-level GraphQL `errors`, any non-empty `userErrors` in `data`
and REST 4xx are permanent; THROTTLED/429 raise `ShopifyThrottled` for the engine to wait out.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from ratchet.actions.base import (
    ActionContext,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    register,
)
from ratchet.core.bulk_operations import with_grouped_objects
from ratchet.shopify.client import (
    AsyncShopifyClient,
    ShopifyConfig,
    ShopifyConfigurationError,
    ShopifyHTTPError,
    ShopifyTransportError,
    ShopTarget,
)

# Spec 0: Mechanic's limit on query text, whitespace excluded (larger inputs belong in variables).
MAX_QUERY_CHARS = 50_000

MAX_ERROR_DETAIL_CHARS = 1000

# Rails' names for the HTTP statuses, as Mechanic's messages show them
# ("Received a Shopify error (resource invalid): ...").
_REST_ERROR_NAMES: dict[int, str] = {
    400: "bad request",
    401: "unauthorized access",
    402: "payment required",
    403: "forbidden",
    404: "resource not found",
    405: "method not allowed",
    406: "not acceptable",
    409: "resource conflict",
    410: "resource gone",
    415: "unsupported media type",
    422: "resource invalid",
    423: "locked",
}

_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any] | None = None


@dataclass(frozen=True)
class RestRequest:
    method: str
    # Either a full explicit path, or a path relative to /admin/api/{version}/ (resourceful forms,
    # which take the task's API version).
    path: str
    versioned: bool
    json: Any = None
    params: dict[str, Any] | None = None

    def url_path(self, api_version: str) -> str:
        return f"/admin/api/{api_version}/{self.path}" if self.versioned else self.path


# -- validation ---------------------------------------------------------------------------------------


def _validate_graphql(query: Any, variables: Any) -> GraphQLRequest:
    if not isinstance(query, str) or not query.strip():
        raise ActionOptionsError("query", "must be a non-empty GraphQL string")
    if len("".join(query.split())) > MAX_QUERY_CHARS:
        raise ActionOptionsError("query", f"exceeds {MAX_QUERY_CHARS:,} characters; pass large inputs as variables")
    if variables is not None and not isinstance(variables, dict):
        raise ActionOptionsError("variables", "must be an object")
    return GraphQLRequest(query=query, variables=variables)


def _plural(name: str) -> str:
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


def _resource_id(value: Any, field_name: str) -> int:
    if isinstance(value, bool):
        raise ActionOptionsError(field_name, f"resource id must be numeric, got {value!r}")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    raise ActionOptionsError(field_name, f"resource id must be a positive number, got {value!r}")


def _resource_path(spec: Any, *, with_id: bool) -> tuple[str, str]:
    """(path relative to the API version, wrapper key) for "customer" or ["customer", 1, "address"]."""
    parts = [spec] if isinstance(spec, str) else spec
    if not isinstance(parts, list) or not parts:
        raise ActionOptionsError("options[1]", "must be a resource name or a [name, id, ...] list")
    # Names at even positions, ids at odd ones; an id closes the path only for update/delete.
    if len(parts) % 2 != (0 if with_id else 1):
        expected = "[name, id] (or [parent, id, name, id])" if with_id else "a name (or [parent, id, name])"
        raise ActionOptionsError("options[1]", f"must be {expected}, got {spec!r}")
    segments: list[str] = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            if not isinstance(part, str) or not _RESOURCE_NAME.match(part):
                raise ActionOptionsError("options[1]", f"invalid resource name {part!r}")
            segments.append(_plural(part))
        else:
            segments.append(str(_resource_id(part, "options[1]")))
    return "/".join(segments) + ".json", parts[-2] if with_id else parts[-1]


def _validate_rest(options: list[Any]) -> RestRequest:
    verb = options[0].lower() if options and isinstance(options[0], str) else None
    target = options[1] if len(options) > 1 else None

    if verb in ("get", "post", "put", "delete") and isinstance(target, str):
        if not target.startswith("/admin/"):
            raise ActionOptionsError("options[1]", f"REST path must start with /admin/, got {target!r}")
        if len(options) > 3:
            raise ActionOptionsError("options", f"{verb} takes a path and at most one body")
        body = options[2] if len(options) == 3 else None
        if verb in ("post", "put") and not isinstance(body, dict):
            raise ActionOptionsError("options[2]", f"{verb} needs a resource-wrapped object body")
        if verb == "get":
            if body is not None and not isinstance(body, dict):
                raise ActionOptionsError("options[2]", "get parameters must be an object")
            return RestRequest("GET", target, versioned=False, params=body)
        return RestRequest(verb.upper(), target, versioned=False, json=body)

    if verb in ("create", "update"):
        if len(options) != 3 or not isinstance(options[2], dict):
            raise ActionOptionsError("options", f'"{verb}" needs [{verb!r}, resource, {{attributes}}]')
        path, wrapper = _resource_path(target, with_id=verb == "update")
        return RestRequest("POST" if verb == "create" else "PUT", path, versioned=True, json={wrapper: options[2]})

    if verb == "delete":
        if len(options) != 2:
            raise ActionOptionsError("options", '"delete" needs ["delete", [resource, id]]')
        path, _ = _resource_path(target, with_id=True)
        return RestRequest("DELETE", path, versioned=True)

    raise ActionOptionsError(
        "options[0]", f"unknown REST operation {options[0]!r}; expected create, update, delete, get, post or put"
    )


def validate_shopify_options(options: Any) -> GraphQLRequest | RestRequest:
    if isinstance(options, str):
        return _validate_graphql(options, None)
    if isinstance(options, dict):
        unknown = set(options) - {"query", "variables"}
        if unknown:
            raise ActionOptionsError("options", f"unknown keys {sorted(unknown)}; expected query and variables")
        return _validate_graphql(options.get("query"), options.get("variables"))
    if isinstance(options, list):
        return _validate_rest(options)
    raise ActionOptionsError("options", "must be a GraphQL string, {query, variables}, or a REST array")


# -- GraphQL failure detection --------------------------------------------------------------------------


def _user_errors(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every userError anywhere in `data`, with where it was found.

    Shopify names them `userErrors`, and on some mutations `customerUserErrors`,
    `mediaUserErrors`, ...: all count.
    """
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else key
            if (key == "userErrors" or key.endswith("UserErrors")) and isinstance(child, list):
                for error in child:
                    yield child_path, error
            else:
                yield from _user_errors(child, child_path)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _user_errors(child, f"{path}[{index}]")


def _describe_user_error(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    message = str(error.get("message") or error)
    field = error.get("field")
    if isinstance(field, list) and field:
        return f"{'.'.join(str(f) for f in field)}: {message}"
    return message


def graphql_failure(response: dict[str, Any]) -> str | None:
    """The permanent-failure message for a GraphQL response, or None when it succeeded."""
    errors = response.get("errors")
    if errors:
        items = errors if isinstance(errors, list) else [errors]
        codes = sorted({str((e.get("extensions") or {}).get("code")) for e in items if isinstance(e, dict)} - {"None"})
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in items)
        return f"Received a Shopify error ({', '.join(codes) or 'GraphQL errors'}): {messages}"
    user_errors = list(_user_errors(response.get("data")))
    if user_errors:
        where = sorted({path for path, _ in user_errors})
        messages = "; ".join(_describe_user_error(error) for _, error in user_errors)
        return f"Received a Shopify error (user errors in {', '.join(where)}): {messages}"
    return None


def _http_error_message(error: ShopifyHTTPError) -> str:
    name = _REST_ERROR_NAMES.get(error.status_code, f"HTTP {error.status_code}")
    body = error.body
    detail = body.get("errors", body) if isinstance(body, dict) else body
    if isinstance(detail, dict):
        # {"errors": {"base": ["Add at least 1 product"], "email": ["is invalid"]}}
        parts = []
        for key, value in detail.items():
            for message in value if isinstance(value, list) else [value]:
                parts.append(str(message) if key == "base" else f"{key} {message}")
        detail = "; ".join(parts)
    elif isinstance(detail, list):
        detail = "; ".join(str(item) for item in detail)
    detail = str(detail)
    # A proxy's or maintenance page's HTML can be huge; the head says what happened.
    if len(detail) > MAX_ERROR_DETAIL_CHARS:
        detail = detail[:MAX_ERROR_DETAIL_CHARS] + "…"
    return f"Received a Shopify error ({name}): {detail}"


# -- performing -------------------------------------------------------------------------------------------


@asynccontextmanager
async def _client(ctx: ActionContext) -> AsyncIterator[AsyncShopifyClient]:
    """A client for the action's shop that turns Shopify failures into action errors.

    Transport errors and retryable HTTP statuses are transient, other statuses permanent; the
    call statistics reach `ctx.result_meta` whatever happens, and the error's `result_meta` when
    the call fails.
    """
    try:
        target = ShopTarget.from_shop(ctx.shop)
    except ShopifyConfigurationError as exc:
        raise PermanentActionError(str(exc)) from exc
    pools = ctx.shopify_pools
    async with AsyncShopifyClient(
        target,
        api_version=ctx.shopify_api_version,
        config=ShopifyConfig.from_settings(ctx.settings),
        store=ctx.store,
        http=pools.async_client(ctx.shop.id) if pools is not None else None,
    ) as client:
        try:
            yield client
        except ShopifyTransportError as exc:
            raise TransientActionError(str(exc), result_meta=client.stats.as_result_meta()) from exc
        except ShopifyHTTPError as exc:
            error_class = TransientActionError if exc.retryable else PermanentActionError
            raise error_class(
                _http_error_message(exc), result=exc.body, result_meta=client.stats.as_result_meta()
            ) from exc
        finally:
            ctx.result_meta.update(client.stats.as_result_meta())


async def perform_graphql(ctx: ActionContext, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    """Run one GraphQL call for an action, classify its failure and fill `ctx.result_meta`.

    `ShopifyThrottled` propagates untouched: the engine waits it out without spending an attempt.
    """
    async with _client(ctx) as client:
        response = await client.graphql(with_grouped_objects(query, client.api_version), variables)
    failure = graphql_failure(response)
    if failure is not None:
        raise PermanentActionError(failure, result=response, result_meta=ctx.result_meta)
    return response


async def perform_rest(ctx: ActionContext, request: RestRequest) -> Any:
    async with _client(ctx) as client:
        return await client.request(
            request.method, request.url_path(client.api_version), json=request.json, params=request.params
        )


class ShopifyAction:
    type: ClassVar[str] = "shopify"

    def validate(self, options: Any) -> GraphQLRequest | RestRequest:
        return validate_shopify_options(options)

    async def perform(self, options: GraphQLRequest | RestRequest, ctx: ActionContext) -> Any:
        if isinstance(options, GraphQLRequest):
            return await perform_graphql(ctx, options.query, options.variables)
        return await perform_rest(ctx, options)


register(ShopifyAction())
