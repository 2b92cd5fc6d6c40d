"""Logging in and the guard every request passes: sessions, CSRF, cross-site refusals, the Host check."""

from __future__ import annotations

import re

from ratchet.console.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE
from tests.support.console import CONSOLE_TOKEN, ConsoleClient


async def test_pages_need_a_login(anonymous_console: ConsoleClient) -> None:
    shop = anonymous_console.shop
    response = await anonymous_console.get(f"/s/{shop}/events?tab=errors")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fs%2F{shop}%2Fevents%3Ftab%3Derrors"
    refused = await anonymous_console.post(f"/s/{shop}/events", csrf=False)
    assert refused.status_code == 403


async def test_a_wrong_token_is_refused_and_the_right_one_sets_a_strict_cookie(
    anonymous_console: ConsoleClient,
) -> None:
    wrong = await anonymous_console.http.post("/login", data={"token": "guess"})
    assert wrong.status_code == 401 and "Wrong token." in wrong.text
    assert SESSION_COOKIE not in wrong.cookies

    right = await anonymous_console.log_in()
    assert right.status_code == 303
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
    page = await anonymous_console.get(f"/s/{anonymous_console.shop}/events")
    assert page.status_code == 200 and "<h1>Events</h1>" in page.text


async def test_failed_logins_are_throttled(anonymous_console: ConsoleClient) -> None:
    for _ in range(5):
        assert (await anonymous_console.http.post("/login", data={"token": "guess"})).status_code == 401
    throttled = await anonymous_console.http.post("/login", data={"token": CONSOLE_TOKEN})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert SESSION_COOKIE not in throttled.cookies


async def test_logout_ends_the_session_even_for_a_copied_cookie(console: ConsoleClient) -> None:
    copied = console.http.cookies[SESSION_COOKIE]
    assert (await console.post("/logout")).status_code == 303
    console.http.cookies.set(SESSION_COOKIE, copied)
    assert (await console.get(f"/s/{console.shop}/events")).status_code == 303


async def test_a_forged_cookie_is_no_session(console: ConsoleClient) -> None:
    cookie = console.http.cookies[SESSION_COOKIE]
    session_id, issued, signature = cookie.split(".")
    console.http.cookies.set(SESSION_COOKIE, f"{session_id}.{int(issued) + 3600}.{signature}")
    assert (await console.get(f"/s/{console.shop}/events")).status_code == 303


async def test_state_changes_need_the_csrf_token(console: ConsoleClient) -> None:
    assert (await console.post("/logout", csrf=False)).status_code == 403
    assert (await console.post("/logout", {"csrf_token": "0" * 64})).status_code == 403
    # Still logged in: the refused logouts changed nothing.
    assert (await console.get(f"/s/{console.shop}/events")).status_code == 200
    header = await console.http.post("/logout", headers={"x-csrf-token": console.csrf_token})
    assert header.status_code == 303


async def test_cross_site_posts_are_refused_even_with_the_token(console: ConsoleClient) -> None:
    refused: tuple[dict[str, str], ...] = (
        {"origin": "https://evil.example"},
        {"origin": "http://127.0.0.1:9999"},  # another port on this host is another origin
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "null"},
    )
    for headers in refused:
        response = await console.post("/logout", headers=headers)
        assert response.status_code == 403, headers
    same = await console.post("/logout", headers={"origin": "http://127.0.0.1:8081", "sec-fetch-site": "same-origin"})
    assert same.status_code == 303


async def test_unknown_host_headers_are_refused(console: ConsoleClient) -> None:
    # DNS rebinding: evil.example resolving to 127.0.0.1 still says `Host: evil.example`.
    rebound = await console.get(f"/s/{console.shop}/events", headers={"host": "evil.example:8081"})
    assert rebound.status_code == 400
    assert (await console.get(f"/s/{console.shop}/events", headers={"host": "localhost:8081"})).status_code == 200


async def test_pages_carry_the_security_headers(console: ConsoleClient) -> None:
    page = await console.get(f"/s/{console.shop}/events")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    login = await console.get("/login")
    assert login.headers["cache-control"] == "no-store"


async def test_the_login_only_redirects_within_the_console(anonymous_console: ConsoleClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = await anonymous_console.http.post("/login", data={"token": CONSOLE_TOKEN, "next": target})
        assert response.headers["location"] == "/", target
        anonymous_console.http.cookies.clear()


async def test_the_one_time_login_link_works_once(anonymous_console: ConsoleClient) -> None:
    app = anonymous_console.http._transport.app  # type: ignore[attr-defined]
    code = app.state.console.login_link.code
    page = await anonymous_console.get(f"/login?once={code}")
    assert page.status_code == 200 and SESSION_COOKIE not in page.cookies  # a GET never logs in
    assert re.search(r'name="once" value="' + re.escape(code), page.text)
    used = await anonymous_console.http.post("/login", data={"once": code})
    assert used.status_code == 303
    anonymous_console.http.cookies.clear()
    again = await anonymous_console.http.post("/login", data={"once": code})
    assert again.status_code == 401


async def test_static_files_need_no_login(anonymous_console: ConsoleClient) -> None:
    response = await anonymous_console.get("/static/console.css")
    assert response.status_code == 200 and "cache-control" not in response.headers
