"""Test-only action types, registered beside the built-in ones (the registry is the seam)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, TransientActionError, register


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


register(FlakyAction())
register(SlowAction())
