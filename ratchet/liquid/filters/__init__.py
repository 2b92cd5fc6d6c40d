"""Mechanic's filters, registered on `MechanicEnvironment` (one module per group)."""

from __future__ import annotations

from liquid import Environment

from . import browser, collections, crypto, csv, dates, json, shopify, standard, strings, xml


def register_filters(env: Environment) -> None:
    # Ruby Liquid's standard filters first: Mechanic's groups extend some of them.
    standard.register(env)
    strings.register(env)
    json.register(env)
    dates.register(env)
    crypto.register(env)
    collections.register(env)
    csv.register(env)
    browser.register(env)
    xml.register(env)
    shopify.register(env)
