"""Test-only action types, and the context an action is performed in for tests that call one directly.

The test types are registered beside the built-in ones: the registry is the seam.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, TransientActionError, register
from ratchet.config import Settings, load_settings
from ratchet.services.events import EventService
from ratchet.store.database import Store
from ratchet.store.tables import Shop


class FlakyAction:
    """Fails transiently until attempt `succeed_on` (never, when absent)."""

    type: ClassVar[str] = "test_flaky"

    def validate(self, options: Any) -> Any:
        if not isinstance(options, dict):
            raise ActionOptionsError("options", "expected an object")
        return options

    async def perform(self, options: dict[str, Any], ctx: ActionContext) -> Any:
        succeed_on = options.get("succeed_on")
        if succeed_on is None or ctx.attempt < int(succeed_on):
            raise TransientActionError(f"flaky failure on attempt {ctx.attempt}")
        return {"attempt": ctx.attempt}


class SlowAction:
    """Sleeps `seconds`, for tests that need a run to be in flight."""

    type: ClassVar[str] = "test_sleep"

    def validate(self, options: Any) -> Any:
        return options

    async def perform(self, options: dict[str, Any], ctx: ActionContext) -> Any:
        await asyncio.sleep(float(options.get("seconds", 1)))
        return {"slept": options.get("seconds", 1)}


class BuggyAction:
    """Raises what no action should on its first attempt: stands in for a bug in Ratchet's own code."""

    type: ClassVar[str] = "test_bug"

    def validate(self, options: Any) -> Any:
        return options

    async def perform(self, options: dict[str, Any], ctx: ActionContext) -> Any:
        if ctx.attempt == 1:
            raise ZeroDivisionError("a bug")
        return {"attempt": ctx.attempt}


register(FlakyAction())
register(BuggyAction())
register(SlowAction())


def scaled_settings(time_scale: float) -> Settings:
    return load_settings(time_scale=time_scale)


def action_context(
    store: Store,
    shop: Shop,
    *,
    settings: Settings | None = None,
    events: EventService | None = None,
    run_id: str | None = None,
    api_version: str | None = None,
) -> ActionContext:
    """The first attempt of a fresh action run (a new run id unless one is given) for `shop`."""
    return ActionContext(
        settings=settings or load_settings(),
        store=store,
        shop=shop,
        run_id=run_id or str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        task_id=str(uuid.uuid4()),
        task_name="action test",
        shopify_api_version=api_version,
        attempt=1,
        events=events,
    )
