"""Inbound email: an SMTP listener (aiosmtpd) making `mechanic/emails/received` events (spec 10.2).

Off unless RATCHET_INBOUND_SMTP_ADDRESS is set. Mail for `{shop}@{RATCHET_INBOUND_EMAIL_DOMAIN}`
(any domain when unset; `{shop}` is the shop's id or its myshopify subdomain, and a `+tag` is
kept as `mailbox_hash`) becomes one event per shop addressed:

- RCPT TO naming no shop (or another domain) is refused with 550, so the sending server bounces
  it at once; a message past RATCHET_INBOUND_EMAIL_MAX_BYTES is refused with 552 (the limit is
  announced in EHLO's SIZE).
- 250 is answered only once every addressed shop's event is stored and its workflow started
  (EventService.create); otherwise 451 asks the sender to try again later. A retried message
  creates no second event: the idempotency key is the message's SHA-256 digest, so a 250 lost
  on the wire costs nothing either. Nothing the listener has accepted is lost on restart.

The listener runs no TLS and no authentication, like any MX that accepts mail for its own
domains: put it behind your MTA or open it only to the hosts that relay to it.
https://aiosmtpd.aio-libs.org/en/latest/handlers.html
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from ratchet.config import InboundEmailSettings
from ratchet.core.clock import utcnow
from ratchet.core.inbound_email import received_email_data
from ratchet.services.events import EventService, NewEvent
from ratchet.store.database import Store
from ratchet.store.tables import Shop

EMAIL_TOPIC = "mechanic/emails/received"
EMAIL_SOURCE = "email"
MYSHOPIFY_SUFFIX = ".myshopify.com"

log = logging.getLogger("ratchet.inbound_email")


class InboundEmailHandler:
    """aiosmtpd's handler: recipients checked at RCPT, events created at DATA."""

    def __init__(self, store: Store, events: EventService, domain: str | None) -> None:
        self.store = store
        self.events = events
        self.domain = domain.lower() if domain else None

    def shop_for(self, address: str) -> str | None:
        """The shop `address` names, or None (blocking: reads the database)."""
        local, _, domain = address.lower().rpartition("@")
        if not local or (self.domain is not None and domain != self.domain):
            return None
        shop = local.partition("+")[0]
        with self.store.session() as session:
            for candidate in (shop, shop + MYSHOPIFY_SUFFIX):
                if session.get(Shop, candidate) is not None:
                    return candidate
        return None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            shop_id = await asyncio.to_thread(self.shop_for, address)
        except Exception:
            log.exception("inbound email: cannot look up %s", address)
            return "451 4.3.0 temporary failure, try again later"
        if shop_id is None:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        digest = hashlib.sha256(raw).hexdigest()
        received_at = utcnow()
        shops: dict[str, str] = {}
        for address in envelope.rcpt_tos:
            shop_id = await asyncio.to_thread(self.shop_for, address)
            if shop_id is not None:
                shops.setdefault(shop_id, address)
        try:
            data = {shop: received_email_data(raw, recipient=to, received_at=received_at) for shop, to in shops.items()}
        except Exception:  # the parser is lenient; what it still refuses, a retry will not fix
            log.exception("inbound email: unreadable message")
            return "554 5.6.0 the message could not be parsed"
        try:
            for shop_id, event_data in data.items():
                created = await self.events.create(
                    NewEvent(
                        shop_id=shop_id,
                        topic=EMAIL_TOPIC,
                        data=event_data,
                        source=EMAIL_SOURCE,
                        idempotency_key=f"email:{digest}",
                    )
                )
                log.info("inbound email", extra={"fields": {"shop": shop_id, "event_id": created.id}})
        except Exception:
            # Not accepted: the sending server keeps the message and tries again later.
            log.exception("inbound email: event not stored")
            return "451 4.3.0 could not store the message, try again later"
        return "250 OK: queued"


async def start_inbound_email(
    config: InboundEmailSettings, store: Store, events: EventService
) -> asyncio.AbstractServer:
    """Listen on RATCHET_INBOUND_SMTP_ADDRESS (the caller closes the server)."""
    host, port = config.host_and_port
    handler = InboundEmailHandler(store, events, config.domain)
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        return SMTP(handler, data_size_limit=config.max_bytes, enable_SMTPUTF8=True, ident="Ratchet")

    try:
        return await loop.create_server(protocol, host=host, port=port)
    except OSError as error:
        raise OSError(f"the inbound email listener could not listen on {host}:{port}: {error}") from error
