"""Mechanic's `shopify/*` topics and the Shopify webhook topics Ratchet registers for them, in one table.

Mechanic's topic is Shopify's webhook topic with a `shopify/` prefix (`shopify/orders/create` ↔
`orders/create`); the GraphQL Admin API names the same topic as an enum (`ORDERS_CREATE`).
`SHOPIFY_WEBHOOK_TOPICS` is the set Mechanic documents (platform/events/topics.md); a topic
outside it is reported on the task instead of being sent to Shopify. Metaobject topics are left
out on purpose: Shopify delivers them only to subscriptions filtered by metaobject type, which
Mechanic offers through custom webhooks, not task subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC, FINISH_WEBHOOK_TOPIC

SHOP_UPDATE = "shop/update"
# Tasks subscribing to mechanic/shopify/bulk_operation need Shopify's bulk_operations/finish webhook.
BULK_OPERATIONS_FINISH = FINISH_WEBHOOK_TOPIC

SHOPIFY_WEBHOOK_TOPICS: frozenset[str] = frozenset(
    {
        "carts/create",
        "carts/update",
        "channels/delete",
        "checkout_and_accounts_configurations/update",
        "checkouts/create",
        "checkouts/delete",
        "checkouts/update",
        "collections/create",
        "collections/delete",
        "collections/update",
        "companies/create",
        "companies/delete",
        "companies/update",
        "company_contact_roles/assign",
        "company_contact_roles/revoke",
        "company_contacts/create",
        "company_contacts/delete",
        "company_contacts/update",
        "company_locations/create",
        "company_locations/delete",
        "company_locations/update",
        "customer/joined_segment",
        "customer/left_segment",
        "customer/tags_added",
        "customer/tags_removed",
        "customer_account_settings/update",
        "customer_groups/create",
        "customer_groups/delete",
        "customer_groups/update",
        "customers/create",
        "customers/delete",
        "customers/disable",
        "customers/enable",
        "customers/merge",
        "customers/purchasing_summary",
        "customers/update",
        "customers_email_marketing_consent/update",
        "customers_marketing_consent/update",
        "delivery_promise_settings/update",
        "discounts/create",
        "discounts/delete",
        "discounts/redeemcode_added",
        "discounts/redeemcode_removed",
        "discounts/update",
        "disputes/create",
        "disputes/update",
        "domains/create",
        "domains/destroy",
        "domains/update",
        "draft_orders/create",
        "draft_orders/delete",
        "draft_orders/update",
        "finance_app_staff_member/delete",
        "finance_app_staff_member/grant",
        "finance_app_staff_member/revoke",
        "finance_app_staff_member/update",
        "finance_kyc_information/update",
        "fulfillment_events/create",
        "fulfillment_events/delete",
        "fulfillment_holds/added",
        "fulfillment_holds/released",
        "fulfillment_orders/cancellation_request_accepted",
        "fulfillment_orders/cancellation_request_rejected",
        "fulfillment_orders/cancellation_request_submitted",
        "fulfillment_orders/cancelled",
        "fulfillment_orders/fulfillment_request_accepted",
        "fulfillment_orders/fulfillment_request_rejected",
        "fulfillment_orders/fulfillment_request_submitted",
        "fulfillment_orders/fulfillment_service_failed_to_complete",
        "fulfillment_orders/hold_released",
        "fulfillment_orders/line_items_prepared_for_local_delivery",
        "fulfillment_orders/line_items_prepared_for_pickup",
        "fulfillment_orders/merged",
        "fulfillment_orders/moved",
        "fulfillment_orders/order_routing_complete",
        "fulfillment_orders/placed_on_hold",
        "fulfillment_orders/rescheduled",
        "fulfillment_orders/scheduled_fulfillment_order_ready",
        "fulfillment_orders/split",
        "fulfillments/create",
        "fulfillments/update",
        "inventory_items/create",
        "inventory_items/delete",
        "inventory_items/update",
        "inventory_levels/connect",
        "inventory_levels/disconnect",
        "inventory_levels/update",
        "inventory_shipments/add_items",
        "inventory_shipments/create",
        "inventory_shipments/delete",
        "inventory_shipments/mark_in_transit",
        "inventory_shipments/receive_items",
        "inventory_shipments/remove_items",
        "inventory_shipments/update_item_quantities",
        "inventory_shipments/update_tracking",
        "inventory_transfers/add_items",
        "inventory_transfers/cancel",
        "inventory_transfers/complete",
        "inventory_transfers/ready_to_ship",
        "inventory_transfers/remove_items",
        "inventory_transfers/update_item_quantities",
        "locales/create",
        "locales/destroy",
        "locales/update",
        "locations/activate",
        "locations/create",
        "locations/deactivate",
        "locations/delete",
        "locations/update",
        "markets/create",
        "markets/delete",
        "markets/update",
        "markets_backup_region/update",
        "metafield_definitions/create",
        "metafield_definitions/delete",
        "metafield_definitions/update",
        "metaobjects/create",
        "metaobjects/delete",
        "metaobjects/update",
        "order_transactions/create",
        "orders/cancelled",
        "orders/create",
        "orders/delete",
        "orders/edited",
        "orders/fulfilled",
        "orders/link_requested",
        "orders/paid",
        "orders/partially_fulfilled",
        "orders/risk_assessment_changed",
        "orders/shopify_protect_eligibility_changed",
        "orders/updated",
        "payment_schedules/due",
        "payment_terms/create",
        "payment_terms/delete",
        "payment_terms/update",
        "product_feeds/create",
        "product_feeds/full_sync",
        "product_feeds/full_sync_finish",
        "product_feeds/incremental_sync",
        "product_feeds/update",
        "products/create",
        "products/delete",
        "products/update",
        "profiles/create",
        "profiles/delete",
        "profiles/update",
        "publications/delete",
        "refunds/create",
        "returns/approve",
        "returns/cancel",
        "returns/close",
        "returns/decline",
        "returns/process",
        "returns/reopen",
        "returns/request",
        "returns/update",
        "reverse_deliveries/attach_deliverable",
        "reverse_fulfillment_orders/dispose",
        "segments/create",
        "segments/delete",
        "segments/update",
        "shop/update",
        "tax_partners/update",
        "tax_summaries/create",
        "tender_transactions/create",
        "themes/create",
        "themes/delete",
        "themes/publish",
        "themes/update",
        "variants/in_stock",
        "variants/out_of_stock",
    }
    - {"metaobjects/create", "metaobjects/delete", "metaobjects/update"}
) | {BULK_OPERATIONS_FINISH}


@dataclass(frozen=True)
class WebhookTopic:
    name: str  # orders/create

    @property
    def graphql_enum(self) -> str:
        return self.name.upper().replace("/", "_")


class UnknownWebhookTopic(ValueError):
    pass


def webhook_topic_for(mechanic_topic: str) -> WebhookTopic | None:
    """The Shopify webhook a Mechanic topic needs; None for topics Shopify does not deliver (user/…, mechanic/…).

    Raises `UnknownWebhookTopic` for a `shopify/*` topic Shopify has no webhook for.
    """
    if mechanic_topic == BULK_OPERATION_TOPIC:
        return WebhookTopic(BULK_OPERATIONS_FINISH)
    if not mechanic_topic.startswith("shopify/"):
        return None
    name = mechanic_topic.removeprefix("shopify/")
    if name not in SHOPIFY_WEBHOOK_TOPICS:
        raise UnknownWebhookTopic(f"Shopify has no webhook topic {name!r} that Ratchet can subscribe to")
    return WebhookTopic(name)


def topic_from_graphql_enum(value: str) -> str | None:
    """`ORDERS_CREATE` -> `orders/create` (None for topics outside the table)."""
    return _BY_ENUM.get(value)


_BY_ENUM = {WebhookTopic(name).graphql_enum: name for name in SHOPIFY_WEBHOOK_TOPICS}
