"""The idle-grant pass's activity: renew tokens whose refresh tokens would otherwise expire unused."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from temporalio import activity

from ratchet.config import Settings
from ratchet.engine.contract import RENEW_IDLE_GRANTS, GrantRenewalActivitiesInterface, GrantRenewalOutcome
from ratchet.services.shop_grants import IDLE_RENEWAL_WINDOW_SECONDS, renew_idle_grants
from ratchet.shopify.tokens import TokenKeeper
from ratchet.store.database import Store

log = logging.getLogger("ratchet.shopify")


class GrantRenewalActivities(GrantRenewalActivitiesInterface):
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    @activity.defn(name=RENEW_IDLE_GRANTS)
    async def renew_idle_grants(self) -> GrantRenewalOutcome:
        keeper = TokenKeeper(self.store, time_scale=self.settings.time_scale)
        window = self.settings.scaled(IDLE_RENEWAL_WINDOW_SECONDS)
        done = await asyncio.to_thread(renew_idle_grants, self.store, keeper, window)
        for shop_id, reason in done.failed.items():
            # The operator must connect the shop again; every later pass says so too, until then.
            log.warning("idle shop's token not renewed", extra={"fields": {"shop": shop_id, "reason": reason}})
        return GrantRenewalOutcome(renewed=done.renewed, failed=done.failed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.renew_idle_grants]
