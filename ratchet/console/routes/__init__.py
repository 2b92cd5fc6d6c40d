"""One router per resource. A new resource adds its module here and its router to `ROUTERS`."""

from fastapi import APIRouter

from ratchet.console.routes import auth, bulk_retries, events, home, settings, tasks

ROUTERS: list[APIRouter] = [auth.router, home.router, events.router, settings.router, tasks.router, bulk_retries.router]
