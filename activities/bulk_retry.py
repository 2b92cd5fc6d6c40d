"""A bulk retry's activities: one batch of retries, and marking the bulk retry finished."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client

from ratchet.config import Settings
from ratchet.engine.contract import (
    FINISH_BULK_RETRY,
    RETRY_BULK_BATCH,
    BulkRetryActivitiesInterface,
    BulkRetryBatch,
    BulkRetryBatchOutcome,
    BulkRetryFinish,
)
from ratchet.services.bulk_retries import finish_bulk_retry, retry_batch
from ratchet.store.database import Store


class BulkRetryActivities(BulkRetryActivitiesInterface):
    def __init__(self, settings: Settings, store: Store, client: Client) -> None:
        self.settings = settings
        self.store = store
        self.client = client

    @activity.defn(name=RETRY_BULK_BATCH)
    async def retry_bulk_batch(self, batch: BulkRetryBatch) -> BulkRetryBatchOutcome:
        retried, refused = await retry_batch(
            self.settings, self.store, self.client, batch.bulk_retry_id, batch.first_position, batch.count
        )
        return BulkRetryBatchOutcome(retried=retried, refused=refused)

    @activity.defn(name=FINISH_BULK_RETRY)
    async def finish_bulk_retry(self, finish: BulkRetryFinish) -> None:
        await asyncio.to_thread(finish_bulk_retry, self.store, finish.bulk_retry_id, finish.state)

    def all(self) -> list[Callable[..., Any]]:
        return [self.retry_bulk_batch, self.finish_bulk_retry]
