"""Mechanic's filters, registered on `MechanicEnvironment` (one module per group)."""

from __future__ import annotations

from liquid import Environment

from . import collections, crypto, csv, dates, json, shopify, strings


def register_filters(env: Environment) -> None:
    # strings first: it wraps stock filters for nil safety before others add theirs.
    strings.register(env)
    json.register(env)
    dates.register(env)
    crypto.register(env)
    collections.register(env)
    csv.register(env)
    shopify.register(env)
