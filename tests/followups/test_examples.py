"""examples/: the dead man's switch from the monitoring document (spec 11), end to end."""

from __future__ import annotations

from pathlib import Path

from ratchet.core.runs import RunKind, RunState
from ratchet.services.shop_cache import CacheView
from starter.api import Ratchet
from tests.support.servers import SmtpServer
from tests.support.waiting import eventually, settled, wait_for_runs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def alerts(smtp: SmtpServer, run_ids: list[str]) -> list:
    return [message for run_id in run_ids for _, message in smtp.handler.delivered(run_id)]


async def tick(api: Ratchet, expected_actions: int) -> list[str]:
    """One mechanic/scheduler/10min event; the ids of its email action runs once all are done."""
    event_id = await api.events.send("mechanic/scheduler/10min", None)
    runs = await wait_for_runs(api, event_id, settled(expected_actions))
    return [r.id for r in runs if r.kind == RunKind.action and r.action_type == "email"]


async def test_dead_mans_switch(api: Ratchet, smtp_env: SmtpServer) -> None:
    imported = await api.tasks.import_(EXAMPLES / "dead-mans-switch.json")
    assert imported.task.enabled

    # No flag yet: the tick sends exactly one alert.
    first = await tick(api, 1)
    (alert,) = alerts(smtp_env, first)
    assert alert["Subject"] == "Monitor triggered!" and alert["To"] == "alerts@example.com"

    # The run button sets the flag (setex 600, scaled); a tick meanwhile only logs.
    trigger = await api.tasks.run(imported.task.name)
    trigger_runs = await wait_for_runs(api, trigger, settled(1))
    (cache_run,) = [r for r in trigger_runs if r.kind == RunKind.action]
    assert cache_run.action_type == "cache" and cache_run.state == RunState.succeeded
    assert await tick(api, 0) == []

    # Once the flag expires, the next tick alerts again.
    flags = CacheView(api.store, api.settings.shop)
    await eventually(lambda: _missing(flags), timeout=120)
    (alert,) = alerts(smtp_env, await tick(api, 1))
    assert alert["Subject"] == "Monitor triggered!"


async def _missing(flags: CacheView) -> bool:
    return "monitor-10min" not in flags
