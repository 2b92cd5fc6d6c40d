"""Shopify-flavoured filters.

`shopify` (GraphQL now), `graphql_arguments`, `money`/`money_with_currency`/`currency`,
`handleize`, `pluralize`, tag helpers.

The `shopify` filter is the only way a render reaches the network, and it does so
through the callable the engine passes in `RenderRequest.shopify`.
"""

from __future__ import annotations

import re
import time
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from liquid import Environment, RenderContext
from liquid.exceptions import FilterArgumentError, LiquidError
from liquid.filter import with_context
from liquid.undefined import Undefined

from ..errors import ShopifyReadError
from .json import to_json

# Returned in preview or when no client is configured: tasks stub data after the call
# (`{% if event.preview %}...{% endif %}`), so the call must not fail (spec 6.5).
_EMPTY_RESPONSE: dict[str, Any] = {"data": None}


@with_context
def shopify(query: object, *, context: RenderContext, variables: object = None) -> object:
    state = getattr(context, "render_state", {})
    if isinstance(query, Undefined) or query is None or not str(query).strip():
        raise FilterArgumentError("shopify: expected a GraphQL query string", token=None)
    state.setdefault("shopify_queries", []).append(str(query))
    client = state.get("shopify")
    if state.get("preview") or client is None:
        return dict(_EMPTY_RESPONSE)
    if isinstance(variables, Undefined):
        variables = None
    started = time.monotonic()
    try:
        return client(str(query), variables if isinstance(variables, dict) else None)
    except LiquidError:
        raise
    except Exception as exc:
        # Whatever the client raised, the run's error must point at this query's line.
        raise ShopifyReadError(exc) from exc
    finally:
        # Network time does not count against the render time limit.
        extend = getattr(context, "extend_deadline", None)
        if extend is not None:
            extend(time.monotonic() - started)


def graphql_arguments(value: object) -> str:
    """Render a hash as GraphQL input arguments: {a: 1, b: "x"} -> `a: 1, b: "x"`."""
    if isinstance(value, Undefined) or value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_graphql_value(v)}" for k, v in value.items())
    return _graphql_value(value)


def _graphql_value(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_graphql_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_graphql_value(v) for v in value) + "]"
    if isinstance(value, Undefined) or value is None:
        return "null"
    # Every string is a quoted GraphQL string, ALL-CAPS ones included: Mechanic does
    # not guess enums (an enum argument belongs in the query text or in variables).
    return to_json(value)


# Money ----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _shop(context: RenderContext) -> dict[str, Any]:
    shop = context.resolve("shop", default=None)
    return shop if isinstance(shop, dict) else {}


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, Undefined):
        return Decimal(0)
    try:
        return Decimal(str(value).strip() or "0")
    except InvalidOperation:
        return Decimal(0)


def _group(digits: str, sep: str) -> str:
    out: list[str] = []
    while len(digits) > 3:
        out.insert(0, digits[-3:])
        digits = digits[:-3]
    out.insert(0, digits)
    return sep.join(out)


def format_money(amount: Decimal, fmt: str) -> str:
    """Apply a Shopify money format (`${{amount}}`, `{{amount_with_comma_separator}}`...)."""

    def render(match: re.Match[str]) -> str:
        name = match.group(1)
        value = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole, _, cents = f"{value:.2f}".partition(".")
        if name == "amount":
            return f"{sign}{_group(whole, ',')}.{cents}"
        if name == "amount_no_decimals":
            return sign + _group(str(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))), ",")
        if name == "amount_with_comma_separator":
            return f"{sign}{_group(whole, '.')},{cents}"
        if name == "amount_no_decimals_with_comma_separator":
            return sign + _group(str(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))), ".")
        if name == "amount_with_apostrophe_separator":
            return f"{sign}{_group(whole, chr(39))}.{cents}"
        if name == "amount_with_space_separator":
            return f"{sign}{_group(whole, ' ')},{cents}"
        if name == "amount_no_decimals_with_space_separator":
            return sign + _group(str(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))), " ")
        return match.group(0)

    return _PLACEHOLDER.sub(render, fmt)


def _strip_html(text: str) -> str:
    return re.sub(r"<[^>]*>", "", text)


@with_context
def money(value: object, *, context: RenderContext) -> str:
    """Shop money format applied to an amount in currency units (Mechanic semantics)."""
    if value is None or isinstance(value, Undefined):
        return ""
    fmt = str(_shop(context).get("money_format") or "${{amount}}")
    return _strip_html(format_money(_to_decimal(value), fmt))


@with_context
def money_with_currency(value: object, *, context: RenderContext) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    shop = _shop(context)
    fmt = shop.get("money_with_currency_format")
    if not fmt:
        fmt = f"{shop.get('money_format') or '${{amount}}'} {shop.get('currency') or 'USD'}"
    return _strip_html(format_money(_to_decimal(value), str(fmt)))


@with_context
def money_without_currency(value: object, *, context: RenderContext) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    return format_money(_to_decimal(value), "{{amount}}")


_SYMBOLS = {
    "USD": "$",
    "CAD": "$",
    "AUD": "$",
    "NZD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "KRW": "₩",
    "BRL": "R$",
    "MXN": "$",
    "CHF": "CHF ",
    "SEK": "kr ",
    "NOK": "kr ",
    "DKK": "kr ",
    "PLN": "zł ",
    "ZAR": "R",
    "SGD": "$",
    "HKD": "$",
}


# Thousands and decimal separators per locale (rails-i18n), as Mechanic's
# `currency` uses them; the symbol and its position come from the currency.
_LOCALE_SEPARATORS = {
    "en": (",", "."),
    "fr": (" ", ","),
    "de": (".", ","),
    "es": (".", ","),
    "it": (".", ","),
    "nl": (".", ","),
    "pt": (".", ","),
    "pt-BR": (".", ","),
    "da": (".", ","),
    "sv": (" ", ","),
    "nb": (" ", ","),
    "fi": (" ", ","),
    "pl": (" ", ","),
    "cs": (" ", ","),
    "ja": (",", "."),
    "zh-CN": (",", "."),
    "de-CH": ("'", "."),
    "en-GB": (",", "."),
}


@with_context
def currency(value: object, code: object = None, *, context: RenderContext, locale: object = None) -> str:
    """`12.5 | currency` -> `$12.50` (shop currency); `locale:` sets the separators."""
    if value is None or isinstance(value, Undefined):
        return ""
    shop = _shop(context)
    code_str = str(code) if code and not isinstance(code, Undefined) else str(shop.get("currency") or "USD")
    locale_name = str(locale) if locale and not isinstance(locale, Undefined) else "en"
    thousands, decimal_mark = _LOCALE_SEPARATORS.get(locale_name, _LOCALE_SEPARATORS.get(locale_name[:2], (",", ".")))
    digits = 0 if code_str.upper() in ("JPY", "KRW") else 2
    q = _to_decimal(value).quantize(Decimal(1) if digits == 0 else Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    whole, _, cents = f"{abs(q):.{digits}f}".partition(".")
    number = _group(whole, thousands) + (f"{decimal_mark}{cents}" if cents else "")
    symbol = _SYMBOLS.get(code_str.upper())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code_str}"


# Strings ----------------------------------------------------------------------------


def handleize(value: object) -> str:
    """Shopify handle: lowercase ASCII words joined by hyphens."""
    if value is None or isinstance(value, Undefined):
        return ""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    text = re.sub(r"['\"()\[\]]", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def pluralize(count: object, singular: object, plural: object) -> str:
    try:
        n = float(str(count).strip())
    except (TypeError, ValueError):
        n = 0.0
    return str(singular) if n == 1 else str(plural)


def _tags(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(t).strip() for t in value if str(t).strip()]
    if value is None or isinstance(value, Undefined):
        return []
    return [t.strip() for t in str(value).split(",") if t.strip()]


def add_tag(value: object, *tags: object) -> str:
    current = _tags(value)
    for tag in tags:
        for t in _tags(tag):
            if t not in current:
                current.append(t)
    return ", ".join(current)


def remove_tag(value: object, *tags: object) -> str:
    drop = {t.lower() for tag in tags for t in _tags(tag)}
    return ", ".join(t for t in _tags(value) if t.lower() not in drop)


def register(env: Environment) -> None:
    env.add_filter("shopify", shopify)
    env.add_filter("graphql_arguments", graphql_arguments)
    env.add_filter("money", money)
    env.add_filter("money_with_currency", money_with_currency)
    env.add_filter("money_without_currency", money_without_currency)
    env.add_filter("currency", currency)
    env.add_filter("handleize", handleize)
    env.add_filter("handle", handleize)
    env.add_filter("pluralize", pluralize)
    env.add_filter("add_tag", add_tag)
    env.add_filter("add_tags", add_tag)
    env.add_filter("remove_tag", remove_tag)
    env.add_filter("remove_tags", remove_tag)
