"""email: one message over SMTP via aiosmtplib (spec 7.3), configured by the RATCHET_SMTP_* settings.

The HTML body goes out as multipart/alternative with a derived plain-text part. The message id
is derived from the action run's delivery id (the run id is repeated in `X-Ratchet-Run-Id`), so
an automatic retry or a crash re-delivery sends the same Message-ID and receiving systems can
drop the duplicate; a manual retry is a new message.

Result (undocumented in Mechanic, spec 13.23): {"message_id": "<…>", "to": [addresses],
"cc": [addresses], "bcc": [addresses]} — bare addresses, as delivered to.

Errors: SMTP 4xx replies and connection problems are transient; 5xx replies, refused
recipients, invalid addresses and missing configuration are permanent. When the server accepts
some recipients and refuses others the run fails permanently, because a retry would mail the
accepted ones again.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, ClassVar

import aiosmtplib

from ratchet.actions.base import (
    ActionContext,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    register,
)
from ratchet.actions.http import header_options
from ratchet.actions.smtp_settings import MailConfigError, load_smtp_settings
from ratchet.config import SmtpSettings
from ratchet.core.clock import utcnow
from ratchet.core.html_text import html_to_text
from ratchet.files import GeneratedFile, generate_files, parse_files

# Deliberately simple: catches typos and junk, leaves the rest to the SMTP server.
_ADDR_SPEC = (
    r"[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
# `address`, `Name <address>` or `"Name, with comma" <address>`; nothing else may ride along.
_MAILBOX_RE = re.compile(
    rf'(?P<address>{_ADDR_SPEC})|(?:"(?P<quoted>[^"\r\n]*)"|(?P<name>[^<>"\r\n]*?))\s*<(?P<bracketed>{_ADDR_SPEC})>'
)
# Headers Ratchet writes itself; overriding them would break delivery or idempotency.
_RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "x-ratchet-run-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


def _split_list(text: str) -> list[str]:
    """Split an address list on commas outside quotes and angle brackets ("Doe, J" <j@x.com>)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char in "<>" and not quoted:
            angled = char == "<"
        elif char == "," and not quoted and not angled:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _addresses(field_name: str, value: Any) -> list[str]:
    """Recipients from an array or a comma-separated string, as "Name <address>" or "address"."""
    if value is None or value == "":
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ActionOptionsError(field_name, "must be an email address, a comma-separated string or an array of them")
    result: list[str] = []
    for entry in (part for item in items for part in _split_list(item)):
        match = _MAILBOX_RE.fullmatch(entry)
        if match is None:
            raise ActionOptionsError(field_name, f"{entry!r} is not a valid email address")
        name = (match["quoted"] or match["name"] or "").strip()
        result.append(formataddr((name, match["address"] or match["bracketed"])))
    return result


def _bare(addresses: list[str]) -> list[str]:
    return [parseaddr(address)[1] for address in addresses]


def _single_line(field_name: str, value: Any, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ActionOptionsError(field_name, "is required")
        return None
    if not isinstance(value, str):
        raise ActionOptionsError(field_name, f"must be a string, got {value!r}")
    # Liquid output often carries stray line breaks; a header must not.
    return " ".join(value.split())


def _headers(value: Any) -> dict[str, str]:
    headers = header_options(value)
    for name in headers:
        if name.lower() in _RESERVED_HEADERS:
            raise ActionOptionsError(f"headers.{name}", "is set by Ratchet; use the action's own option instead")
    return headers


def _smtp_error(error: aiosmtplib.SMTPResponseException, what: str) -> PermanentActionError | TransientActionError:
    message = f"{what}: SMTP {error.code} {error.message}"
    return TransientActionError(message) if 400 <= error.code < 500 else PermanentActionError(message)


class EmailAction:
    type: ClassVar[str] = "email"

    def validate(self, options: Any) -> dict[str, Any]:
        """Normalise the options.

        The result holds "to", "cc", "bcc" (lists), "reply_to", "subject", "body",
        "from_display_name", "headers" and "attachments" ({filename: FileSpec}, generated when sending).
        """
        if not isinstance(options, dict):
            raise ActionOptionsError("options", "must be a hash")
        if options.get("template") not in (None, ""):
            raise ActionOptionsError("template", "email templates are not supported by Ratchet")
        to = _addresses("to", options.get("to"))
        if not to:
            raise ActionOptionsError("to", "is required")
        reply_to = _addresses("reply_to", options.get("reply_to"))
        if len(reply_to) > 1:
            raise ActionOptionsError("reply_to", "must be a single address")
        body = options.get("body")
        if not isinstance(body, str) or not body.strip():
            raise ActionOptionsError("body", "is required (HTML)")
        return {
            "to": to,
            "cc": _addresses("cc", options.get("cc")),
            "bcc": _addresses("bcc", options.get("bcc")),
            "reply_to": reply_to[0] if reply_to else None,
            "subject": _single_line("subject", options.get("subject"), required=True),
            "body": body,
            "from_display_name": _single_line("from_display_name", options.get("from_display_name"), required=False),
            "headers": _headers(options.get("headers")),
            "attachments": parse_files("attachments", options.get("attachments")),
        }

    async def perform(self, options: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        try:
            smtp = load_smtp_settings(ctx.settings)
        except MailConfigError as error:
            raise PermanentActionError(str(error)) from error
        attachments = await generate_files(options["attachments"], ctx.settings.pdf_browser)
        message = self._message(options, attachments, smtp, ctx)
        result = {
            "message_id": message["Message-ID"],
            "to": _bare(options["to"]),
            "cc": _bare(options["cc"]),
            "bcc": _bare(options["bcc"]),
        }
        recipients = list(dict.fromkeys(result["to"] + result["cc"] + result["bcc"]))
        try:
            refused, _ = await aiosmtplib.send(
                message,
                sender=smtp.from_address,
                recipients=recipients,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password.get_secret_value() if smtp.password else None,
                use_tls=smtp.tls == "tls",
                start_tls=smtp.tls == "starttls",
                timeout=smtp.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:  # every recipient refused
            codes = [refusal.code for refusal in error.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
            if all(400 <= code < 500 for code in codes):
                raise TransientActionError(f"recipients temporarily refused: {detail}") from error
            raise PermanentActionError(f"recipients refused: {detail}") from error
        except aiosmtplib.SMTPResponseException as error:
            raise _smtp_error(error, f"sending to {smtp.host}:{smtp.port} failed") from error
        except OSError as error:  # connection refused/reset, timeouts, TLS failures
            raise TransientActionError(f"cannot reach SMTP server {smtp.host}:{smtp.port}: {error}") from error
        except aiosmtplib.SMTPException as error:  # e.g. STARTTLS or AUTH not offered: configuration
            raise PermanentActionError(f"SMTP server {smtp.host}:{smtp.port}: {error}") from error
        if refused:
            detail = "; ".join(f"{address}: {reply.code} {reply.message}" for address, reply in refused.items())
            raise PermanentActionError(
                f"sent, but some recipients were refused: {detail}", result={**result, "refused": sorted(refused)}
            )
        return result

    @staticmethod
    def _message(
        options: dict[str, Any], attachments: dict[str, GeneratedFile], smtp: SmtpSettings, ctx: ActionContext
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = formataddr((options["from_display_name"] or smtp.from_name, smtp.from_address))
        message["To"] = ", ".join(options["to"])
        if options["cc"]:
            message["Cc"] = ", ".join(options["cc"])
        if options["reply_to"]:
            message["Reply-To"] = options["reply_to"]
        message["Subject"] = options["subject"]
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = f"<ratchet.{ctx.delivery_id}@{smtp.from_address.rpartition('@')[2]}>"
        message["X-Ratchet-Run-Id"] = ctx.run_id
        for name, value in options["headers"].items():
            message[name] = value
        message.set_content(html_to_text(options["body"]))
        message.add_alternative(options["body"], subtype="html")
        for filename, attachment in attachments.items():
            maintype, _, subtype = attachment.mime_type.partition("/")
            message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=filename)
        return message


register(EmailAction())
