"""Outgoing-mail (SMTP) settings, read from the environment whenever mail is sent.

Reading at send time (not at import) lets an operator fix the configuration and retry failed
email runs without restarting workers, and lets tests point at a local server.

    RATCHET_SMTP_HOST        required
    RATCHET_SMTP_PORT        default 25 / 587 / 465 for none / starttls / tls
    RATCHET_SMTP_USERNAME    optional; with RATCHET_SMTP_PASSWORD enables AUTH
    RATCHET_SMTP_PASSWORD
    RATCHET_SMTP_TLS         none | starttls (default) | tls (implicit TLS)
    RATCHET_MAIL_FROM        required: the sender, "address" or "Name <address>"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal

from ratchet.errors import InvalidInput

TlsMode = Literal["none", "starttls", "tls"]
_DEFAULT_PORTS: dict[TlsMode, int] = {"none": 25, "starttls": 587, "tls": 465}


class MailConfigError(InvalidInput):
    """The SMTP environment is missing or malformed."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: TlsMode
    mail_from: str
    # Per SMTP command; a stalled server becomes a transient failure, not a hung activity.
    timeout: float = 30.0

    @property
    def from_name(self) -> str:
        return parseaddr(self.mail_from)[0]

    @property
    def from_address(self) -> str:
        return parseaddr(self.mail_from)[1]


def load_smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        return env.get(name, "").strip() or None

    host = get("RATCHET_SMTP_HOST")
    if host is None:
        raise MailConfigError("email is not configured: set RATCHET_SMTP_HOST and RATCHET_MAIL_FROM")
    tls = (get("RATCHET_SMTP_TLS") or "starttls").lower()
    if tls not in _DEFAULT_PORTS:
        raise MailConfigError(f"RATCHET_SMTP_TLS must be none, starttls or tls, got {tls!r}")
    port_text = get("RATCHET_SMTP_PORT")
    try:
        port = int(port_text) if port_text else _DEFAULT_PORTS[tls]
    except ValueError as error:
        raise MailConfigError(f"RATCHET_SMTP_PORT must be a number, got {port_text!r}") from error
    mail_from = get("RATCHET_MAIL_FROM")
    if mail_from is None or "@" not in parseaddr(mail_from)[1]:
        raise MailConfigError(f"RATCHET_MAIL_FROM must be a sender address, got {mail_from!r}")
    return SmtpSettings(
        host=host,
        port=port,
        username=get("RATCHET_SMTP_USERNAME"),
        password=env.get("RATCHET_SMTP_PASSWORD") or None,  # not stripped: spaces may be part of it
        tls=tls,
        mail_from=mail_from,
    )
