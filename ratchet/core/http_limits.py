"""The limits every outbound HTTP fetch shares: the http action's requests and the url file generator's downloads."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class HttpConfig:
    """Limits for every request, in one place."""

    connect_timeout: float = 10.0
    # Time allowed between bytes (read/write), not for the whole exchange.
    io_timeout: float = 60.0
    max_redirects: int = 20
    # Mechanic caps downloaded files at 20 MB; the same bound keeps run results storable.
    max_response_bytes: int = 20 * 1024 * 1024

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.io_timeout, connect=self.connect_timeout)


async def read_limited(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The streamed response's body, or None once it passes `max_bytes` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
