"""An email message as `mechanic/emails/received` event data (spec 10.2).

Mechanic hands tasks Postmark's inbound JSON with snake_case keys
(https://learn.mechanic.dev/platform/email/receiving-email; fields as in Postmark's inbound
webhook, https://postmarkapp.com/developer/webhooks/inbound-webhook):

    from, from_name, from_full {email, name, mailbox_hash}, to, to_full [...], cc, cc_full [...],
    bcc, bcc_full [...], original_recipient, reply_to, subject, message_id, mailbox_hash,
    date (ISO 8601, when Ratchet received it), text_body, html_body, stripped_text_reply,
    tag, message_stream, headers [{name, value}], attachments [{name, content (base64),
    content_type, content_length, content_id}]

`mailbox_hash` is the part after "+" in the recipient's local part (`shop+orders@…` → "orders").
Without a text/plain part the text body is derived from the HTML one. `stripped_text_reply` is
the text before the quoted message ("On … wrote:", "-----Original Message-----", "> " lines),
as Postmark's reply parsing isolates it.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from ratchet.core.html_text import html_to_text

# Fields lifted out of `headers` into their own keys, as Postmark does.
_LIFTED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "reply-to", "content-type", "content-transfer-encoding"}
)
_QUOTE_START = re.compile(
    r"^(On .+ wrote:|-{2,}\s*Original Message\s*-{2,}|_{5,}|From: .+|Sent from my .+)\s*$|^>", re.MULTILINE
)


def _address(name: str, email: str) -> dict[str, str]:
    local = email.rpartition("@")[0]
    return {"email": email, "name": name, "mailbox_hash": local.partition("+")[2]}


def _addresses(message: EmailMessage, header: str) -> tuple[str, list[dict[str, str]]]:
    values = message.get_all(header) or []
    text = ", ".join(str(value) for value in values)
    return text, [_address(name, email) for name, email in getaddresses([str(value) for value in values]) if email]


def _bodies(message: EmailMessage) -> tuple[str, str]:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    html = _content_text(html_part) if html_part is not None else ""
    text = _content_text(text_part) if text_part is not None else ""
    if not text and html:
        text = html_to_text(html)
    return text, html


def _content_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        content = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")  # type: ignore[union-attr]
    text = content if isinstance(content, str) else content.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")  # SMTP's line ends, not the sender's


def _attachments(message: EmailMessage) -> list[dict[str, Any]]:
    found = []
    for part in message.walk():
        if part.is_multipart() or part in (message.get_body(("plain",)), message.get_body(("html",))):
            continue
        disposition = part.get_content_disposition()
        if disposition is None and part.get_filename() is None and part.get("Content-ID") is None:
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        found.append(
            {
                "name": part.get_filename() or "",
                "content": base64.b64encode(content).decode("ascii"),
                "content_type": part.get_content_type(),
                "content_length": len(content),
                "content_id": str(part.get("Content-ID") or ""),
            }
        )
    return found


def stripped_reply(text: str) -> str:
    """The reply above the quoted message, as Postmark's StrippedTextReply."""
    match = _QUOTE_START.search(text)
    return (text[: match.start()] if match else text).strip()


def received_email_data(raw: bytes, *, recipient: str, received_at: datetime) -> dict[str, Any]:
    """The event data for `raw` (an RFC 5322 message) delivered to `recipient`."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage objects
    _, from_full = _addresses(message, "From")
    to_text, to_full = _addresses(message, "To")
    cc_text, cc_full = _addresses(message, "Cc")
    bcc_text, bcc_full = _addresses(message, "Bcc")
    sender = from_full[0] if from_full else _address("", "")
    text_body, html_body = _bodies(message)
    reply_to = message.get("Reply-To")
    recipient_local = recipient.rpartition("@")[0]
    return {
        "from": sender["email"],
        "from_name": sender["name"],
        "from_full": sender,
        "to": to_text,
        "to_full": to_full,
        "cc": cc_text,
        "cc_full": cc_full,
        "bcc": bcc_text,
        "bcc_full": bcc_full,
        "original_recipient": recipient,
        "reply_to": _bare_addresses(str(reply_to)) if reply_to else "",
        "subject": str(message.get("Subject") or ""),
        "message_id": str(message.get("Message-ID") or "").strip().strip("<>"),
        "mailbox_hash": recipient_local.partition("+")[2],
        "date": received_at.isoformat(),
        "text_body": text_body,
        "html_body": html_body,
        "stripped_text_reply": stripped_reply(text_body),
        "tag": "",
        "message_stream": "inbound",
        "headers": [
            {"name": name, "value": str(value)}
            for name, value in message.items()
            if name.lower() not in _LIFTED_HEADERS
        ],
        "attachments": _attachments(message),
    }


def _bare_addresses(text: str) -> str:
    return ", ".join(email for _, email in getaddresses([text]) if email)
