"""A long attempt heartbeats until its render stops making progress; a short one never heartbeats."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities import runs
from activities.runs import _Heartbeat
from ratchet.services.perform import RENDER_STALL_SECONDS, RenderProgress

BEAT = 0.05


@pytest.fixture
def beats(monkeypatch: pytest.MonkeyPatch) -> tuple[ActivityEnvironment, list[Any]]:
    monkeypatch.setattr(runs, "HEARTBEAT_AFTER_SECONDS", BEAT)
    environment, seen = ActivityEnvironment(), []
    environment.on_heartbeat = lambda *details: seen.append(details)
    return environment, seen


async def test_a_long_attempt_heartbeats_until_its_render_stalls(beats: tuple[ActivityEnvironment, list[Any]]) -> None:
    environment, seen = beats
    progress = RenderProgress()

    async def attempt() -> tuple[int, int]:
        heartbeat = _Heartbeat(progress)
        # Beats keep coming while the render progresses (waited for, not timed: a loaded machine is slow).
        async with asyncio.timeout(60):
            while len(seen) < 3:
                await asyncio.sleep(BEAT)
        alive = len(seen)
        # The render's Shopify calls stopped answering: no more beats, so Temporal times it out.
        progress.last -= RENDER_STALL_SECONDS + 1
        await asyncio.sleep(BEAT * 6)
        heartbeat.stop()
        return alive, len(seen)

    alive, stalled = await environment.run(attempt)
    assert stalled - alive <= 1


async def test_a_short_attempt_never_heartbeats(beats: tuple[ActivityEnvironment, list[Any]]) -> None:
    environment, seen = beats

    async def attempt() -> None:
        heartbeat = _Heartbeat(None)
        await asyncio.sleep(BEAT / 5)
        heartbeat.stop()
        await asyncio.sleep(BEAT * 4)

    await environment.run(attempt)
    assert seen == []
