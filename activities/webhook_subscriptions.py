"""The reconcile activity behind WebhookSubscriptionsWorkflow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ratchet.config import Settings
from ratchet.engine.contract import (
    RECONCILE_WEBHOOK_SUBSCRIPTIONS,
    SHOPIFY_CONNECTION_REFUSED,
    WebhookSubscriptionsActivitiesInterface,
)
from ratchet.services.webhook_subscriptions import reconcile_subscriptions
from ratchet.shopify.client import ShopifyConfig, ShopifyError, ShopifyThrottled, is_transient
from ratchet.shopify.pools import ShopifyPools
from ratchet.store.database import Store

logger = logging.getLogger(__name__)


class WebhookSubscriptionsActivities(WebhookSubscriptionsActivitiesInterface):
    """The reconcile activity.

    Args:
        shopify_pools: the worker's Shopify connections, pooled per shop.
    """

    def __init__(self, settings: Settings, store: Store, shopify_pools: ShopifyPools) -> None:
        self.settings = settings
        self.store = store
        self.shopify_pools = shopify_pools

    @activity.defn(name=RECONCILE_WEBHOOK_SUBSCRIPTIONS)
    async def reconcile_webhook_subscriptions(self, shop_id: str) -> dict[str, Any]:
        try:
            result = await reconcile_subscriptions(
                self.store,
                shop_id,
                public_url=self.settings.ingress.public_url,
                config=ShopifyConfig.from_settings(self.settings),
                http=self.shopify_pools.async_client(shop_id),
            )
        except ShopifyError as exc:
            if isinstance(exc, ShopifyThrottled) or is_transient(exc):
                raise  # Shopify is busy or down: Temporal retries with backoff
            raise ApplicationError(str(exc), type=SHOPIFY_CONNECTION_REFUSED, non_retryable=True) from exc
        if result.skipped:
            logger.info("Shopify webhooks of shop %s not reconciled: %s", shop_id, result.skipped)
        return {
            "skipped": result.skipped,
            "created": result.created,
            "deleted": result.deleted,
            "errors": result.errors,
        }

    def all(self) -> list[Callable[..., Any]]:
        return [self.reconcile_webhook_subscriptions]
