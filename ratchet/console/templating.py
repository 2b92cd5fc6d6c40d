"""Jinja2 for the console: autoescaped templates, strict about undefined names, and the shared filters.

Every page template extends `base.html` and receives, besides its own context, `session`
(never None on a logged-in page), `csrf_token`, `temporal_ui_url` and `static_url(name)`.
Secrets are never in a context: pages render "set" / "not set" for them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from ratchet.console.run_output import RunOutput
from ratchet.console.security import session_of
from ratchet.store.tables import Run

CONSOLE_DIR = Path(__file__).parent
TEMPLATES_DIR = CONSOLE_DIR / "templates"
STATIC_DIR = CONSOLE_DIR / "static"


@cache
def _static_fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """A static file's URL, fingerprinted so a changed file is never served from a stale cache."""
    return f"/static/{name}?v={_static_fingerprint(name)}"


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime | None, zone: str | None = None) -> str:
    """A time in the shop's zone, with the zone's abbreviation: `2026-12-07 09:41:05 EST`."""
    if value is None:
        return "—"
    return value.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def epoch_time(seconds: float, zone: str | None = None) -> str:
    """Unix seconds as `local_time` shows a datetime."""
    return local_time(datetime.fromtimestamp(seconds, UTC), zone)


def iso_time(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def duration(milliseconds: float | None) -> str:
    """`850 ms`, `12.4 s`, `3 min 5 s`, `2 h 10 min`."""
    if milliseconds is None:
        return "—"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def recorded_output(run: Run) -> RunOutput:
    """What a recorded task run rendered, without its actions (the page shows its action runs instead)."""
    return dataclasses.replace(RunOutput.of_objects(run.result, run.error), actions=[])


def _context(request: Request) -> dict[str, Any]:
    session = session_of(request.scope)
    console = request.app.state.console
    return {
        "session": session,
        "csrf_token": session.csrf_token if session is not None else "",
        "temporal_ui_url": console.temporal_ui_url,
    }


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static_url=static_url, recorded_output=recorded_output)
    env.filters.update(
        local_time=local_time, epoch_time=epoch_time, iso_time=iso_time, duration=duration, pretty_json=pretty_json
    )
    return Jinja2Templates(env=env, context_processors=[_context])


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """A page or partial; `name` is relative to templates/."""
    templates: Jinja2Templates = request.app.state.console.templates
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code)


def is_htmx(request: Request) -> bool:
    """An htmx request wants a fragment to swap in, not a whole page."""
    return request.headers.get("hx-request") == "true"
