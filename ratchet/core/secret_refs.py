"""Secret references: what Liquid sees of a shop secret, and how run data stays free of its value.

`{{ secrets.api_token }}` renders `__ratchet_secret:api_token:<tag>__`, an opaque reference. It
travels through rendering, the ledger's action options and Temporal as that text; only an action
activity turns it into the value, and only in the option fields its action type lists
(https://learn.mechanic.dev/platform/globals-and-secrets: http `url`/`headers`/`body`/`proxy`; ftp connection fields).
The tag is random per secret and stored beside it, so text arriving from outside (an event's data)
cannot name a secret without having read one of its references.

After the action, `redact` replaces the resolved values wherever they surface in its result or
error, and every `*_base64` field with Mechanic's documented marker, since encoded bytes may hold
the value in a form plain search cannot find (https://learn.mechanic.dev/core/actions/http "Using secrets").
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "__mechanic_secret_value_redacted__"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REFERENCE = re.compile(r"__ratchet_secret:([a-z][a-z0-9_]*):([0-9a-f]{16})__")


def new_tag() -> str:
    return secrets.token_hex(8)


def reference(name: str, tag: str) -> str:
    return f"__ratchet_secret:{name}:{tag}__"


def substitute(value: Any, resolve: Callable[[str, str], str]) -> Any:
    """`value` (any JSON) with every reference replaced by `resolve(name, tag)`."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda match: resolve(match.group(1), match.group(2)), value)
    if isinstance(value, list):
        return [substitute(item, resolve) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, resolve) for key, item in value.items()}
    return value


def has_references(value: Any) -> bool:
    found = False

    def note(name: str, tag: str) -> str:
        nonlocal found
        found = True
        return ""

    substitute(value, note)
    return found


def _forms(secret_values: Collection[str]) -> list[str]:
    """Each value as it may appear in text: raw, JSON-escaped, URL-encoded; longest first."""
    forms = {
        form
        for value in secret_values
        if value
        for form in (value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value))
    }
    return sorted(forms, key=len, reverse=True)


def redact_text(text: str, secret_values: Collection[str]) -> str:
    for form in _forms(secret_values):
        text = text.replace(form, REDACTED)
    return text


def redact(value: Any, secret_values: Collection[str]) -> Any:
    """`value` (any JSON) with the secret values replaced by the marker, and `*_base64` fields too."""
    if not secret_values:
        return value
    if isinstance(value, str):
        return redact_text(value, secret_values)
    if isinstance(value, list):
        return [redact(item, secret_values) for item in value]
    if isinstance(value, dict):
        return {
            redact_text(str(key), secret_values): REDACTED
            if str(key).endswith("_base64") and isinstance(item, str)
            else redact(item, secret_values)
            for key, item in value.items()
        }
    return value
