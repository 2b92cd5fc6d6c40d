"""Shopify rate-limit gating end to end (issue 5 item 8): a saturated shop waits, others flow.

The Shopify fake runs on the engine's time scale, so its bucket refills as fast (in wall time)
as the engine's projection expects. The test drains shop A's GraphQL bucket through the real
client, which records the exhaustion in the store for every worker to see.
"""

from __future__ import annotations

from ratchet.core.runs import RunKind, RunState
from ratchet.shopify import AsyncShopifyClient, ShopifyConfig, ShopTarget
from starter.api import Ratchet
from tests.support.engine import TIME_SCALE
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task, export
from tests.support.waiting import of_kind, settled, wait_for_runs

TAG_MUTATION = """
{% action "shopify" %}
  mutation { tagsAdd(id: "gid://shopify/Product/1", tags: ["seen"]) { userErrors { field message } } }
{% endaction %}
"""


async def test_saturated_shop_waits_while_other_work_flows(
    api: Ratchet, shopify_fake_server: ShopifyFake, http_server: str
) -> None:
    fake = shopify_fake_server
    fake.reset(time_scale=TIME_SCALE)
    # Recovery to half the bucket at 2 points/s takes ~250 Shopify seconds (~12 s here): room
    # for shop B's whole event to finish first even on a loaded machine.
    fake.set_graphql_bucket(maximum=1000, restore_rate=2, available=1000)
    fake.on_graphql("drain", {"shop": {"name": "Fake"}}, cost=990)
    # Costs more than the half bucket the gate waits for: the action itself is throttled once.
    fake.on_graphql("tagsAdd", {"tagsAdd": {"userErrors": []}}, cost=800)
    shop_a = await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)
    shop_b = f"{shop_a.id}-other"
    await api.shops.add(shop_b, timezone_name="UTC")
    await add_task(api, "Tagger", TAG_MUTATION, ["user/tag/go"])
    await api.tasks.import_(
        export("Pinger", '{% action "http", method: "get", url: event.data.url %}', ["user/ping/go"]), shop_id=shop_b
    )

    async with AsyncShopifyClient(
        ShopTarget.from_shop(shop_a), config=ShopifyConfig(time_scale=TIME_SCALE), store=api.store
    ) as client:
        await client.graphql("{ drain: shop { name } }")

    tagged = await api.events.send("user/tag/go", None)
    waiting = await wait_for_runs(api, tagged, lambda rs: len(of_kind(rs, RunKind.task)) == 1)
    pinged = await api.events.send("user/ping/go", {"url": f"{http_server}/echo"}, shop_id=shop_b)
    other_shop = Ratchet(api.settings.updated(shop=shop_b), api.store, api.client)
    b_runs = await wait_for_runs(other_shop, pinged, settled(1))
    (http_run,) = of_kind(b_runs, RunKind.action)
    assert http_run.state == RunState.succeeded and http_run.attempts == 1

    # Meanwhile shop A's task run waited in Due without starting or spending an attempt.
    (task_run,) = of_kind(await api.runs.list(event_id=tagged), RunKind.task)
    assert task_run.id == of_kind(waiting, RunKind.task)[0].id
    assert (task_run.state, task_run.attempts, task_run.started_at) == (RunState.due, 0, None)

    runs = await wait_for_runs(api, tagged, settled(1), timeout=120)
    (task_run,) = of_kind(runs, RunKind.task)
    (action_run,) = of_kind(runs, RunKind.action)
    assert [r.state for r in runs] == [RunState.succeeded] * 3
    assert task_run.attempts == 1 and action_run.attempts == 1
    assert task_run.started_at is not None and http_run.stopped_at is not None
    assert task_run.started_at > http_run.stopped_at
    # The action met the still-low bucket, waited in Due, and its one attempt is the successful one.
    detail = await api.runs.get(action_run.id)
    assert any("Shopify rate limit reached" in n["note"] for n in detail.notes)
    assert [a["ok"] for a in detail.attempt_log] == [True]
    assert detail.result["data"] == {"tagsAdd": {"userErrors": []}}
