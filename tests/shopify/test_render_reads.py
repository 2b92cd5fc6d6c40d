"""Admin API reads during a render fail like Mechanic's: at once, naming the query's line, unless Shopify is down."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.core.runs import RunKind, RunState
from starter.api import Ratchet
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task
from tests.support.waiting import eventually, wait_for_runs

# The query sits on line 2, so errors must say "line 2".
SCRIPT = """{% comment %}probe the shop{% endcomment %}
{% assign result = "query Probe { shop { name } }" | shopify %}
{% action "echo", name: result.data.shop.name %}"""


async def _task_run(api: Ratchet, event_id: str, done: Any) -> Any:
    runs = await wait_for_runs(api, event_id, lambda rs: any(r.kind == RunKind.task and done(r) for r in rs))
    (task_run,) = [r for r in runs if r.kind == RunKind.task]
    return task_run


async def _connected_task(api: Ratchet, fake: ShopifyFake) -> None:
    await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)
    await add_task(api, "Probe", SCRIPT, ["user/probe/go"])


@pytest.mark.parametrize(
    ("status", "says"),
    [(401, "HTTP 401 (the shop's access token is invalid or was revoked"), (403, "HTTP 403"), (404, "HTTP 404")],
)
async def test_refused_reads_fail_the_run_at_once_naming_the_line(
    api: Ratchet, fake: ShopifyFake, status: int, says: str
) -> None:
    await _connected_task(api, fake)
    fake.fail_graphql("Probe", status)
    event_id = await api.events.send("user/probe/go", None)
    task_run = await _task_run(api, event_id, lambda r: r.state == RunState.failed)
    assert task_run.attempts == 1
    assert says in (task_run.error or "") and "(line 2, column" in (task_run.error or "")

    # Manually retryable: once the token works again, the retry succeeds.
    fake.reset()
    await api.runs.retry(task_run.id)
    await _task_run(api, event_id, lambda r: r.state == RunState.succeeded and r.attempts == 2)


async def test_graphql_errors_fail_the_run_at_once(api: Ratchet, fake: ShopifyFake) -> None:
    await _connected_task(api, fake)
    fake.on_graphql("Probe", errors=[{"message": "Field 'nope' doesn't exist on type 'Shop'"}])
    event_id = await api.events.send("user/probe/go", None)
    task_run = await _task_run(api, event_id, lambda r: r.state == RunState.failed)
    assert task_run.attempts == 1
    assert "Field 'nope' doesn't exist" in (task_run.error or "") and "line 2" in (task_run.error or "")


async def test_a_missing_token_fails_the_run_at_once(api: Ratchet) -> None:
    await add_task(api, "Probe", SCRIPT, ["user/probe/go"])
    event_id = await api.events.send("user/probe/go", None)
    task_run = await _task_run(api, event_id, lambda r: r.state == RunState.failed)
    assert task_run.attempts == 1 and "has no Shopify access token" in (task_run.error or "")


async def test_shopify_outages_are_retried(api: Ratchet, fake: ShopifyFake) -> None:
    await _connected_task(api, fake)
    fake.fail_graphql("Probe", 503)
    event_id = await api.events.send("user/probe/go", None)
    task_run = await _task_run(api, event_id, lambda r: r.attempts >= 1 and r.state == RunState.scheduled)
    assert "HTTP 503" in (task_run.error or "")
    fake.reset()  # Shopify is back

    async def succeeded() -> bool:
        run = await api.runs.get(task_run.id)
        return run.state == RunState.succeeded

    await eventually(succeeded)
    assert (await api.runs.get(task_run.id)).attempts == 2
