"""http: one HTTP request via httpx (spec 7.2).

Result: {"status": int, "headers": {lowercase name: [values…]}, "body": parsed JSON when the
response is application/json (or +json), else UTF-8 text, "body_base64": raw bytes}.
With `files` ({filename: file generator}) the request is multipart/form-data: one part per file
(field and file name = the key) beside the `body` hash's fields, with the boundary set here
(https://learn.mechanic.dev/core/actions/http, "Form-encoded data").
Connection errors and timeouts are transient; a 5xx response is a (transient) error only with
`error_on_5xx: true`, otherwise every response succeeds. Unknown option keys are ignored, as
library tasks carry bookkeeping such as `meta`.

Delivery is at-least-once (a worker killed mid-request sends it again), so every request carries
an `Idempotency-Key` header naming the delivery — the same for automatic retries and crash
re-deliveries, new after a manual retry — unless the task sets its own.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from ratchet.actions.base import (
    ActionContext,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    register,
)
from ratchet.core.http_limits import HttpConfig, read_limited
from ratchet.files import generate_files, parse_files

METHODS = ("options", "head", "get", "post", "put", "patch", "delete")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def boolean_option(options: dict[str, Any], name: str, default: bool) -> bool:
    value = options.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    # Library tasks write `"verify": "true"` (JSON templating turns booleans into strings).
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ActionOptionsError(name, f"must be true or false, got {value!r}")


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token


def header_options(value: Any) -> dict[str, str]:
    """A `headers` option (hash of name → string or number), checked before it reaches the wire.

    Caught here, a bad header is a permanent options error; caught by the HTTP or SMTP library,
    it would look like a transport failure and be retried.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ActionOptionsError("headers", "must be a hash of header name to value")
    headers: dict[str, str] = {}
    for name, header_value in value.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ActionOptionsError("headers", f"{name!r} is not a valid header name")
        if isinstance(header_value, bool) or not isinstance(header_value, (str, int, float)):
            raise ActionOptionsError(f"headers.{name}", f"must be a string, got {header_value!r}")
        text = str(header_value)
        if "\r" in text or "\n" in text:
            raise ActionOptionsError(f"headers.{name}", "must not contain line breaks")
        headers[name] = text
    return headers


def _form_pairs(value: Any, prefix: str) -> list[tuple[str, str]]:
    """Rack-style nested form fields (`a[b]=1`, `a[]=1`), as Ruby HTTP clients encode them."""
    if isinstance(value, dict):
        return [
            pair
            for key, item in value.items()
            for pair in _form_pairs(item, f"{prefix}[{key}]" if prefix else str(key))
        ]
    if isinstance(value, list):
        return [pair for item in value for pair in _form_pairs(item, f"{prefix}[]")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, "" if value is None else str(value))]


def _encode_body(body: Any, headers: dict[str, str]) -> str | None:
    """The request body as text, adding a JSON content type to `headers` when none was given."""
    if body is None or isinstance(body, str):
        return body
    if not isinstance(body, (dict, list)):
        raise ActionOptionsError("body", f"must be a string, hash or array, got {body!r}")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content_type is not None and content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE:
        if not isinstance(body, dict):
            raise ActionOptionsError("body", "a form-encoded body must be a hash")
        pairs = _form_pairs(body, "")
        return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)
    if content_type is None:
        headers["Content-Type"] = "application/json"
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _multipart_fields(body: Any, headers: dict[str, str]) -> list[tuple[str, str]]:
    """The form fields sent beside `files`.

    A multipart Content-Type the task set is dropped, as its boundary must be the one httpx writes.
    """
    if body is not None and not isinstance(body, dict):
        raise ActionOptionsError("body", "must be a hash when files are sent (its keys become form fields)")
    for name in [name for name in headers if name.lower() == "content-type"]:
        if not headers[name].lower().startswith("multipart/form-data"):
            raise ActionOptionsError(f"headers.{name}", "must be multipart/form-data (or absent) when files are sent")
        del headers[name]
    return _form_pairs(body or {}, "")


def _url(value: Any, name: str, schemes: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ActionOptionsError(name, "is required")
    try:
        url = httpx.URL(value.strip())
    except httpx.InvalidURL as error:
        raise ActionOptionsError(name, f"is not a valid URL: {error}") from error
    if url.scheme not in schemes or not url.host:
        raise ActionOptionsError(
            name, f"must be an absolute {' or '.join(s + '://' for s in schemes)} URL, got {value!r}"
        )
    return value.strip()  # as written: re-serialising could change its encoding


def response_body(content: bytes, content_type: str | None) -> Any:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    text = content.decode("utf-8", errors="replace")
    if media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json")):
        try:
            return json.loads(text)
        except ValueError:
            return text  # a mislabelled body is still worth showing
    return text


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form pairs as httpx's `data` takes repeated fields (`a[]`), in order."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


class HttpAction:
    type: ClassVar[str] = "http"

    def __init__(self, config: HttpConfig | None = None) -> None:
        self.config = config or HttpConfig()

    def validate(self, options: Any) -> dict[str, Any]:
        """Normalise the options.

        The result holds "method" (upper case), "url", "headers", "body" (text or null), "form"
        (multipart fields, or null), "files" ({filename: FileSpec}), "follow_redirects", "verify",
        "error_on_5xx" and "proxy".
        """
        if not isinstance(options, dict):
            raise ActionOptionsError("options", "must be a hash")
        method = options.get("method")
        if not isinstance(method, str) or method.lower() not in METHODS:
            raise ActionOptionsError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
        files = parse_files("files", options.get("files"))
        proxy = options.get("proxy")
        if proxy not in (None, ""):
            # socks5 would need the optional socksio dependency, which Ratchet does not ship.
            proxy = _url(proxy, "proxy", ("http", "https"))
        headers = header_options(options.get("headers"))
        form = _multipart_fields(options.get("body"), headers) if files else None
        body = None if files else _encode_body(options.get("body"), headers)
        return {
            "method": method.upper(),
            "url": _url(options.get("url"), "url", ("http", "https")),
            "headers": headers,
            "body": body,
            "form": form,
            "files": files,
            "follow_redirects": boolean_option(options, "follow_redirects", True),
            "verify": boolean_option(options, "verify", True),
            "error_on_5xx": boolean_option(options, "error_on_5xx", False),
            "proxy": proxy or None,
        }

    async def perform(self, options: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        content = None if options["body"] is None else options["body"].encode("utf-8")
        files = [
            (name, (name.rpartition("/")[2], file.content, file.mime_type))
            for name, file in (await generate_files(options["files"], ctx.settings.pdf_browser)).items()
        ]
        headers = dict(options["headers"])
        if not any(name.lower() == IDEMPOTENCY_HEADER.lower() for name in headers):
            headers[IDEMPOTENCY_HEADER] = ctx.delivery_id
        try:
            async with httpx.AsyncClient(
                verify=options["verify"],
                proxy=options["proxy"],
                timeout=self.config.timeout,
                max_redirects=self.config.max_redirects,
            ) as client:
                if files:
                    request = client.build_request(
                        options["method"], options["url"], headers=headers, data=_grouped(options["form"]), files=files
                    )
                else:
                    request = client.build_request(options["method"], options["url"], headers=headers, content=content)
                response = await client.send(request, follow_redirects=options["follow_redirects"], stream=True)
                try:
                    body = await self._read(response)
                finally:
                    await response.aclose()
        except (httpx.TooManyRedirects, httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.DecodingError) as error:
            # Retrying cannot fix a redirect loop, a redirect to a non-HTTP URL or a corrupt encoding.
            raise PermanentActionError(f"{options['method']} {options['url']} failed: {error}") from error
        except httpx.TransportError as error:  # connection errors and timeouts
            raise TransientActionError(
                f"{options['method']} {options['url']} failed: {type(error).__name__}: {error}"
            ) from error
        result = {
            "status": response.status_code,
            "headers": self._headers(response.headers),
            "body": response_body(body, response.headers.get("content-type")),
            "body_base64": base64.b64encode(body).decode("ascii"),
        }
        if options["error_on_5xx"] and response.status_code >= 500:
            raise TransientActionError(
                f"{options['method']} {options['url']} returned HTTP {response.status_code}", result=result
            )
        return result

    async def _read(self, response: httpx.Response) -> bytes:
        body = await read_limited(response, self.config.max_response_bytes)
        if body is None:
            raise PermanentActionError(f"response body exceeds {self.config.max_response_bytes} bytes")
        return body

    @staticmethod
    def _headers(headers: httpx.Headers) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for name, value in headers.multi_items():
            grouped.setdefault(name.lower(), []).append(value)
        return grouped


register(HttpAction())
