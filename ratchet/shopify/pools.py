"""One HTTP connection pool per shop per worker process, shared by every render and action of that shop.

Renders run in threads and call Shopify synchronously; actions are async. httpx pools cannot
be shared between the two, so each shop gets one pool of each kind, created on first use and
closed when the worker shuts down. Access tokens travel per request, so a pool survives a
token change.
"""

from __future__ import annotations

import threading

import httpx

from ratchet.shopify.client import ShopifyConfig, http_client_options


class ShopifyPools:
    def __init__(self, config: ShopifyConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._sync: dict[str, httpx.Client] = {}
        self._async: dict[str, httpx.AsyncClient] = {}

    def sync_client(self, shop_id: str) -> httpx.Client:
        """For renders (worker threads); httpx.Client is safe to share between threads."""
        with self._lock:
            client = self._sync.get(shop_id)
            if client is None:
                client = self._sync[shop_id] = httpx.Client(**http_client_options(self._config))
            return client

    def async_client(self, shop_id: str) -> httpx.AsyncClient:
        """For actions, on the worker's event loop."""
        with self._lock:
            client = self._async.get(shop_id)
            if client is None:
                client = self._async[shop_id] = httpx.AsyncClient(**http_client_options(self._config))
            return client

    async def aclose(self) -> None:
        with self._lock:
            sync, self._sync = list(self._sync.values()), {}
            pooled, self._async = list(self._async.values()), {}
        for client in sync:
            client.close()
        for async_client in pooled:
            await async_client.aclose()
