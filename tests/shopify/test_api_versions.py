"""Admin API versions: the shop's default, a task's own, refused unknown names, inherited by action runs."""

from __future__ import annotations

from datetime import date

import pytest

from ratchet.core.api_versions import LATEST_STABLE_API_VERSION, UnknownApiVersion, check_api_version
from ratchet.core.runs import RunKind, RunState
from ratchet.store.tables import Run
from starter.api import Ratchet, RatchetError
from tests.support.cli import one_line_error, ratchet
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task, export
from tests.support.waiting import wait_for_runs

# A read during render and a Shopify action: both must speak the same version.
SCRIPT = """{% assign result = "query Probe { shop { name } }" | shopify %}
{% action "shopify" %}mutation { tagsAdd(id: "gid://shopify/Order/1", tags: ["seen"]) { userErrors { message } } }{% endaction %}"""


@pytest.mark.parametrize("name", ["2019-04", "2026-10", "2027-01", "unstable"])
def test_released_versions_and_the_release_candidate_are_known(name: str) -> None:
    assert check_api_version(name, today=date(2026, 12, 1)) == name


@pytest.mark.parametrize("name", ["2026-05", "2027-04", "2019-01", "26-10", "latest", ""])
def test_unknown_versions_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(UnknownApiVersion, match=r"^unknown Shopify API version .*2027-01.* or 'unstable'$"):
        check_api_version(name, today=date(2026, 12, 1))


async def test_import_and_configure_refuse_an_unknown_version(api: Ratchet) -> None:
    with pytest.raises(RatchetError, match=r"shopify_api_version: unknown Shopify API version '2026-05'"):
        await api.tasks.import_(export("Versioned", SCRIPT, ["user/probe/go"], shopify_api_version="2026-05"))
    assert await api.tasks.list() == []

    task = await add_task(api, "Versioned", SCRIPT, ["user/probe/go"], shopify_api_version="2026-07")
    with pytest.raises(RatchetError, match="unknown Shopify API version '2026-13'"):
        await api.tasks.configure(task.id, {}, api_version="2026-13")
    assert (await api.tasks.get(task.id)).shopify_api_version == "2026-07"


async def test_shop_set_refuses_an_unknown_version_in_one_line(api: Ratchet) -> None:
    result = await ratchet(
        api.settings, api.settings.shop, "shop", "set", api.settings.shop, "--api-version", "2025-11"
    )
    one_line_error(result, "unknown Shopify API version '2025-11'")
    assert (await api.shops.get(api.settings.shop)).shopify_api_version is None


def _versions_called(fake: ShopifyFake) -> list[str]:
    return [r.path.split("/")[3] for r in fake.requests if r.path.startswith("/admin/api/")]


async def _run_once(api: Ratchet) -> Run:
    event_id = await api.events.send("user/probe/go", None)
    runs = await wait_for_runs(
        api, event_id, lambda rs: any(r.kind == RunKind.action and r.state == RunState.succeeded for r in rs)
    )
    (action_run,) = [r for r in runs if r.kind == RunKind.action]
    with api.store.session() as session:
        row = session.get(Run, action_run.id)
        assert row is not None
        return row


async def test_reads_and_actions_use_the_task_version_else_the_shop_default(api: Ratchet, fake: ShopifyFake) -> None:
    fake.on_graphql("tagsAdd", {"tagsAdd": {"userErrors": []}})
    await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)
    task = await add_task(api, "Versioned", SCRIPT, ["user/probe/go"])

    # No version anywhere: Ratchet's newest stable one.
    fake.requests.clear()
    assert (await _run_once(api)).shopify_api_version == LATEST_STABLE_API_VERSION
    assert set(_versions_called(fake)) == {LATEST_STABLE_API_VERSION}

    # The shop's default, for tasks that name none.
    await api.shops.set(api.settings.shop, api_version="2026-04")
    fake.requests.clear()
    assert (await _run_once(api)).shopify_api_version == "2026-04"
    assert _versions_called(fake) == ["2026-04", "2026-04"]

    # The task's own version wins over the shop's.
    await api.tasks.configure(task.id, {}, api_version="2026-07")
    fake.requests.clear()
    assert (await _run_once(api)).shopify_api_version == "2026-07"
    assert _versions_called(fake) == ["2026-07", "2026-07"]
