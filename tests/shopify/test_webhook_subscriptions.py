"""Ratchet keeps the shop's Shopify webhook subscriptions equal to what its enabled tasks need."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from temporalio.client import Client

from ratchet.services.status import shop_status
from ratchet.shopify.webhook_topics import WebhookTopic, webhook_topic_for
from ratchet.store.database import Store
from starter.api import Ratchet
from tests.support.cli import ratchet
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task, export
from tests.support.waiting import eventually
from worker import build_worker

PUBLIC_URL = "https://ratchet.example.com"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tasks"


def _ours(fake: ShopifyFake, shop: str) -> set[str]:
    callback = f"{PUBLIC_URL}/webhooks/shopify/{shop}"
    return {hook["topic"] for hook in fake.webhooks.values() if hook["uri"] == callback}


async def test_subscriptions_follow_enabled_tasks_and_leave_others_alone(
    api: Ratchet, client: Client, store: Store, fake: ShopifyFake
) -> None:
    # A worker that knows the public URL, on its own queue, for a shop only it has seen.
    shop = f"hooks-{uuid.uuid4().hex[:8]}"
    settings = api.settings.updated(
        shop=shop, temporal={"task_queue": f"webhooks-{shop}"}, ingress={"public_url": PUBLIC_URL}
    )
    public = Ratchet(settings, store, client)
    fake.webhooks["gid://shopify/WebhookSubscription/1"] = {"topic": "ORDERS_CREATE", "uri": "https://other.example/x"}
    fake.refuse_topic("PRODUCTS_UPDATE", "Access denied for products/update webhook: requires read_products")
    async with build_worker(client, settings, store):
        await public.shops.add(shop, shopify_domain=fake.base_url, access_token=fake.access_token)
        for name, topics in (
            ("Orders", ["shopify/orders/create", "shopify/products/update"]),
            ("Bulk", ["mechanic/shopify/bulk_operation", "shopify/customers/create"]),
        ):
            await add_task(public, name, '{% action "echo", x: 1 %}', topics)

        async def registered() -> set[str] | None:
            ours = _ours(fake, shop)
            return (
                ours if ours == {"ORDERS_CREATE", "SHOP_UPDATE", "BULK_OPERATIONS_FINISH", "CUSTOMERS_CREATE"} else None
            )

        await eventually(registered)
        # One subscription per topic, however many changes were made in a burst.
        assert len([h for h in fake.webhooks.values() if h["uri"].startswith(PUBLIC_URL)]) == 4

        async def refusal_recorded() -> dict[str, str] | None:
            # The reconcile records what Shopify refused once its creates are done.
            status = (await shop_status(store, shop, public_url=PUBLIC_URL))["shopify"]
            refused = {hook["topic"]: hook["error"] for hook in status["webhooks"] if hook["error"]}
            return refused or None

        refused = await eventually(refusal_recorded)
        assert "requires read_products" in refused["products/update"]
        # The task that needs the refused topic says so; the others have nothing to report.
        orders = await public.tasks.get("Orders")
        problems = await public.tasks.webhook_problems()
        assert list(problems) == [orders.id]
        assert "products/update" in problems[orders.id][0] and "requires read_products" in problems[orders.id][0]

        await public.tasks.disable("Bulk")

        async def shrunk() -> bool:
            return _ours(fake, shop) == {"ORDERS_CREATE", "SHOP_UPDATE"}

        await eventually(shrunk)
    # Someone else's subscription to the same topic was never touched.
    assert fake.webhooks["gid://shopify/WebhookSubscription/1"]["uri"] == "https://other.example/x"


async def test_without_a_public_url_nothing_is_registered(api: Ratchet, fake: ShopifyFake) -> None:
    await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)
    await add_task(api, "Orders", '{% action "echo", x: 1 %}', ["shopify/orders/create"])
    status = (await shop_status(api.store, api.settings.shop, public_url=None))["shopify"]
    assert "set RATCHET_PUBLIC_URL" in status["webhooks_note"] and status["webhooks"] == []
    assert fake.webhooks == {}


def test_every_documented_mechanic_topic_maps_to_a_shopify_enum() -> None:
    assert webhook_topic_for("shopify/orders/create") == WebhookTopic("orders/create")
    assert WebhookTopic("customer/tags_added").graphql_enum == "CUSTOMER_TAGS_ADDED"
    assert webhook_topic_for("mechanic/shopify/bulk_operation") == WebhookTopic("bulk_operations/finish")
    assert webhook_topic_for("user/orders/create") is None
    # Every Shopify topic the task library subscribes to is one Ratchet can register.
    subscribed = {
        line.split("+", 1)[0].strip()
        for path in CORPUS.glob("*.json")
        for line in json.loads(path.read_text()).get("subscriptions") or []
        if line.startswith("shopify/")
    }
    assert subscribed and all(webhook_topic_for(topic) for topic in subscribed)


async def test_import_and_enable_say_in_one_line_that_webhooks_need_a_public_url(api: Ratchet, tmp_path: Path) -> None:
    assert api.settings.ingress.public_url is None
    exported = tmp_path / "tagger.json"
    exported.write_text(json.dumps(export("Tagger", "{% log order.id %}", ["shopify/orders/create"])))
    imported = await ratchet(api.settings, api.settings.shop, "task", "import", str(exported))
    assert imported.returncode == 0, imported.stderr
    note = "note: 'Tagger' subscribes to Shopify topics (orders/create) but no Shopify webhooks are registered: set RATCHET_PUBLIC_URL"
    notes = [line for line in imported.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith(note)

    await ratchet(api.settings, api.settings.shop, "task", "disable", "Tagger")
    enabled = await ratchet(api.settings, api.settings.shop, "task", "enable", "Tagger")
    assert enabled.stdout.splitlines()[-1].startswith(note)

    # A task on Mechanic topics only needs no webhooks: nothing to say.
    await add_task(api, "Timer", "{% log 1 %}", ["mechanic/scheduler/daily"])
    quiet = await ratchet(api.settings, api.settings.shop, "task", "enable", "Timer")
    assert "note:" not in quiet.stdout
