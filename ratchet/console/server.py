"""The console's listener: its token, its one-time login URL, and uvicorn on RATCHET_CONSOLE_ADDRESS.

The token is RATCHET_CONSOLE_TOKEN, required when the console listens beyond loopback. Unset on
loopback, it is kept in `RATCHET_HOME/console.token` (created once, readable by its owner only),
so sessions survive a restart of `ratchet dev` and the user can log in from another browser.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from ratchet.config import ConsoleSettings
from ratchet.console.app import Console
from ratchet.errors import InvalidInput
from ratchet.serving import EmbeddedServer, serve_until

TOKEN_FILE = "console.token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_token(config: ConsoleSettings, home: Path) -> str:
    """RATCHET_CONSOLE_TOKEN, else (on loopback only) the token kept in RATCHET_HOME, made on first use."""
    if config.token is not None:
        return config.token.get_secret_value()
    if not is_loopback(config.host):
        raise InvalidInput(f"RATCHET_CONSOLE_TOKEN is required for a console listening on {config.host} (not loopback)")
    path = home / TOKEN_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # Created with owner-only permissions from the start, never readable by others even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def login_url(app: FastAPI) -> str | None:
    """The one-time login URL to print, while its code is unused."""
    console: Console = app.state.console
    code = console.login_link.code
    return f"{console.config.url}/login?once={code}" if code else None


async def serve_console(app: FastAPI, config: ConsoleSettings, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; OSError when the address cannot be listened on."""
    server = EmbeddedServer(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            # Behind a TLS proxy on this host, X-Forwarded-Proto makes the session cookie Secure.
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
        )
    )
    await serve_until(server, stop, "console")
