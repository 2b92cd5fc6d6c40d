"""The console's FastAPI app: the guard, the static files, one router per resource, error pages.

    app = create_console_app(api, settings.console, temporal_ui_url=...)

`api` is the same starter API the CLI uses, so every write takes the CLI's code path and its
validation; reads go to services with the api's store. The app never shares the ingress's
app, middleware (its CORS `*`) or listener.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.templating import Jinja2Templates

from ratchet.config import ConsoleSettings
from ratchet.console.security import ConsoleGuard, allowed_hosts
from ratchet.console.sessions import LoginLink, LoginThrottle, SessionSigner
from ratchet.console.templating import STATIC_DIR, build_templates, render
from ratchet.errors import RatchetError
from starter.api import Ratchet

T = TypeVar("T")


@dataclass
class Console:
    """What every route reaches through `request.app.state.console` (see `console_of`)."""

    api: Ratchet
    config: ConsoleSettings
    signer: SessionSigner
    templates: Jinja2Templates
    temporal_ui_url: str | None = None
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    login_link: LoginLink = field(default_factory=LoginLink)

    @property
    def default_shop(self) -> str:
        return self.api.settings.shop

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A service read (synchronous, its own session) off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)


def console_of(request: Request) -> Console:
    """The route dependency for the console's state: `console: Annotated[Console, Depends(console_of)]`."""
    console: Console = request.app.state.console
    return console


def create_console_app(
    api: Ratchet, config: ConsoleSettings, *, token: str, temporal_ui_url: str | None = None
) -> FastAPI:
    """The console for `api`'s store and Temporal client; `token` is the login token (see ratchet/console/server.py)."""
    from ratchet.console.routes import ROUTERS

    signer = SessionSigner(token)
    app = FastAPI(title="Ratchet console", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.console = Console(
        # Task versions and bulk retries record that the console made them.
        api=api.acting_for("console"),
        config=config,
        signer=signer,
        templates=build_templates(),
        temporal_ui_url=temporal_ui_url or config.temporal_ui_url,
    )
    app.add_middleware(ConsoleGuard, signer=signer, hosts=allowed_hosts(config.host, config.hosts.split(",")))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    _add_error_pages(app)
    return app


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(RatchetError)
    async def ratchet_error(request: Request, exc: RatchetError) -> HTMLResponse:
        return render(request, "error.html", {"message": exc.message}, status_code=exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        message = exc.detail if exc.status_code != 404 else "There is no page here."
        return render(request, "error.html", {"message": message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:])
        message = f"{where}: {first.get('msg', 'invalid input')}" if where else "invalid input"
        return render(request, "error.html", {"message": message}, status_code=400)
