"""Shopify Admin API access: one client per shop, throttle tracking shared through the store."""

from ratchet.shopify.client import (
    DEFAULT_API_VERSION,
    AsyncShopifyClient,
    CallStats,
    ShopifyClient,
    ShopifyConfig,
    ShopifyConfigurationError,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyHTTPError,
    ShopifyRateLimitExceeded,
    ShopifyThrottled,
    ShopifyTransportError,
    ShopTarget,
    make_liquid_shopify_callable,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "AsyncShopifyClient",
    "CallStats",
    "ShopTarget",
    "ShopifyClient",
    "ShopifyConfig",
    "ShopifyConfigurationError",
    "ShopifyError",
    "ShopifyGraphQLError",
    "ShopifyHTTPError",
    "ShopifyRateLimitExceeded",
    "ShopifyThrottled",
    "ShopifyTransportError",
    "make_liquid_shopify_callable",
]
