"""Per-shop fairness: one shop's flood never starves another.

Every event workflow and run activity carries its shop as Temporal fairness key (the dev server
runs with matching.enableFairness); a shop that queues one event behind another shop's 500
is served within the first few dispatches instead of after the whole backlog.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlmodel import col, func, select

from ratchet.core.runs import RunKind, RunState
from ratchet.services.events import EventService, NewEvent
from ratchet.store.tables import Run
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs
from worker import build_worker

FLOOD = 500


async def test_a_flooded_shop_does_not_starve_another(ratchet_api: Ratchet) -> None:
    # A dedicated queue: the backlog builds with no worker, then one activity slot drains it.
    settings = ratchet_api.settings.updated(temporal={"task_queue": f"fairness-{uuid.uuid4().hex[:8]}"})
    api = Ratchet(settings, ratchet_api.store, ratchet_api.client)
    shops = {}
    for label in ("a", "b"):
        shops[label] = f"fair-{label}-{uuid.uuid4().hex[:8]}"
        await api.shops.add(shops[label], timezone_name="UTC")
        await add_task(
            Ratchet(settings.updated(shop=shops[label]), api.store, api.client),
            "Work",
            '{% action "echo", n: event.data %}',
            ["user/flood/item"],
        )

    events = EventService(settings, api.store, api.client)
    gate = asyncio.Semaphore(25)

    async def send(shop_id: str, n: int) -> str:
        async with gate:
            return (await events.create(NewEvent(shop_id=shop_id, topic="user/flood/item", data=n))).id

    await asyncio.gather(*(send(shops["a"], n) for n in range(FLOOD)))
    b_event = await send(shops["b"], 0)

    b_api = Ratchet(settings.updated(shop=shops["b"]), api.store, api.client)
    async with build_worker(api.client, settings, api.store, max_concurrent_activities=1):
        runs = await wait_for_runs(b_api, b_event, settled(1), timeout=300)
    (b_action,) = of_kind(runs, RunKind.action)
    assert b_action.state == RunState.succeeded and b_action.stopped_at is not None

    with api.store.session() as session:
        a_done_before_b = session.exec(
            select(func.count()).where(
                Run.shop_id == shops["a"],
                Run.kind == RunKind.action,
                Run.state == RunState.succeeded,
                col(Run.stopped_at) <= b_action.stopped_at,
            )
        ).one()
        a_events_started = session.exec(
            select(func.count()).where(Run.shop_id == shops["a"], Run.kind == RunKind.event, Run.state != RunState.due)
        ).one()
    print(
        f"\nfairness: shop B's action finished after {a_done_before_b} of shop A's {FLOOD} actions "
        f"({a_events_started} of A's event runs had been dispatched when the worker stopped)"
    )
    # FIFO would serve B after all of A's backlog; fairness serves it within the first dispatches.
    assert a_done_before_b < FLOOD // 10
