"""Shopify bulk operations: recognising one a `shopify` action started, and describing it to a task.

Mechanic watches every `shopify` action's GraphQL response for a bulk operation started by
`bulkOperationRunQuery` or `bulkOperationRunMutation`, follows it until Shopify reports it done,
and then gives the task that started it a `mechanic/shopify/bulk_operation` event whose
`bulkOperation` holds the operation's attributes and its parsed results (spec 7.1). This module
is the pure part of that: detection, the attribute set, the monitoring workflow's id and its
polling schedule. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

BULK_OPERATION_TOPIC = "mechanic/shopify/bulk_operation"
# The Shopify webhook topic announcing that any bulk operation of the app finished.
FINISH_WEBHOOK_TOPIC = "bulk_operations/finish"
START_MUTATIONS = {"bulkOperationRunQuery": "QUERY", "bulkOperationRunMutation": "MUTATION"}
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})
# What `bulkOperation` carries besides `objects` (spec 7.1, Shopify's BulkOperation object).
ATTRIBUTE_FIELDS = (
    "id",
    "status",
    "errorCode",
    "type",
    "objectCount",
    "rootObjectCount",
    "fileSize",
    "url",
    "partialDataUrl",
    "query",
    "createdAt",
    "completedAt",
)
NODE_QUERY = (
    "query RatchetBulkOperation($id: ID!) { node(id: $id) { ... on BulkOperation { "
    + " ".join(ATTRIBUTE_FIELDS)
    + " } } }"
)

_GID_RE = re.compile(r"^gid://shopify/BulkOperation/(?P<number>\d+)$")
_START_RE = re.compile(r"\b(" + "|".join(START_MUTATIONS) + r")\b")

_RUN_QUERY_RE = re.compile(r"\bbulkOperationRunQuery\s*\(")
_GROUP_OBJECTS_RE = re.compile(r"\bgroupObjects\b")
# The first API version whose bulkOperationRunQuery takes `groupObjects`
# (https://shopify.dev/changelog/optional-groupobjects-argument-in-bulk-operations-mutations-that-offers-faster-and-more-reliable-job-execution).
GROUP_OBJECTS_SINCE = "2025-07"

# Polling is the fallback behind the bulk_operations/finish webhook, so it starts at a modest
# pace and slows down: long operations (hours) cost a poll every ten minutes, not every ten seconds.
FIRST_POLL_SECONDS = 20.0
POLL_GROWTH = 1.5
MAX_POLL_SECONDS = 600.0
# A finish webhook can overtake the action run that records the operation; wait this long for
# the record before deciding the operation was started by something other than a task.
UNTRACKED_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class StartedBulkOperation:
    gid: str
    type: str  # QUERY or MUTATION
    status: str | None


def is_bulk_operation_gid(value: object) -> bool:
    return isinstance(value, str) and _GID_RE.match(value) is not None


def _payloads(query: str, data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(operation type, payload) for each top-level field of `data` that answers a start mutation.

    Fields are usually named after the mutation; under an alias the type comes from the query
    text, which is unambiguous when it names only one of the two mutations.
    """
    named = set(_START_RE.findall(query))
    for key, payload in data.items():
        if not isinstance(payload, dict) or "bulkOperation" not in payload:
            continue
        if key in START_MUTATIONS:
            yield START_MUTATIONS[key], payload
        elif len(named) == 1:
            yield START_MUTATIONS[named.pop()], payload


def detect_bulk_operations(query: str, response: dict[str, Any]) -> list[StartedBulkOperation]:
    """The bulk operations a successful GraphQL response says were started (usually none or one)."""
    data = response.get("data")
    if not isinstance(data, dict) or not _START_RE.search(query):
        return []
    started = []
    for op_type, payload in _payloads(query, data):
        operation = payload.get("bulkOperation")
        if isinstance(operation, dict) and is_bulk_operation_gid(operation.get("id")):
            started.append(StartedBulkOperation(operation["id"], op_type, operation.get("status")))
    return started


def with_grouped_objects(query: str, api_version: str) -> str:
    """`query` with `groupObjects: true` in every `bulkOperationRunQuery(...)` that does not set it.

    Until API 2026-01 a bulk query's JSONL put each child directly below its parent; from
    2026-01 that grouping is off unless asked for
    (https://shopify.dev/changelog/bulk-operations-group-objects-default-changed-to-false).
    Mechanic's library tasks were written against grouped output (they look up a child's parent
    in what they have read so far), so a task that does not choose keeps the order it was
    written for. A task that passes `groupObjects` itself is left alone.
    """
    if api_version != "unstable" and api_version < GROUP_OBJECTS_SINCE:
        return query  # grouped is the only output there, and the argument does not exist
    pieces: list[str] = []
    done = 0
    for match in _RUN_QUERY_RE.finditer(query):
        if match.start() < done:
            continue  # inside the arguments of the previous call (a nested query string)
        end = _closing_paren(query, match.end())
        if not _GROUP_OBJECTS_RE.search(_outside_strings(query[match.end() : end])):
            pieces.append(query[done : match.end()] + "groupObjects: true, ")
            done = match.end()
    pieces.append(query[done:])
    return "".join(pieces)


def _closing_paren(text: str, start: int) -> int:
    """Index of the `)` closing the argument list that opens just before `start` (or len(text))."""
    depth = 1
    for index, char in _outside_string_chars(text, start):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index
    return len(text)


def _outside_strings(text: str) -> str:
    return "".join(char for _, char in _outside_string_chars(text, 0))


def _outside_string_chars(text: str, start: int) -> Iterator[tuple[int, str]]:
    """(index, char) of `text` from `start`, skipping GraphQL strings ("..." and \"\"\"...\"\"\")."""
    index = start
    while index < len(text):
        if text.startswith('"""', index):
            close = text.find('"""', index + 3)
            index = len(text) if close < 0 else close + 3
        elif text[index] == '"':
            index += 1
            while index < len(text) and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            index += 1
        else:
            yield index, text[index]
            index += 1


def operation_number(gid: str) -> str:
    match = _GID_RE.match(gid)
    if match is None:
        raise ValueError(f"not a bulk operation id: {gid!r}")
    return match.group("number")


def monitor_workflow_id(shop_id: str, gid: str) -> str:
    """One monitoring workflow per (shop, operation): the id is what makes a second start impossible."""
    return f"bulk-operation/{shop_id}/{operation_number(gid)}"


def report_idempotency_key(gid: str) -> str:
    """The follow-up event's key: one event per operation, whoever asks and however often."""
    return f"bulk-operation:{gid}"


def poll_interval_seconds(polls_done: int) -> float:
    """Real-world seconds to wait before the next poll, after `polls_done` polls."""
    return min(MAX_POLL_SECONDS, FIRST_POLL_SECONDS * POLL_GROWTH**polls_done)


def operation_attributes(node: dict[str, Any], op_type: str) -> dict[str, Any]:
    """`bulkOperation` without `objects`: every attribute present, in Shopify's names."""
    attributes = {name: node.get(name) for name in ATTRIBUTE_FIELDS}
    attributes["type"] = node.get("type") or op_type
    return attributes


def is_terminal(status: str | None) -> bool:
    return status in TERMINAL_STATUSES


def script_starts_bulk_operation(script: str) -> bool:
    """Whether a task's code can start a bulk operation (for `ratchet task check`)."""
    return _START_RE.search(script) is not None
