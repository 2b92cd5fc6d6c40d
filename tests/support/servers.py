"""Real local servers shared by test packages: an HTTP server, SMTP sinks (open and with AUTH), the Shopify fake."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ratchet.engine.devserver import free_port
from tests.support.integration_fakes import IntegrationFakes
from tests.support.shopify_fake import ShopifyFake

# -- HTTP server ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Routes: /echo (the request as JSON), /status/N, /redirect → /echo, /loop, /slow, /text, /binary."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request_body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path == "/echo":
            echo = {
                "method": self.command,
                "query": url.query,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": request_body.decode("utf-8", errors="replace"),
                "body_base64": base64.b64encode(request_body).decode("ascii"),
            }
            self._send(200, json.dumps(echo).encode(), [("Content-Type", "application/json; charset=utf-8")])
        elif url.path.startswith("/status/"):
            status = int(url.path.rsplit("/", 1)[1])
            self._send(status, f"status {status}".encode(), [("Content-Type", "text/plain")])
        elif url.path == "/redirect":
            self._send(302, b"", [("Location", "/echo")])
        elif url.path == "/loop":
            self._send(302, b"", [("Location", "/loop")])
        elif url.path == "/slow":
            time.sleep(2)
            self._send(200, b"late", [("Content-Type", "text/plain")])
        elif url.path == "/text":
            self._send(
                200,
                "héllo".encode(),
                [("Content-Type", "text/plain; charset=utf-8"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
            )
        elif url.path == "/binary":
            self._send(200, b"\x00\xff\x10", [("Content-Type", "application/octet-stream")])
        else:
            self._send(404, b"not found", [("Content-Type", "text/plain")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# -- SMTP server ------------------------------------------------------------------------------------


class RecordingSmtpHandler:
    """Accepts mail except for scripted recipients, whose local part picks the failure.

    Failures: unknown@ → 550 at RCPT, greylisted@ → 451 at RCPT, data451@ / data554@ → that reply to DATA.
    """

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0]
        if local == "unknown":
            return "550 5.1.1 no such user"
        if local == "greylisted":
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        locals_ = {address.split("@", 1)[0] for address in envelope.rcpt_tos}
        if "data451" in locals_:
            return "451 4.3.0 local problem, try again later"
        if "data554" in locals_:
            return "554 5.7.1 message rejected"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def delivered(self, run_id: str) -> list[tuple[Envelope, EmailMessage]]:
        """Messages carrying this action run's id."""
        found: list[tuple[Envelope, EmailMessage]] = []
        for envelope in self.envelopes:
            message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
            if message["X-Ratchet-Run-Id"] == run_id:
                found.append((envelope, message))
        return found


@dataclasses.dataclass
class SmtpServer:
    handler: RecordingSmtpHandler
    port: int


def start_smtp(**kwargs: Any) -> tuple[Controller, SmtpServer]:
    handler = RecordingSmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, SmtpServer(handler, port)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    controller, server = start_smtp()
    yield server
    controller.stop()


SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret pass"


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def smtp_auth_server() -> Iterator[SmtpServer]:
    """Requires AUTH as SMTP_USER / SMTP_PASSWORD."""
    # Plain-text AUTH is fine on loopback; it keeps the test free of certificates.
    controller, server = start_smtp(authenticator=_authenticate, auth_required=True, auth_require_tls=False)
    yield server
    controller.stop()


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> SmtpServer:
    monkeypatch.setenv("RATCHET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RATCHET_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("RATCHET_SMTP_TLS", "none")
    monkeypatch.setenv("RATCHET_MAIL_FROM", "Ratchet Alerts <alerts@shop.example.com>")
    for name in ("RATCHET_SMTP_USERNAME", "RATCHET_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return smtp_server


# -- Shopify Admin API fake -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shopify_fake_server() -> Iterator[ShopifyFake]:
    """One fake per session; tests `reset()` it before use."""
    with ShopifyFake() as fake:
        yield fake


# -- Slack, Airtable and Google fakes ---------------------------------------------------------------


@pytest.fixture(scope="session")
def integration_fakes() -> Iterator[IntegrationFakes]:
    """One server for the session; tests work under their own accounts, channels and spreadsheets."""
    fakes = IntegrationFakes()
    fakes.start()
    yield fakes
    fakes.stop()
