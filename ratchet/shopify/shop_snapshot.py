"""The shop as Shopify describes it, in the REST shape Mechanic's Liquid `shop` object documents.

Mechanic's `shop` variable is Shopify's REST shop resource (plus `admin_url`), and Shopify's
`shop/update` webhook delivers that same shape. Ratchet reads the shop over GraphQL (`SHOP_QUERY`)
and translates it once, here, into REST field names, so the snapshot a webhook delivers and the
snapshot a sync fetches are interchangeable.
"""

from __future__ import annotations

from typing import Any

# One request answers both "is this token good?" and "what is this shop?": the `shop` fields
# need no access scope, and `currentAppInstallation` lists what the token was granted.
SHOP_QUERY = """query RatchetShopSnapshot {
  shop {
    id name email contactEmail myshopifyDomain
    primaryDomain { host url }
    ianaTimezone timezoneAbbreviation timezoneOffset
    currencyCode enabledPresentmentCurrencies
    currencyFormats { moneyFormat moneyWithCurrencyFormat moneyInEmailsFormat moneyWithCurrencyInEmailsFormat }
    plan { publicDisplayName partnerDevelopment shopifyPlus }
    weightUnit taxesIncluded taxShipping setupRequired checkoutApiSupported shopOwnerName
    billingAddress { address1 address2 city province provinceCode country countryCodeV2 zip phone latitude longitude }
    createdAt updatedAt
  }
  currentAppInstallation { accessScopes { handle } }
}"""

_WEIGHT_UNITS = {"KILOGRAMS": "kg", "GRAMS": "g", "POUNDS": "lb", "OUNCES": "oz"}


def legacy_id(gid: Any) -> int | str | None:
    """`gid://shopify/Shop/548380009` -> 548380009 (REST ids are numbers)."""
    if not isinstance(gid, str):
        return gid
    tail = gid.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else gid


def _utc_offset_label(offset: str | None, zone: str | None) -> str | None:
    # REST's `timezone` reads "(GMT-05:00) America/New_York"; GraphQL gives "-0500".
    if not offset or zone is None:
        return None
    return f"(GMT{offset[:3]}:{offset[3:]}) {zone}"


def snapshot_from_graphql(shop: dict[str, Any]) -> dict[str, Any]:
    """Translate the `shop` field of `SHOP_QUERY` into Shopify's REST shop representation."""
    formats = shop.get("currencyFormats") or {}
    address = shop.get("billingAddress") or {}
    plan = shop.get("plan") or {}
    primary = shop.get("primaryDomain") or {}
    zone = shop.get("ianaTimezone")
    plan_name = plan.get("publicDisplayName")
    return {
        "id": legacy_id(shop.get("id")),
        "name": shop.get("name"),
        "email": shop.get("email"),
        "customer_email": shop.get("contactEmail"),
        "domain": primary.get("host") or shop.get("myshopifyDomain"),
        "myshopify_domain": shop.get("myshopifyDomain"),
        "iana_timezone": zone,
        "timezone": _utc_offset_label(shop.get("timezoneOffset"), zone),
        "currency": shop.get("currencyCode"),
        "enabled_presentment_currencies": shop.get("enabledPresentmentCurrencies") or [],
        "money_format": formats.get("moneyFormat"),
        "money_with_currency_format": formats.get("moneyWithCurrencyFormat"),
        "money_in_emails_format": formats.get("moneyInEmailsFormat"),
        "money_with_currency_in_emails_format": formats.get("moneyWithCurrencyInEmailsFormat"),
        "plan_display_name": plan_name,
        "plan_name": plan_name.lower().replace(" ", "_") if isinstance(plan_name, str) else None,
        "weight_unit": _WEIGHT_UNITS.get(shop.get("weightUnit") or "", shop.get("weightUnit")),
        "taxes_included": shop.get("taxesIncluded"),
        "tax_shipping": shop.get("taxShipping"),
        "setup_required": shop.get("setupRequired"),
        "checkout_api_supported": shop.get("checkoutApiSupported"),
        "shop_owner": shop.get("shopOwnerName"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": address.get("province"),
        "province_code": address.get("provinceCode"),
        "country": address.get("countryCodeV2"),
        "country_code": address.get("countryCodeV2"),
        "country_name": address.get("country"),
        "zip": address.get("zip"),
        "phone": address.get("phone"),
        "latitude": address.get("latitude"),
        "longitude": address.get("longitude"),
        "created_at": shop.get("createdAt"),
        "updated_at": shop.get("updatedAt"),
    }


def admin_url(myshopify_domain: str) -> str:
    """Mechanic's `shop.admin_url`: https://admin.shopify.com/store/<handle>/."""
    handle = myshopify_domain.split("://", 1)[-1].split(".", 1)[0].split(":", 1)[0]
    return f"https://admin.shopify.com/store/{handle}/"


def liquid_shop(
    shop_id: str, snapshot: dict[str, Any] | None, *, timezone: str, shopify_domain: str | None
) -> dict[str, Any]:
    """The Liquid `shop` object: the Shopify snapshot when connected, a placeholder shop otherwise."""
    if snapshot:
        shop = dict(snapshot)
        shop["admin_url"] = admin_url(str(shop.get("myshopify_domain") or shopify_domain or shop_id))
        return shop
    # Unconnected shops (tests, local-only use) still render tasks that read the common fields.
    domain = shopify_domain or f"{shop_id}.myshopify.com"
    return {
        "id": None,
        "name": shop_id,
        "email": None,
        "domain": domain,
        "myshopify_domain": domain,
        "admin_url": None,
        "iana_timezone": timezone,
        "timezone": timezone,
        "currency": "USD",
        "money_format": "${{amount}}",
        "money_with_currency_format": "${{amount}} USD",
    }
