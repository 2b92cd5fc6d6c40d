"""The retry desk's activity: one signalled manual retry, judged and started like `ratchet runs retry`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client

from ratchet.config import Settings
from ratchet.engine.contract import RETRY_REQUESTED_RUN, RetryDeskActivitiesInterface, RetryRequest
from ratchet.services.retries import RetryRefused, retry_run, shop_of_run
from ratchet.services.runs import add_run_note
from ratchet.store.database import Store


class RetryDeskActivities(RetryDeskActivitiesInterface):
    def __init__(self, settings: Settings, store: Store, client: Client) -> None:
        self.settings = settings
        self.store = store
        self.client = client

    @activity.defn(name=RETRY_REQUESTED_RUN)
    async def retry_requested_run(self, req: RetryRequest) -> str:
        """What became of the request, as the Web UI shows it; a refusal is also noted on the run."""
        shop_id = await asyncio.to_thread(shop_of_run, self.store, req.run_id)
        if shop_id is None:
            return f"ignored: unknown run {req.run_id!r} (give the full id, `ratchet runs list --wide`)"
        try:
            accepted = await retry_run(self.settings, self.store, self.client, shop_id, req.run_id, req.reason)
        except RetryRefused as refused:
            await asyncio.to_thread(add_run_note, self.store, req.run_id, f"ignored retry signal: {refused.reason}")
            return f"ignored: {refused.reason}"
        return f"retrying {accepted.kind.value} run {accepted.run_id}"

    def all(self) -> list[Callable[..., Any]]:
        return [self.retry_requested_run]
