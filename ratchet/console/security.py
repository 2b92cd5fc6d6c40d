"""The console's guard: one ASGI middleware in front of every route, failing closed.

In order, for every request:
1. `Host` must be one the console answers to (DNS rebinding: a loopback listener alone does not
   stop a page on evil.example whose name resolves to 127.0.0.1) → 400.
2. Unsafe methods (anything but GET/HEAD/OPTIONS) from another origin — `Sec-Fetch-Site` other than
   same-origin/none, or an `Origin` other than this console's own (scheme aside, its `Host`) — are
   refused → 403
   (https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Sec-Fetch-Site).
3. Every path but the login page and static files needs a valid session: GET is sent to
   `/login?next=…`, anything else → 403.
4. Every unsafe request with a session must carry its CSRF token, in the `X-CSRF-Token` header
   (htmx, set by console.js) or the `csrf_token` form field → 403. The body is read here and
   replayed to the route.
Every answer gets the security headers: CSP `default-src 'self'` with `frame-ancestors 'none'`
(https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy),
`nosniff`, `Referrer-Policy: same-origin`, and `Cache-Control: no-store` on everything but static
files, since pages carry event data (customer PII).
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote, urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ratchet.console.sessions import Session, SessionSigner

SESSION_COOKIE = "ratchet_console"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login"})
STATIC_PREFIX = "/static/"
# Larger form bodies (task imports) are refused before they are read into memory.
MAX_FORM_BYTES = 5 * 1024 * 1024

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def allowed_hosts(listen_host: str, extra: Iterable[str]) -> frozenset[str]:
    """Host names (without port) the console answers: its listen address, loopback names, and `extra`."""
    names = {listen_host.lower(), *(name.strip().lower() for name in extra if name.strip())}
    if listen_host in LOOPBACK_HOSTS or listen_host in ("0.0.0.0", "::"):
        names |= LOOPBACK_HOSTS
    names.discard("0.0.0.0")
    names.discard("::")
    return frozenset(names)


def host_name(value: str) -> str:
    """`example.com:8081` → `example.com`; `[::1]:8081` → `::1`."""
    return (urlsplit(f"//{value}").hostname or "").lower()


def session_of(scope: Scope) -> Session | None:
    """The request's session, as the guard found it."""
    state = scope.get("state") or {}
    session = state.get("session")
    return session if isinstance(session, Session) else None


class ConsoleGuard:
    def __init__(self, app: ASGIApp, signer: SessionSigner, hosts: frozenset[str]) -> None:
        self.app = app
        self.signer = signer
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = self._with_headers(send, cacheable=path.startswith(STATIC_PREFIX))
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        session = self.signer.read(_cookie(headers, SESSION_COOKIE))
        scope.setdefault("state", {})["session"] = session
        unsafe = scope["method"] not in SAFE_METHODS
        if session is None and not (path in PUBLIC_PATHS or path.startswith(STATIC_PREFIX)):
            if unsafe:
                await PlainTextResponse("log in first", status_code=403)(scope, receive, send)
            else:
                target = path + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
                await RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)(scope, receive, send)
            return
        if unsafe and session is not None:
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("request body too large", status_code=413)(scope, receive, send)
                return
            if not self.signer.csrf_matches(session, headers.get(CSRF_HEADER) or _form_field(headers, body)):
                await PlainTextResponse("missing or wrong CSRF token", status_code=403)(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        if host_name(headers.get("host", "")) not in self.hosts:
            return PlainTextResponse("unknown Host header", status_code=400)
        if scope["method"] in SAFE_METHODS:
            return None
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return PlainTextResponse("cross-site request refused", status_code=403)
        # Another port on the same host is another origin (and only "same-site" to Sec-Fetch-Site).
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
            return PlainTextResponse("cross-site request refused", status_code=403)
        return None

    @staticmethod
    def _with_headers(send: Send, *, cacheable: bool) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if not cacheable:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return sending


def _cookie(headers: Headers, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no session, not an error page
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _form_field(headers: Headers, body: bytes) -> str | None:
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        return _multipart_field(content_type, body, CSRF_FIELD)
    return None


def _multipart_field(content_type: str, body: bytes, name: str) -> str | None:
    """One small text field of a multipart body; forms put the CSRF field first, so it is found early."""
    boundary = content_type.partition("boundary=")[2].split(";")[0].strip().strip('"')
    if not boundary:
        return None
    marker = f'name="{name}"'.encode()
    for part in body.split(b"--" + boundary.encode()):
        head, _, value = part.partition(b"\r\n\r\n")
        if marker in head and b"filename=" not in head:
            return value.removesuffix(b"\r\n").decode("utf-8", "replace")
    return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, upstream: Receive) -> Receive:
    """The body read once more for the route; after it, the client's own messages (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await upstream()

    return receive
