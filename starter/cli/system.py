"""`ratchet dev`, `ratchet worker`, `ratchet serve`, `ratchet console`: the long-running processes."""

from __future__ import annotations

from typing import Annotated

import typer

from ratchet.config import DEFAULT_TEMPORAL_PORT, DEFAULT_UI_PORT
from starter.cli.common import AddressOpt, run, settings_for


def dev(
    temporal_address: AddressOpt = None,
    port: Annotated[int, typer.Option(help="gRPC port of the embedded Temporal server.")] = DEFAULT_TEMPORAL_PORT,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = DEFAULT_UI_PORT,
) -> None:
    """Start everything on the embedded defaults: Temporal dev server, worker (Ctrl-C stops)."""
    from starter.dev import run_dev

    run(run_dev(settings_for(temporal_address), port=port, ui_port=ui_port, use_existing=temporal_address is not None))


def worker(temporal_address: AddressOpt = None) -> None:
    """Run one worker (run more of these to scale out)."""
    from starter.dev import run_worker_until_signalled

    run(run_worker_until_signalled(settings_for(temporal_address)))


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Listen address (default RATCHET_HTTP_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Listen port (default RATCHET_HTTP_PORT).")] = None,
    temporal_address: AddressOpt = None,
) -> None:
    """Run the HTTP ingress (Shopify and Mechanic webhooks, files) and inbound email until Ctrl-C."""
    from starter.dev import run_ingress

    run(run_ingress(settings_for(temporal_address), host=host, port=port), uvloop_loop=True)


def console(temporal_address: AddressOpt = None) -> None:
    """Run the web console on RATCHET_CONSOLE_ADDRESS (default 127.0.0.1:8081) until Ctrl-C."""
    from starter.dev import run_console

    run(run_console(settings_for(temporal_address)))


def register(app: typer.Typer) -> None:
    for command in (dev, worker, serve, console):
        app.command()(command)
