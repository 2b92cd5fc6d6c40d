"""Inbound email: a real aiosmtpd listener, real SMTP deliveries (aiosmtplib), events in the real ledger."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlmodel import select
from temporalio.client import Client

from ratchet.config import InboundEmailSettings, Settings
from ratchet.core.inbound_email import received_email_data, stripped_reply
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.devserver import free_port
from ratchet.ingress.inbound_email import EMAIL_TOPIC, start_inbound_email
from ratchet.services.events import EventService
from ratchet.store.database import Store
from ratchet.store.tables import Event
from starter.api import Ratchet
from tests.support.ingress import running_ingress
from tests.support.servers import SmtpServer
from tests.support.waiting import of_kind, settled, wait_for_runs

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tasks"
DOMAIN = "inbound.example.com"
Listen = Callable[..., Any]


@pytest.fixture
async def listener(base_settings: Settings, store: Store, client: Client) -> AsyncIterator[Callable[..., Any]]:
    servers: list[asyncio.AbstractServer] = []

    async def listen(**settings: Any) -> int:
        port = free_port()
        config = InboundEmailSettings(address=f"127.0.0.1:{port}", **settings)
        servers.append(await start_inbound_email(config, store, EventService(base_settings, store, client)))
        return port

    yield listen
    for server in servers:
        server.close()
        await server.wait_closed()


def message(to: str, **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Ann Customer <ann@example.org>"
    mail["To"] = to
    mail["Cc"] = "Bob <bob@example.org>"
    mail["Reply-To"] = "replies@example.org"
    mail["Subject"] = "Where is my order?"
    mail["Message-ID"] = "<abc123@example.org>"
    mail["X-Mailer"] = "test"
    for name, value in headers.items():
        mail[name] = value
    mail.set_content("Order #1001 has not arrived.\n\nOn Mon, Dec 1, 2026 Shop wrote:\n> Your order shipped\n")
    mail.add_alternative("<p>Order #1001 has <b>not</b> arrived.</p>", subtype="html")
    mail.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
    return mail


def email_events(store: Store, shop_id: str) -> list[Event]:
    with store.session() as session:
        return list(session.exec(select(Event).where(Event.shop_id == shop_id, Event.topic == EMAIL_TOPIC)))


async def test_mail_to_a_shop_becomes_an_event(listener: Listen, store: Store, shop: str) -> None:
    port = await listener(domain=DOMAIN)
    await aiosmtplib.send(message(f"Shop <{shop}+orders@{DOMAIN}>"), hostname="127.0.0.1", port=port)
    [event] = email_events(store, shop)  # stored before the 250 that send() returned on
    data = event.data
    assert event.source == "email"
    assert data["from"] == "ann@example.org" and data["from_name"] == "Ann Customer"
    assert data["from_full"] == {"email": "ann@example.org", "name": "Ann Customer", "mailbox_hash": ""}
    assert data["to"] == f"Shop <{shop}+orders@{DOMAIN}>"
    assert data["to_full"] == [{"email": f"{shop}+orders@{DOMAIN}", "name": "Shop", "mailbox_hash": "orders"}]
    assert data["cc_full"] == [{"email": "bob@example.org", "name": "Bob", "mailbox_hash": ""}]
    assert data["mailbox_hash"] == "orders" and data["reply_to"] == "replies@example.org"
    assert data["subject"] == "Where is my order?" and data["message_id"] == "abc123@example.org"
    assert data["text_body"].startswith("Order #1001 has not arrived.")
    assert data["html_body"] == "<p>Order #1001 has <b>not</b> arrived.</p>\n"
    assert data["stripped_text_reply"] == "Order #1001 has not arrived."
    assert {"name": "X-Mailer", "value": "test"} in data["headers"]
    assert not {h["name"].lower() for h in data["headers"]} & {"from", "to", "subject"}
    [attachment] = data["attachments"]
    assert attachment == {
        "name": "receipt.pdf",
        "content": base64.b64encode(b"%PDF-1.4 receipt").decode(),
        "content_type": "application/pdf",
        "content_length": 16,
        "content_id": "",
    }
    assert datetime.fromisoformat(data["date"]).tzinfo is not None


async def test_unknown_recipients_are_refused_at_rcpt(listener: Listen, store: Store, shop: str) -> None:
    port = await listener(domain=DOMAIN)
    for to in (f"nobody@{DOMAIN}", f"{shop}@elsewhere.example.com"):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
            await aiosmtplib.send(message(to), hostname="127.0.0.1", port=port)
        assert raised.value.recipients[0].code == 550
    # With one known recipient the message is accepted for that shop only.
    refused, _ = await aiosmtplib.send(
        message(f"{shop}@{DOMAIN}"),
        recipients=[f"{shop}@{DOMAIN}", f"nobody@{DOMAIN}"],
        hostname="127.0.0.1",
        port=port,
    )
    assert list(refused) == [f"nobody@{DOMAIN}"]
    assert len(email_events(store, shop)) == 1


async def test_any_domain_when_none_is_configured(listener: Listen, store: Store, shop: str) -> None:
    port = await listener()
    await aiosmtplib.send(message(f"{shop}@anything.example.net"), hostname="127.0.0.1", port=port)
    assert len(email_events(store, shop)) == 1


async def test_oversized_mail_is_refused(listener: Listen, store: Store, shop: str) -> None:
    port = await listener(max_bytes=2000)
    big = message(f"{shop}@{DOMAIN}")
    big.add_attachment(b"x" * 5000, maintype="application", subtype="octet-stream", filename="big.bin")
    with pytest.raises(aiosmtplib.SMTPResponseException) as raised:
        await aiosmtplib.send(big, hostname="127.0.0.1", port=port)
    assert raised.value.code == 552
    assert email_events(store, shop) == []


async def test_a_redelivered_message_makes_one_event(listener: Listen, store: Store, shop: str) -> None:
    # A sender that lost our 250 delivers the same bytes again.
    port = await listener()
    raw = message(f"{shop}@{DOMAIN}").as_bytes()
    for _ in range(2):
        await aiosmtplib.send(
            raw, sender="ann@example.org", recipients=[f"{shop}@{DOMAIN}"], hostname="127.0.0.1", port=port
        )
    assert len(email_events(store, shop)) == 1


async def test_mail_that_cannot_be_stored_is_deferred(
    base_settings: Settings, store: Store, client: Client, shop: str
) -> None:
    # Temporal refuses the event's workflow (no such namespace): nothing is kept, and the
    # sending server is told to try again later instead of being told the mail was taken.
    elsewhere = Client(client.service_client, namespace="no-such-namespace", data_converter=client.data_converter)
    port = free_port()
    config = InboundEmailSettings(address=f"127.0.0.1:{port}")
    server = await start_inbound_email(config, store, EventService(base_settings, store, elsewhere))
    try:
        with pytest.raises(aiosmtplib.SMTPResponseException) as raised:
            await aiosmtplib.send(message(f"{shop}@{DOMAIN}"), hostname="127.0.0.1", port=port)
    finally:
        server.close()
        await server.wait_closed()
    assert raised.value.code == 451
    assert email_events(store, shop) == []


async def test_the_ingress_runs_the_listener_when_configured(
    base_settings: Settings, store: Store, client: Client, shop: str
) -> None:
    port = free_port()
    settings = base_settings.updated(inbound_email={"address": f"127.0.0.1:{port}", "domain": DOMAIN})
    async with running_ingress(settings, store, client):
        await aiosmtplib.send(message(f"{shop}@{DOMAIN}"), hostname="127.0.0.1", port=port)
    assert len(email_events(store, shop)) == 1
    with pytest.raises(aiosmtplib.SMTPConnectError):  # closed with the ingress
        await aiosmtplib.send(message(f"{shop}@{DOMAIN}"), hostname="127.0.0.1", port=port)


def test_stripped_reply_and_derived_text() -> None:
    assert stripped_reply("Thanks!\n\n-----Original Message-----\nFrom: x") == "Thanks!"
    assert stripped_reply("Yes please\n> earlier text") == "Yes please"
    html_only = EmailMessage()
    html_only["From"] = "a@example.org"
    html_only.set_content("<p>Hello <b>there</b></p>", subtype="html")
    data = received_email_data(html_only.as_bytes(), recipient="s@x", received_at=datetime.now(UTC))
    assert data["text_body"] == "Hello there\n" and data["to_full"] == [] and data["attachments"] == []


async def test_library_task_forwards_incoming_email(
    listener: Listen, api: Ratchet, shop: str, smtp_env: SmtpServer
) -> None:
    """Mechanic's library task "Forward incoming email to another address", unchanged."""
    export = json.loads((CORPUS / "forward-incoming-email-to-another-address.json").read_text())
    export["options"]["email_recipient__email_required"] = "staff@example.com"
    await api.tasks.import_(export)
    port = await listener(domain=DOMAIN)
    await aiosmtplib.send(message(f"{shop}@{DOMAIN}"), hostname="127.0.0.1", port=port)
    [event] = email_events(api.store, shop)
    [action_run] = of_kind(await wait_for_runs(api, event.id, settled(1)), RunKind.action)
    assert action_run.state == RunState.succeeded, action_run.error
    [(envelope, forward)] = smtp_env.handler.delivered(action_run.id)
    assert envelope.rcpt_tos == ["staff@example.com"]
    assert forward["Subject"] == "Where is my order?"
    assert forward["Reply-To"] == "ann@example.org"  # the task replies to the sender
    assert "Ann Customer (via Mechanic)" in forward["From"]
    [attachment] = list(forward.iter_attachments())
    assert attachment.get_filename() == "receipt.pdf" and attachment.get_content() == b"%PDF-1.4 receipt"
