"""`ratchet shop status`: the spec 10.3 schema, computed from the ledger (and Temporal for schedules)."""

from __future__ import annotations

import json
from datetime import timedelta

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.services.events import EventService, NewEvent
from ratchet.services.status import ledger_status, shop_status
from starter.api import Ratchet
from tests.support.cli import ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, wait_for_runs


async def test_status_counts_running_waiting_scheduled_and_lag(api: Ratchet, shop: str) -> None:
    await add_task(api, "Sleeper", '{% action "test_sleep", seconds: 4 %}', ["user/slow/go"])
    await add_task(api, "Hourly", '{% action "echo", x: 1 %}', ["mechanic/scheduler/hourly"])
    slow_event = await api.events.send("user/slow/go", None)
    await wait_for_runs(
        api, slow_event, lambda runs: any(r.state == RunState.started for r in of_kind(runs, RunKind.action))
    )

    # Events on a queue no worker polls stay Due: a backlog we control.
    parked = EventService(api.settings.updated(temporal={"task_queue": f"parked-{shop}"}), api.store, api.client)
    for _ in range(3):
        await parked.create(NewEvent(shop_id=shop, topic="user/queued/work"))
    await parked.create(NewEvent(shop_id=shop, topic="user/queued/later", run_at=utcnow() + timedelta(hours=1)))

    status = await shop_status(api.store, shop, api.client)
    assert status["shop"] == shop
    assert status["running"] == {"total": 1, "event": 0, "task": 0, "action": 1}
    assert status["waiting"] == {"total": 3, "event": 3, "task": 0, "action": 0}
    assert status["scheduled"] == 1
    assert status["top_waiting"]["event_topics"] == [{"topic": "user/queued/work", "count": 3}]
    assert [s["topic"] for s in status["schedules"]] == ["mechanic/scheduler/hourly"]
    assert status["schedules"][0]["next_run_at"] is not None
    later = ledger_status(api.store, shop, now=utcnow() + timedelta(seconds=100))
    assert later["queue_lag_seconds"] >= 100

    result = await ratchet(api.settings, api.settings.shop, "shop", "status", "--shop", shop, "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) >= {
        "shop",
        "generated_at",
        "running",
        "waiting",
        "scheduled",
        "queue_lag_seconds",
        "top_waiting",
        "schedules",
    }
    assert printed["waiting"]["event"] == 3


async def test_status_of_an_unknown_shop_prints_a_json_error(api: Ratchet) -> None:
    result = await ratchet(api.settings, api.settings.shop, "shop", "status", "--shop", "nope", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "error": {"message": "unknown shop 'nope'", "status": 404, "retry_after_seconds": None}
    }
