"""Activities of the bulk operation monitor (workflows/bulk_operations.py); the work is in the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ratchet.engine.contract import (
    BULK_OPERATION_GONE,
    CHECK_BULK_OPERATION,
    COLLECT_BULK_OPERATION_RESULTS,
    DELETE_BULK_OPERATION_RESULTS,
    REPORT_BULK_OPERATION,
    BulkCheck,
    BulkOperationActivitiesInterface,
    BulkOperationRef,
)
from ratchet.services.bulk_operations import BulkOperationGone, BulkOperationService
from ratchet.services.events import UnknownShop
from ratchet.shopify.client import ShopifyConfigurationError


def _permanent(exc: Exception) -> ApplicationError:
    return ApplicationError(str(exc), type=BULK_OPERATION_GONE, non_retryable=True)


class BulkOperationActivities(BulkOperationActivitiesInterface):
    def __init__(self, service: BulkOperationService) -> None:
        self.service = service

    @activity.defn(name=CHECK_BULK_OPERATION)
    async def check(self, ref: BulkOperationRef) -> BulkCheck:
        try:
            return await self.service.check(ref.shop_id, ref.gid)
        except (BulkOperationGone, ShopifyConfigurationError) as exc:
            raise _permanent(exc) from exc

    @activity.defn(name=COLLECT_BULK_OPERATION_RESULTS)
    async def collect(self, ref: BulkOperationRef) -> int:
        # Progress in bytes: the heartbeat keeps a long download alive, and a crashed worker's
        # download is resumed from the partial file by the next attempt.
        return await self.service.collect(ref.shop_id, ref.gid, on_progress=lambda written: activity.heartbeat(written))

    @activity.defn(name=REPORT_BULK_OPERATION)
    async def report(self, ref: BulkOperationRef) -> str:
        try:
            return await self.service.report(ref.shop_id, ref.gid)
        except UnknownShop as exc:
            raise _permanent(exc) from exc

    @activity.defn(name=DELETE_BULK_OPERATION_RESULTS)
    async def delete_results(self, ref: BulkOperationRef) -> None:
        await self.service.delete_results(ref.shop_id, ref.gid)

    def all(self) -> list[Callable[..., Any]]:
        return [self.check, self.collect, self.report, self.delete_results]
