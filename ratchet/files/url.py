"""The url generator: `{"url": "https://…"}` is the body a GET of that URL returns.

Fetched with the http action's limits (timeouts, redirects) and its error classes: a connection
failure, a timeout, a 5xx or a 429 may pass, so the action run is retried; another non-2xx
status, a redirect loop or a body past the file limit fails it.
https://learn.mechanic.dev/core/actions/file-generators/url
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ratchet.core.http_limits import HttpConfig, read_limited
from ratchet.files.errors import GeneratorError

CONFIG = HttpConfig()


@dataclass(frozen=True)
class UrlSpec:
    url: str


def parse(argument: Any) -> UrlSpec:
    if not isinstance(argument, str) or not argument.strip():
        raise GeneratorError("url must be an http:// or https:// URL")
    try:
        parsed = httpx.URL(argument.strip())
    except httpx.InvalidURL as error:
        raise GeneratorError(f"url is not a valid URL: {error}") from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise GeneratorError(f"url must be an absolute http:// or https:// URL, got {argument!r}")
    return UrlSpec(argument.strip())


async def generate(spec: UrlSpec, max_bytes: int) -> bytes:
    try:
        async with (
            httpx.AsyncClient(timeout=CONFIG.timeout, max_redirects=CONFIG.max_redirects) as client,
            client.stream("GET", spec.url, follow_redirects=True) as response,
        ):
            if not response.is_success:
                status = response.status_code
                raise GeneratorError(f"GET {spec.url} returned HTTP {status}", retryable=status >= 500 or status == 429)
            body = await read_limited(response, max_bytes)
            if body is None:
                raise GeneratorError(f"GET {spec.url} returned more than {max_bytes:,} bytes, the file size limit")
            return body
    except (httpx.TooManyRedirects, httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.DecodingError) as error:
        raise GeneratorError(f"GET {spec.url} failed: {error}") from error
    except httpx.TransportError as error:  # connection errors and timeouts
        raise GeneratorError(f"GET {spec.url} failed: {type(error).__name__}: {error}", retryable=True) from error
