"""Fixtures for the integration actions.

A shop with connected accounts, and a context for it whose settings point every integration at
the local fakes (tests/support/integration_fakes.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ratchet.actions.base import ActionContext, get_handler
from ratchet.config import load_settings
from ratchet.services import accounts
from ratchet.store.database import Store
from ratchet.store.tables import Shop
from tests.support.actions import action_context
from tests.support.integration_fakes import IntegrationFakes

GOOGLE_ACCOUNT = "sheets@example.com"


@pytest.fixture
def connected_shop(sqlite_store: Store, integration_fakes: IntegrationFakes) -> str:
    """A new shop with a Slack bot, an Airtable token and a Google service account connected."""
    shop_id = f"integrations-{uuid.uuid4().hex[:10]}"
    with sqlite_store.session() as session:
        session.add(Shop(id=shop_id, timezone="UTC"))
    accounts.add_account(sqlite_store, shop_id, "slack", "workspace", integration_fakes.slack_token)
    accounts.add_account(sqlite_store, shop_id, "airtable", "base", integration_fakes.airtable_token)
    key = integration_fakes.new_service_account(f"robot-{shop_id}@ratchet-tests.iam.gserviceaccount.com")
    accounts.add_account(sqlite_store, shop_id, "google", GOOGLE_ACCOUNT, json.dumps(key))
    return shop_id


@pytest.fixture
def perform(sqlite_store: Store, integration_fakes: IntegrationFakes, connected_shop: str) -> Callable[..., Any]:
    """Validate and perform one action (type, options) as the connected shop."""
    settings = load_settings().updated(integrations=integration_fakes.integration_settings())

    async def run(action_type: str, options: Any) -> Any:
        handler = get_handler(action_type)
        ctx: ActionContext = action_context(sqlite_store, Shop(id=connected_shop), settings=settings)
        return await handler.perform(handler.validate(options), ctx)

    return run
