"""Mechanic webhooks: the request → `event.data` mapping (spec 10.1).

Their configuration rows (add, list, remove) are ratchet/services/mechanic_webhooks.py; a
webhook with a secret checks X-Ratchet-Hmac-SHA256 (ratchet/ingress/signatures.py).

Auto mode: body params merged over query params (body wins on clashes); a JSON array body is
the data itself; no parseable body params → the query params; no structured params at all →
the raw body text; a blank body → null. Full-request mode hands the task the whole request.
Multipart files become `{content_base64, mime_type, name, size}` in both modes.

Body parsing follows the content type the way Rails (Mechanic) does, with one leniency: a
body that is a JSON object or array is read as JSON whatever its declared type, because
`curl -d '{…}'` labels JSON as a form.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

SIGNATURE_HEADER = "x-ratchet-hmac-sha256"
IDEMPOTENCY_HEADER = "idempotency-key"


# -- request → event data --------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRequest:
    body: bytes
    content_type: str | None
    query_string: str
    headers: Sequence[tuple[str, str]]
    client_ip: str | None

    @property
    def mime_type(self) -> str | None:
        if not self.content_type:
            return None
        return self.content_type.split(";", 1)[0].strip().lower() or None


def request_id_for(webhook_id: str, idempotency_key: str | None) -> str:
    """A fresh request id, or one derived from the sender's Idempotency-Key so a replay maps to the same event."""
    if idempotency_key:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ratchet-webhook:{webhook_id}:{idempotency_key}"))
    return str(uuid.uuid4())


def event_data(req: IncomingRequest, mode: str, *, request_id: str, webhook_id: str) -> Any:
    body_params = _body_params(req)
    query = parse_params(parse_qsl(req.query_string, keep_blank_values=True))
    if mode == "full":
        headers: dict[str, list[str]] = {}
        for name, value in req.headers:
            key = name.lower()
            headers[key] = [f"{headers[key][0]}, {value}"] if key in headers else [value]
        return {
            "body_base64": base64.b64encode(req.body).decode(),
            "body": body_params,
            "client_ip": req.client_ip,
            "headers": headers,
            "mime_type": req.mime_type,
            "query_string": req.query_string,
            "query": query,
            "request_id": request_id,
            "webhook_id": webhook_id,
        }
    if isinstance(body_params, list):
        return body_params
    if body_params is not None or query:
        return {**query, **(body_params or {})}
    text = req.body.decode("utf-8", errors="replace")
    return text if text.strip() else None


def _body_params(req: IncomingRequest) -> dict[str, Any] | list[Any] | None:
    """Structured params from the body, or None when it has none (an unparseable body is data, not an error)."""
    if not req.body.strip():
        return None
    mime = req.mime_type or ""
    if mime == "multipart/form-data":
        return _multipart(req.body, req.content_type or "")
    parsed = _json_container(req.body)
    if parsed is not None:
        return parsed
    if mime == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        return parse_params(pairs) or None
    return None


def _json_container(body: bytes) -> dict[str, Any] | list[Any] | None:
    if body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, (dict, list)) else None


def _multipart(body: bytes, content_type: str) -> dict[str, Any] | None:
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    pairs: list[tuple[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            value: Any = {
                "content_base64": base64.b64encode(content).decode(),
                "mime_type": part.get_content_type() if part.get("content-type") else "application/octet-stream",
                "name": filename,
                "size": len(content),
            }
        else:
            value = content.decode(part.get_content_charset() or "utf-8", errors="replace")
        pairs.append((name, value))
    return parse_params(pairs) or None


_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def parse_params(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Rails-style params: `a=1`, `a[]=1&a[]=2` → list, `a[b][c]=1` → nested hash; later keys win."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head, *_BRACKETS.findall("[" + rest)] if rest and head else [key]
        node = params
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if last:
                node[part] = value
            elif path[depth + 1] == "" and depth + 1 == len(path) - 1:
                existing = node.get(part)
                node[part] = (existing if isinstance(existing, list) else []) + [value]
                break
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return params
