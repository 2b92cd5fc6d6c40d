"""`/login` and `/logout`: the token login, the one-time login link, and the session cookie.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
Secure when the console is reached over HTTPS, and lives as long as the session's signature
(https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Set-Cookie).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ratchet.console.routes.deps import ConsoleDep
from ratchet.console.security import SESSION_COOKIE, session_of
from ratchet.console.sessions import SESSION_LIFETIME_SECONDS
from ratchet.console.templating import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only paths on this console: `//evil.example` and `https://…` would make the login an open redirect.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
async def login_page(
    request: Request, console: ConsoleDep, next: str | None = None, once: str | None = None
) -> Response:
    if session_of(request.scope) is not None and once is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "once": once or "", "error": None})


@router.post("/login")
async def login(
    request: Request,
    console: ConsoleDep,
    token: Annotated[str, Form()] = "",
    once: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    client = request.client.host if request.client else "unknown"
    wait = console.throttle.wait_seconds(client)
    if wait:
        return _login_refused(request, next, f"Too many failed logins; try again in {wait} s.", 429, wait)
    accepted = console.login_link.redeem(once) if once else console.signer.token_matches(token)
    if not accepted:
        console.throttle.failed(client)
        reason = "That login link was already used; log in with the token." if once else "Wrong token."
        return _login_refused(request, next, reason, 401)
    console.throttle.succeeded(client)
    cookie, _session = console.signer.issue()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_LIFETIME_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _login_refused(request: Request, next: str, error: str, status: int, retry_after: int = 0) -> HTMLResponse:
    response = render(request, "login.html", {"next": _safe_next(next), "once": "", "error": error}, status)
    if retry_after:
        response.headers["retry-after"] = str(retry_after)
    return response


@router.post("/logout")
async def logout(request: Request, console: ConsoleDep) -> Response:
    session = session_of(request.scope)
    if session is not None:
        console.signer.revoke(session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
