"""The retention pass's activity: delete what is older than the retention window, in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from temporalio import activity

from ratchet.config import Settings
from ratchet.core.clock import utcnow
from ratchet.engine.contract import PURGE_EXPIRED, PurgeOutcome, RetentionActivitiesInterface
from ratchet.files.storage import file_store
from ratchet.services.retention import PurgeResult, purge
from ratchet.store.database import Store

log = logging.getLogger("ratchet.retention")


class RetentionActivities(RetentionActivitiesInterface):
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    @activity.defn(name=PURGE_EXPIRED)
    async def purge_expired(self) -> PurgeOutcome:
        cutoff = utcnow() - self.settings.retention
        loop = asyncio.get_running_loop()

        def progress(so_far: PurgeResult) -> None:
            # Batches run in a thread; an async activity heartbeats from its event loop.
            loop.call_soon_threadsafe(activity.heartbeat, asdict(so_far))

        files = file_store(self.settings)
        result = await asyncio.to_thread(purge, self.store, cutoff, files=files, on_batch=progress)
        log.info("retention pass", extra={"fields": {"cutoff": cutoff.isoformat(), **asdict(result)}})
        return PurgeOutcome(**asdict(result))

    def all(self) -> list[Callable[..., Any]]:
        return [self.purge_expired]
