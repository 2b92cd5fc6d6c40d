"""Sample payloads for synthesized preview events.

Spec 6.5: "platform sample data for known non-user topics, else an ad-hoc event".

    sample_event("shopify/orders/create") -> {"topic": ..., "data": {...order...}, ...}
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from ratchet.liquid.subjects import singularize

_DIR = Path(__file__).parent / "payloads"
PREVIEW_CREATED_AT = "2024-01-03T15:00:00+00:00"


@cache
def _load(name: str) -> Any:
    path = _DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def sample_payload(name: str) -> Any:
    """A fresh copy of the named sample (`order`, `product`, `shop`, ...) or None."""
    payload = _load(name)
    return copy.deepcopy(payload) if payload is not None else None


def sample_shop() -> dict[str, Any]:
    return sample_payload("shop")


_MECHANIC = {
    "mechanic/actions/perform": "action",
    "mechanic/shopify/bulk_operation": "bulk_operation",
    "mechanic/emails/received": "email",
}


def sample_data(topic: str) -> Any:
    """Representative `event.data` for a topic; None where Mechanic sends none."""
    parts = topic.split("/")
    if len(parts) != 3:
        return None
    domain, subject, verb = parts
    if topic in _MECHANIC:
        return sample_payload(_MECHANIC[topic])
    if domain == "mechanic" and subject == "errors":
        return sample_payload("error")
    if domain == "mechanic" and subject == "user":
        if verb == "text":
            return "Preview text"
        if verb == "form":
            return {}
        if verb.endswith("s") and sample_payload(singularize(verb)) is not None:
            return [sample_payload(singularize(verb))]
        return sample_payload(verb)
    if domain == "shopify":
        return sample_payload(singularize(subject))
    return None


def sample_event(topic: str) -> dict[str, Any]:
    """A synthesized preview event for `topic` (the engine sets `preview`)."""
    source = (
        "shopify"
        if topic.startswith("shopify/")
        else ("user" if topic.startswith(("mechanic/user/", "user/")) else "mechanic")
    )
    return {
        "id": "00000000-0000-4000-8000-000000000000",
        "topic": topic,
        "data": sample_data(topic),
        "source": source,
        "created_at": PREVIEW_CREATED_AT,
        "shopify_topic": topic if topic.startswith("shopify/") else None,
        "parent": None,
        "webhook_request_id": None,
        "flow_action_run_id": None,
    }
