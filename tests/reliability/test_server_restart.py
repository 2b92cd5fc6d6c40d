"""Stop and restart the Temporal server mid-run: every run still reaches a terminal state.

Uses its own dev server (same settings as the session one), so the rest of the suite never
sees the outage.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.connection import connect
from ratchet.engine.devserver import DevServer, free_port
from ratchet.services.events import EventService, NewEvent
from ratchet.store.tables import Run
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import eventually
from worker import build_worker

pytestmark = pytest.mark.reliability
EVENTS = 20


async def test_server_restart_mid_run_leaves_every_run_terminal(ratchet_api: Ratchet, tmp_path: Path) -> None:
    server = DevServer(
        db_path=tmp_path / "restart.db", port=free_port(), ui_port=None, log_path=tmp_path / "temporal.log"
    )
    await server.start()
    try:
        settings = ratchet_api.settings.updated(
            shop=f"restart-{uuid.uuid4().hex[:8]}", temporal={"address": server.address, "task_queue": "restart"}
        )
        client = await connect(settings)
        api = Ratchet(settings, ratchet_api.store, client)
        await api.shops.add(settings.shop, timezone_name="UTC")
        await add_task(
            api,
            "Slow",
            '{% action "test_sleep", seconds: 1 %}{% action "echo", n: event.data %}',
            ["user/restart/test"],
        )
        events = EventService(settings, api.store, client)
        async with build_worker(client, settings, api.store):
            event_ids = [
                (await events.create(NewEvent(shop_id=settings.shop, topic="user/restart/test", data=n))).id
                for n in range(EVENTS)
            ]

            def runs() -> list[Run]:
                with api.store.session() as session:
                    return list(session.exec(select(Run).where(Run.shop_id == settings.shop)))

            await eventually(
                lambda: asyncio.to_thread(
                    lambda: any(r.kind == RunKind.action and r.state == RunState.started for r in runs())
                )
            )
            server.stop()  # SIGTERM while actions are in flight
            await asyncio.sleep(3)
            await server.start()

            def all_terminal() -> list[Run] | None:
                current = runs()
                actions = [r for r in current if r.kind == RunKind.action]
                return current if len(actions) == 2 * EVENTS and all(r.state.terminal for r in current) else None

            final = await eventually(lambda: asyncio.to_thread(all_terminal), timeout=240, interval=1)
    finally:
        server.stop()
    states = Counter((r.kind.value, r.state.value) for r in final)
    print(f"\nserver restart mid-run: {EVENTS} events, {len(final)} runs, all terminal: {dict(sorted(states.items()))}")
    assert {r.event_id for r in final} == set(event_ids)
    assert all(r.state.terminal for r in final)
