"""Console logins: the token check, signed session cookies, CSRF tokens, the one-time login link, throttling.

A session is a random id and its issue time, signed with a key derived from the console token,
so changing RATCHET_CONSOLE_TOKEN (and restarting) ends every session at once: that is how the
token is rotated. Logging out revokes the id for the rest of its lifetime in this process. The
CSRF token of a session is an HMAC of its id (the synchronizer-token pattern without storage):
https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

# How long a login lasts; the cookie's Max-Age and the signature's expiry agree.
SESSION_LIFETIME_SECONDS = 12 * 3600
# Failed logins allowed per client within the window before it has to wait.
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60


def tokens_match(given: str, expected: str) -> bool:
    """Constant-time comparison, so the time taken says nothing about how much of a guess was right."""
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class Session:
    id: str
    issued_at: int
    csrf_token: str

    @property
    def expires_at(self) -> int:
        return self.issued_at + SESSION_LIFETIME_SECONDS


class SessionSigner:
    """Issues, reads and revokes session cookies; `token` is the console's login token."""

    def __init__(self, token: str, lifetime_seconds: int = SESSION_LIFETIME_SECONDS) -> None:
        self._token = token
        self._key = hmac.new(token.encode(), b"ratchet-console-session", hashlib.sha256).digest()
        self._lifetime = lifetime_seconds
        # Revoked ids until their natural expiry, so a copied cookie dies with the logout.
        self._revoked: dict[str, int] = {}

    def token_matches(self, given: str) -> bool:
        return tokens_match(given, self._token)

    def issue(self) -> tuple[str, Session]:
        """A new session and its cookie value."""
        session_id = secrets.token_urlsafe(24)
        issued_at = int(time.time())
        payload = f"{session_id}.{issued_at}"
        return f"{payload}.{self._sign(payload)}", self._session(session_id, issued_at)

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None when it is forged, expired or logged out."""
        if not cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        session_id, _, issued = payload.partition(".")
        if not (session_id and issued.isdigit() and tokens_match(signature, self._sign(payload))):
            return None
        issued_at = int(issued)
        if not (issued_at <= time.time() < issued_at + self._lifetime) or session_id in self._revoked:
            return None
        return self._session(session_id, issued_at)

    def revoke(self, session: Session) -> None:
        now = time.time()
        self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
        self._revoked[session.id] = session.issued_at + self._lifetime

    def csrf_matches(self, session: Session, given: str | None) -> bool:
        return given is not None and tokens_match(given, session.csrf_token)

    def _session(self, session_id: str, issued_at: int) -> Session:
        return Session(session_id, issued_at, self._sign(f"csrf.{session_id}"))

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()


@dataclass
class LoginThrottle:
    """Failed logins per client address: after `allowed` failures within `window` seconds, wait."""

    allowed: int = LOGIN_FAILURES_ALLOWED
    window: float = LOGIN_FAILURE_WINDOW_SECONDS
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def wait_seconds(self, client: str) -> int:
        """0 when the client may try now, else how long until its oldest failure leaves the window."""
        recent = self._recent(client)
        if len(recent) < self.allowed:
            return 0
        return max(1, int(recent[0] + self.window - time.monotonic()) + 1)

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= time.monotonic() - self.window:
            recent.popleft()
        return recent


class LoginLink:
    """A one-time code for the login URL `ratchet dev` prints: used once, then it is gone.

    The link opens a page with a one-click login form rather than logging in on GET, so no GET
    changes state and the token itself never appears in an address bar or browser history.
    """

    def __init__(self) -> None:
        self._code: str | None = secrets.token_urlsafe(24)

    @property
    def code(self) -> str | None:
        return self._code

    def redeem(self, given: str) -> bool:
        if self._code is None or not tokens_match(given, self._code):
            return False
        self._code = None
        return True
