"""Shops connected by a grant: expiring tokens renewed in time, install links, rotation, nothing in plain text.

Tokens are renewed before expiry and after a 401, one renewal at a time; the install link's
callback checks its state, signature and shop.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from temporalio.client import ScheduleActionStartWorkflow

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.contract import GRANT_RENEWAL_WORKFLOW, GrantRenewalOutcome
from ratchet.engine.grant_renewal import GRANT_RENEWAL_SCHEDULE_ID, ensure_grant_renewal_schedule
from ratchet.services.shop_grants import AppCredentials, InstallCallbackError, complete_install, create_install_link
from ratchet.services.shops import PREVIOUS_SECRET_VALID_SECONDS
from ratchet.shopify.client import (
    AsyncShopifyClient,
    ShopifyConfig,
    ShopifyHTTPError,
    ShopTarget,
    is_transient,
)
from ratchet.shopify.domains import ShopDomainError, normalize_shop_domain
from ratchet.shopify.tokens import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, TokenKeeper
from ratchet.store.tables import Shop, ShopifyGrant
from starter.api import Ratchet, RatchetError
from tests.support.engine import TIME_SCALE
from tests.support.shopify_fake import ShopifyFake
from tests.support.shopify_fake_oauth import query_hmac
from tests.support.tasks import add_task
from tests.support.waiting import settled, wait_for_runs

# Shopify seconds: at TIME_SCALE 0.05 a client-credentials token lives 2 s, renewed after 1.8 s.
TOKEN_SECONDS = 40.0

READ_AND_WRITE = """{% assign read = "query { shop { name } }" | shopify %}
{% action "echo", name: read.data.shop.name %}
{% action "shopify" %}mutation { tagsAdd(id: "gid://shopify/Order/1", tags: ["seen"]) { userErrors { message } } }{% endaction %}"""


@pytest.fixture
def scaled_fake(shopify_fake_server: ShopifyFake) -> Iterator[ShopifyFake]:
    """The fake on the engine's clock, its tokens living seconds."""
    fake = shopify_fake_server
    fake.reset(time_scale=TIME_SCALE)
    fake.oauth.client_credentials_seconds = TOKEN_SECONDS
    fake.oauth.offline_token_seconds = TOKEN_SECONDS
    fake.on_graphql("tagsAdd", {"tagsAdd": {"userErrors": []}})
    yield fake
    fake.reset()


async def _connect(api: Ratchet, fake: ShopifyFake, secret: str | None = None) -> Shop:
    return await api.shops.connect(
        api.settings.shop,
        shop=fake.base_url,
        client_id=fake.oauth.client_id,
        client_secret=secret or fake.oauth.client_secret,
    )


def _raw_database(api: Ratchet) -> bytes:
    path = Path(api.settings.effective_database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


async def test_client_credentials_keep_tasks_running_across_expiries(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    fake = scaled_fake
    shop = await _connect(api, fake)
    assert shop.timezone == "America/New_York" and shop.access_token is not None
    await add_task(api, "Reader", READ_AND_WRITE, ["user/grants/tick"])

    # Events over four token lifetimes: every run must find a token Shopify accepts.
    deadline = asyncio.get_running_loop().time() + 4.2 * TOKEN_SECONDS * TIME_SCALE
    event_ids = []
    while asyncio.get_running_loop().time() < deadline:
        event_ids.append(await api.events.send("user/grants/tick", None))
        await asyncio.sleep(0.25)
    for event_id in event_ids:
        runs = await wait_for_runs(api, event_id, settled(2))
        assert all(run.state == RunState.succeeded for run in runs), [(r.kind, r.error) for r in runs]
        echo = next(r for r in runs if r.kind == RunKind.action and r.action_type == "echo")
        assert (await api.runs.get(echo.id)).result == {"name": "Fake Outfitters"}

    issued = list(fake.oauth.tokens)
    assert fake.oauth.grants.count(CLIENT_CREDENTIALS) >= 4, fake.oauth.grants
    raw = _raw_database(api)
    for secret in [*issued, fake.oauth.client_secret]:
        assert secret.encode() not in raw


async def test_a_rejected_token_is_renewed_once_and_the_call_repeated(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    fake = scaled_fake
    fake.oauth.client_credentials_seconds = 86399.0  # not due: only the 401 can trigger a renewal
    shop = await _connect(api, fake)
    await add_task(api, "Reader", READ_AND_WRITE, ["user/grants/tick"])
    fake.oauth.tokens.pop(str(shop.access_token))  # Shopify stops accepting it (revoked, expired early)
    seen = len(fake.requests)

    runs = await wait_for_runs(api, await api.events.send("user/grants/tick", None), settled(2))
    assert all(run.state == RunState.succeeded for run in runs), [(r.kind, r.error) for r in runs]
    assert fake.oauth.grants.count(CLIENT_CREDENTIALS) == 2
    refused = [r for r in fake.requests[seen:] if r.headers.get("x-shopify-access-token") == shop.access_token]
    assert len(refused) == 1  # one 401, then the renewed token for this call and the next

    # A grant Shopify refuses fails the run once, in one line, without retrying it.
    fake.oauth.client_secret = "rotated-elsewhere"
    current = (await api.shops.get()).access_token
    fake.oauth.tokens.pop(str(current))
    runs = await wait_for_runs(api, await api.events.send("user/grants/tick", None), settled(0))
    (task_run,) = [r for r in runs if r.kind == RunKind.task]
    assert task_run.state == RunState.failed and task_run.attempts == 1
    assert "Shopify refused the client_credentials grant" in str(task_run.error)


async def test_one_renewal_per_shop_at_a_time(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    fake = scaled_fake
    shop = await _connect(api, fake)
    keeper = TokenKeeper(api.store, time_scale=TIME_SCALE)
    tokens: list[str | None] = []

    def renew() -> None:
        usable = keeper.usable_token(shop.id, rejected=shop.access_token)
        tokens.append(usable.access_token if usable else None)

    threads = [threading.Thread(target=renew) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(tokens)) == 1 and tokens[0] != shop.access_token
    assert fake.oauth.grants.count(CLIENT_CREDENTIALS) == 2  # the connect, then one renewal for all eight
    with api.store.session() as session:
        grant = session.get(ShopifyGrant, shop.id)
        assert grant is not None and grant.renewal_lease_until is None


async def test_reconnecting_with_a_rotated_secret_keeps_the_old_one_for_an_hour(
    api: Ratchet, scaled_fake: ShopifyFake
) -> None:
    fake = scaled_fake
    await _connect(api, fake)
    old = fake.oauth.client_secret
    fake.oauth.client_secret = "fake-client-secret-2"
    before = utcnow()
    shop = await _connect(api, fake)
    assert shop.webhook_secret == "fake-client-secret-2" and shop.previous_webhook_secret == old
    window = timedelta(seconds=PREVIOUS_SECRET_VALID_SECONDS * TIME_SCALE)
    assert shop.previous_webhook_secret_expires_at is not None
    assert before + window <= shop.previous_webhook_secret_expires_at <= utcnow() + window


async def test_a_wrong_client_secret_saves_nothing(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    with pytest.raises(RatchetError, match=r"Shopify refused the client_credentials grant .*HTTP 400.*authentication"):
        await _connect(api, scaled_fake, secret="wrong")
    shop = await api.shops.get()
    assert shop.access_token is None and shop.webhook_secret is None and shop.shopify_domain is None


def _install(api: Ratchet, fake: ShopifyFake, shop_id: str, public_url: str = "https://ratchet.example") -> str:
    link = create_install_link(
        api.store,
        ShopifyConfig(time_scale=TIME_SCALE),
        shop_id,
        shop_domain=fake.base_url,
        app=AppCredentials(fake.oauth.client_id, fake.oauth.client_secret),
        scopes=["read_orders", "write_products"],
        public_url=public_url,
    )
    assert link.startswith(f"{fake.base_url}/admin/oauth/authorize?")
    query = dict(parse_qsl(urlsplit(link).query))
    assert query["redirect_uri"] == f"{public_url}/shopify/auth/callback"
    assert query["scope"] == "read_orders,write_products" and len(query["state"]) >= 32
    return link


def _approve(link: str) -> dict[str, str]:
    """The merchant approves: Shopify redirects to the callback with a signed query."""
    redirect = httpx.get(link, follow_redirects=False)
    assert redirect.status_code == 302
    return dict(parse_qsl(urlsplit(redirect.headers["location"]).query))


async def test_an_install_link_connects_a_shop_and_refreshes_its_token(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    fake = scaled_fake
    config = ShopifyConfig(time_scale=TIME_SCALE)
    params = _approve(_install(api, fake, "agency-client"))
    shop = await complete_install(api.store, config, params)
    assert shop.id == "agency-client" and shop.webhook_secret == fake.oauth.client_secret
    with api.store.session() as session:
        grant = session.get(ShopifyGrant, shop.id)
        assert grant is not None and grant.grant == AUTHORIZATION_CODE and grant.refresh_token
        first_refresh = grant.refresh_token
    # The link is single use.
    with pytest.raises(InstallCallbackError, match="unknown, expired or already used"):
        await complete_install(api.store, config, params)

    # A refresh whose answer was lost (another worker died before saving it) strands nothing:
    # Shopify still accepts the stored refresh token until its replacement is used.
    lost = httpx.post(
        f"{fake.base_url}/admin/oauth/access_token",
        data={
            "grant_type": "refresh_token",
            "client_id": fake.oauth.client_id,
            "client_secret": fake.oauth.client_secret,
            "refresh_token": first_refresh,
        },
    )
    assert lost.status_code == 200
    keeper = TokenKeeper(api.store, time_scale=TIME_SCALE)
    usable = keeper.usable_token(shop.id, rejected=shop.access_token)
    assert usable is not None and fake.oauth.valid(usable.access_token)
    with api.store.session() as session:
        grant = session.get(ShopifyGrant, shop.id)
        assert grant is not None and grant.refresh_token not in (None, first_refresh)
    # The refreshed pair keeps working: the next refresh uses the replacement.
    again = keeper.usable_token(shop.id, rejected=usable.access_token)
    assert again is not None and again.access_token != usable.access_token
    assert fake.oauth.grants == [AUTHORIZATION_CODE, "refresh_token", "refresh_token", "refresh_token"]


@pytest.mark.parametrize(
    ("changes", "signed", "message"),
    [
        ({"hmac": "0" * 64}, False, "not signed by Shopify"),
        ({"code": "another-code"}, False, "not signed by Shopify"),
        ({"state": "made-up"}, True, "unknown, expired or already used"),
        ({"shop": "evil.example.com"}, True, "named no valid shop"),
    ],
)
async def test_the_callback_refuses_what_shopify_did_not_send(
    api: Ratchet, scaled_fake: ShopifyFake, changes: dict[str, str], signed: bool, message: str
) -> None:
    params = _approve(_install(api, scaled_fake, "tampered")) | changes
    if signed:  # signed with the app's secret, yet still not acceptable
        params["hmac"] = query_hmac(params, scaled_fake.oauth.client_secret)
    with pytest.raises(InstallCallbackError, match=message):
        await complete_install(api.store, ShopifyConfig(time_scale=TIME_SCALE), params)
    with api.store.session() as session:
        assert session.get(Shop, "tampered") is None


async def test_a_callback_for_another_shop_is_refused(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    fake = scaled_fake
    params = _approve(_install(api, fake, "elsewhere"))
    fake.shop["myshopifyDomain"] = "someone-else.myshopify.com"  # the token reaches a different shop
    with pytest.raises(InstallCallbackError, match=r"is not fake-outfitters\.myshopify\.com"):
        await complete_install(api.store, ShopifyConfig(time_scale=TIME_SCALE), params)


def test_an_install_link_needs_a_public_url(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    with pytest.raises(RatchetError, match="RATCHET_PUBLIC_URL is required"):
        create_install_link(
            api.store,
            ShopifyConfig(),
            "x",
            shop_domain="acme",
            app=AppCredentials("id", "s"),
            scopes=["read_orders"],
            public_url=None,
        )


@pytest.mark.parametrize(
    ("given", "domain"),
    [
        ("acme", "acme.myshopify.com"),
        ("Acme.myshopify.com", "acme.myshopify.com"),
        ("https://acme.myshopify.com/admin", "acme.myshopify.com"),
        ("https://acme.myshopify.com/admin/orders?x=1", "acme.myshopify.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_shop_domains_are_normalized(given: str, domain: str) -> None:
    assert normalize_shop_domain(given) == domain


@pytest.mark.parametrize("given", ["shop.example.com", "https://shop.example.com/collections/all", "ftp://acme", ""])
def test_a_custom_domain_is_refused_in_one_line(given: str) -> None:
    with pytest.raises(ShopDomainError) as refused:
        normalize_shop_domain(given)
    assert "\n" not in str(refused.value)


async def test_a_redirect_names_the_myshopify_domain_and_is_never_retried(
    api: Ratchet, scaled_fake: ShopifyFake
) -> None:
    fake = scaled_fake
    fake.redirect_to = "fake-outfitters.myshopify.com"
    with pytest.raises(RatchetError, match=r"connect the shop as fake-outfitters\.myshopify\.com") as refused:
        await api.shops.set(api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token)
    assert "\n" not in str(refused.value)
    with pytest.raises(ShopifyHTTPError) as redirected:
        async with AsyncShopifyClient(ShopTarget.for_domain("x", fake.base_url, fake.access_token)) as client:
            await client.graphql("query { shop { name } }")
    assert redirected.value.status_code == 301 and not is_transient(redirected.value)


async def test_an_idle_shop_is_renewed_before_its_refresh_token_expires(api: Ratchet, scaled_fake: ShopifyFake) -> None:
    fake = scaled_fake
    idle = await complete_install(
        api.store, ShopifyConfig(time_scale=TIME_SCALE), _approve(_install(api, fake, "idle"))
    )

    async def run_pass() -> GrantRenewalOutcome:
        # As the daily `ratchet-grant-renewal` Schedule starts it, through the worker.
        return await api.client.execute_workflow(
            GRANT_RENEWAL_WORKFLOW,
            id=f"grant-renewal-{uuid.uuid4().hex[:8]}",
            task_queue=api.settings.temporal.task_queue,
            result_type=GrantRenewalOutcome,
        )

    def expire_soon(refresh_token: str | None = None) -> str | None:
        with api.store.session() as session:
            grant = session.get(ShopifyGrant, idle.id)
            assert grant is not None
            grant.refresh_token_expires_at = utcnow() + timedelta(hours=1)
            grant.refresh_token = refresh_token or grant.refresh_token
            session.add(grant)
            return grant.refresh_token

    await ensure_grant_renewal_schedule(api.client, api.settings)
    await ensure_grant_renewal_schedule(api.client, api.settings)  # every worker start calls it: idempotent
    described = await api.client.get_schedule_handle(GRANT_RENEWAL_SCHEDULE_ID).describe()
    assert isinstance(described.schedule.action, ScheduleActionStartWorkflow)
    assert described.schedule.action.workflow == GRANT_RENEWAL_WORKFLOW
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(days=1)]

    # A fresh refresh token (90 days) is far from the week's window: nothing to do.
    outcome = await run_pass()
    assert idle.id not in outcome.renewed and idle.id not in outcome.failed
    old_refresh = expire_soon()
    assert idle.id in (await run_pass()).renewed
    with api.store.session() as session:
        grant, shop = session.get(ShopifyGrant, idle.id), session.get(Shop, idle.id)
        assert grant is not None and shop is not None
        assert grant.refresh_token != old_refresh and fake.oauth.valid(shop.access_token)
        assert grant.refresh_token_expires_at is not None
        assert grant.refresh_token_expires_at > utcnow() + timedelta(days=1)
    # A grant Shopify no longer honours (the app was uninstalled) is reported, not retried forever.
    expire_soon("shprt_revoked")
    outcome = await run_pass()
    assert "Shopify refused the refresh_token grant" in outcome.failed[idle.id]
