"""email action delivering to a real local aiosmtpd server."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from ratchet.actions.base import (
    ActionContext,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    get_handler,
)
from ratchet.core.html_text import html_to_text
from ratchet.engine.devserver import free_port
from ratchet.files import FileOptionsError
from tests.support.servers import SMTP_PASSWORD, SMTP_USER, SmtpServer

# The AUTH test server allows plain-text AUTH on loopback, which aiosmtpd warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

handler = get_handler("email")
MakeCtx = Callable[..., ActionContext]
BASE = {"to": "ann@example.com", "subject": "Hello", "body": "<p>Hi</p>"}


async def send(options: Any, ctx: ActionContext) -> Any:
    return await handler.perform(handler.validate(options), ctx)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to": None}, "to"),
        ({"to": ""}, "to"),
        ({"to": "not-an-address"}, "to"),
        ({"to": ["ann@example.com", "bob@"]}, "to"),
        ({"to": "ann@example.com, bob@"}, "to"),
        ({"to": "ann@example.com\nBcc: x@example.com"}, "to"),
        ({"to": 42}, "to"),
        ({"cc": "ann@example"}, "cc"),
        ({"bcc": ["x y@example.com"]}, "bcc"),
        ({"reply_to": "a@example.com, b@example.com"}, "reply_to"),
        ({"subject": "  "}, "subject"),
        ({"subject": ["x"]}, "subject"),
        ({"body": None}, "body"),
        ({"headers": {"Subject": "sneaky"}}, "headers.Subject"),
        ({"headers": {"X-Tag": "a\nBcc: evil@example.com"}}, "headers.X-Tag"),
        ({"attachments": {"a.pdf": {"pdf": {"html": ""}}}}, "attachments.a.pdf"),
        ({"attachments": {"a.pdf": {"pdf": {"html": "<p>x</p>", "encrypt": True}}}}, "attachments.a.pdf"),
        ({"attachments": {"a.zip": {"zip": {"files": {"../x": "y"}}}}}, "attachments.a.zip"),
        ({"attachments": {"a.txt": {"url": "ftp://example.com/a"}}}, "attachments.a.txt"),
        ({"attachments": {"a.bin": {"base64": "%%%"}}}, "attachments.a.bin"),
        ({"attachments": {"a.bin": 5}}, "attachments.a.bin"),
        ({"template": "fancy"}, "template"),
    ],
)
def test_invalid_options_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises((ActionOptionsError, FileOptionsError)) as raised:
        handler.validate({**BASE, **changes})
    error = raised.value
    assert isinstance(error, (ActionOptionsError, FileOptionsError))
    assert error.field_name == field
    assert not error.retryable


def test_html_to_text() -> None:
    html = "<html><head><style>p{color:red}</style></head><body><h1>Alert</h1><p>Stock   is\n low.</p><ul><li>A</li><li>B</li></ul><a href='https://x.example/fix'>Fix it</a></body></html>"
    assert html_to_text(html) == "Alert\n\nStock is low.\n\n- A\n\n- B\n\nFix it (https://x.example/fix)\n"


async def test_delivers_multipart_message(smtp_env: SmtpServer, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    result = await send(
        {
            "to": "Ann Example <ann@example.com>, bob@example.com",
            "cc": ["carol@example.com"],
            "bcc": "dave@example.com",
            "reply_to": "help@shop.example.com",
            "subject": "Low stock:\n 3 items",
            "body": "<h1>Low stock</h1><p>Restock soon</p>",
            "from_display_name": "Shop Bot",
            "headers": {"X-Campaign": "stock"},
            "attachments": {
                "report.csv": "sku,qty\nA,1\n",
                "pixel.png": {"base64": base64.b64encode(b"\x89PNG").decode()},
            },
        },
        ctx,
    )
    assert result == {
        "message_id": f"<ratchet.{ctx.run_id}@shop.example.com>",
        "to": ["ann@example.com", "bob@example.com"],
        "cc": ["carol@example.com"],
        "bcc": ["dave@example.com"],
    }
    ((envelope, message),) = smtp_env.handler.delivered(ctx.run_id)
    assert envelope.mail_from == "alerts@shop.example.com"
    assert sorted(envelope.rcpt_tos) == ["ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
    assert message["From"] == "Shop Bot <alerts@shop.example.com>"
    assert message["To"] == "Ann Example <ann@example.com>, bob@example.com"
    assert message["Cc"] == "carol@example.com"
    assert message["Bcc"] is None  # blind copies only travel in the envelope
    assert message["Reply-To"] == "help@shop.example.com"
    assert message["Subject"] == "Low stock: 3 items"
    assert message["Message-ID"] == result["message_id"]
    assert message["X-Campaign"] == "stock"
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Low stock\n\nRestock soon\n"  # type: ignore[union-attr]  # the message has both parts
    assert message.get_body(("html",)).get_content().strip() == "<h1>Low stock</h1><p>Restock soon</p>"  # type: ignore[union-attr]  # the message has both parts
    attachments = {
        part.get_filename(): (part.get_content_type(), part.get_content()) for part in message.iter_attachments()
    }
    assert attachments == {"report.csv": ("text/csv", "sku,qty\nA,1\n"), "pixel.png": ("image/png", b"\x89PNG")}


async def test_sender_name_defaults_to_mail_from(smtp_env: SmtpServer, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    await send(BASE, ctx)
    ((_, message),) = smtp_env.handler.delivered(ctx.run_id)
    assert message["From"] == "Ratchet Alerts <alerts@shop.example.com>"


async def test_retried_run_reuses_its_message_id(smtp_env: SmtpServer, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    first = await send(BASE, ctx)
    second = await send(BASE, ctx)
    assert first["message_id"] == second["message_id"]
    assert {m["Message-ID"] for _, m in smtp_env.handler.delivered(ctx.run_id)} == {first["message_id"]}


@pytest.mark.parametrize(
    ("to", "error", "reply"),
    [
        ("data451@example.com", TransientActionError, "451"),
        ("greylisted@example.com", TransientActionError, "451"),
        ("data554@example.com", PermanentActionError, "554"),
        ("unknown@example.com", PermanentActionError, "550"),
    ],
)
async def test_smtp_replies_classify_errors(
    smtp_env: SmtpServer, make_ctx: MakeCtx, to: str, error: type[Exception], reply: str
) -> None:
    ctx = make_ctx()
    with pytest.raises(error, match=reply) as raised:
        await send({**BASE, "to": to}, ctx)
    assert type(raised.value) is error
    assert smtp_env.handler.delivered(ctx.run_id) == []


async def test_partially_refused_recipients_fail_permanently(smtp_env: SmtpServer, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    with pytest.raises(PermanentActionError, match="some recipients were refused") as raised:
        await send({**BASE, "to": ["ann@example.com", "unknown@example.com"]}, ctx)
    assert raised.value.result["refused"] == ["unknown@example.com"]
    # Delivered to the accepted recipient; retrying would mail Ann twice.
    ((envelope, _),) = smtp_env.handler.delivered(ctx.run_id)
    assert envelope.rcpt_tos == ["ann@example.com"]


async def test_unreachable_server_is_transient(
    smtp_env: SmtpServer, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_SMTP_PORT", str(free_port()))
    with pytest.raises(TransientActionError, match="cannot reach SMTP server"):
        await send(BASE, make_ctx())


async def test_missing_configuration_is_permanent(
    smtp_env: SmtpServer, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RATCHET_SMTP_HOST")
    with pytest.raises(PermanentActionError, match="RATCHET_SMTP_HOST"):
        await send(BASE, make_ctx())
    monkeypatch.setenv("RATCHET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RATCHET_SMTP_TLS", "ssl")
    with pytest.raises(PermanentActionError, match="RATCHET_SMTP_TLS"):
        await send(BASE, make_ctx())


async def test_starttls_required_but_not_offered_is_permanent(
    smtp_env: SmtpServer, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_SMTP_TLS", "starttls")
    with pytest.raises(PermanentActionError, match="STARTTLS"):
        await send(BASE, make_ctx())


async def test_authenticates_with_configured_credentials(
    smtp_env: SmtpServer, smtp_auth_server: SmtpServer, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_SMTP_PORT", str(smtp_auth_server.port))
    monkeypatch.setenv("RATCHET_SMTP_USERNAME", SMTP_USER)
    monkeypatch.setenv("RATCHET_SMTP_PASSWORD", "wrong")
    with pytest.raises(PermanentActionError, match="535"):
        await send(BASE, make_ctx())

    monkeypatch.setenv("RATCHET_SMTP_PASSWORD", SMTP_PASSWORD)
    ctx = make_ctx()
    await send(BASE, ctx)
    assert len(smtp_auth_server.handler.delivered(ctx.run_id)) == 1
