"""The per-shop workflow that keeps Shopify's webhook subscriptions equal to what the shop's tasks need.

Deterministic: it only waits, debounces and runs the reconcile activity (all I/O is there).
It ends when no change arrived during the last reconcile; the next change starts it again.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ratchet.engine.contract import (
        RECONCILE_SIGNAL,
        SHOPIFY_CONNECTION_REFUSED,
        WEBHOOK_SUBSCRIPTIONS_WORKFLOW,
        ReconcileInput,
        WebhookSubscriptionsActivitiesInterface,
    )


@workflow.defn(name=WEBHOOK_SUBSCRIPTIONS_WORKFLOW)
class WebhookSubscriptionsWorkflow:
    def __init__(self) -> None:
        self._pending = False

    @workflow.signal(name=RECONCILE_SIGNAL)
    def reconcile(self) -> None:
        self._pending = True

    @workflow.run
    async def run(self, inp: ReconcileInput) -> None:
        while True:
            await workflow.wait_condition(lambda: self._pending)
            # Changes arriving during this window are covered by the reconcile that follows it.
            await workflow.sleep(timedelta(seconds=inp.debounce_seconds))
            self._pending = False
            await workflow.execute_activity_method(
                WebhookSubscriptionsActivitiesInterface.reconcile_webhook_subscriptions,
                inp.shop_id,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=5),
                    maximum_interval=timedelta(minutes=10),
                    non_retryable_error_types=[SHOPIFY_CONNECTION_REFUSED],
                ),
                summary=f"reconcile Shopify webhooks · {inp.shop_id}",
            )
            if not self._pending:
                return
