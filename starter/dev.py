"""The long-running commands: process lifecycle, signals, and what the user is told.

`ratchet dev`, `ratchet worker`, `ratchet serve` and `ratchet console`.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from ratchet.config import Settings
from ratchet.engine import metrics
from ratchet.engine.connection import connect
from ratchet.engine.devserver import DevServer, DevServerError
from ratchet.engine.logs import configure_logging
from ratchet.engine.retention import set_namespace_retention
from ratchet.errors import Unavailable
from starter.api import Ratchet


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_worker_until_signalled(settings: Settings, stop: asyncio.Event | None = None) -> None:
    from worker import run_worker

    configure_logging(settings)
    metrics.install(settings)
    stop = stop or stop_on_signals()
    await run_worker(settings, stop)


async def run_ingress(settings: Settings, *, host: str | None, port: int | None) -> None:
    """The HTTP ingress alone (Shopify and Mechanic webhooks) until a signal."""
    from ratchet.ingress.app import serve

    configure_logging(settings)
    metrics.install(settings)
    api = await Ratchet.connect(settings)
    config = api.settings.ingress
    config = config.model_copy(update={"host": host or config.host, "port": port or config.port})
    stop = stop_on_signals()
    print(f"Ingress:       http://{config.host}:{config.port} (Ctrl-C stops)", flush=True)
    if api.settings.inbound_email.address:
        print(f"Inbound email: smtp://{api.settings.inbound_email.address}", flush=True)
    try:
        await serve(api.settings, api.store, api.client, stop, config)
    except OSError as exc:
        raise Unavailable(str(exc)) from exc


async def run_console(settings: Settings) -> None:
    """The web console alone (for production, beside `ratchet worker`) until a signal."""
    from ratchet.console.app import create_console_app
    from ratchet.console.server import console_token, login_url, serve_console

    configure_logging(settings)
    token = console_token(settings.console, settings.home)  # before anything starts: a missing one is one line
    app = create_console_app(await Ratchet.connect(settings), settings.console, token=token)
    stop = stop_on_signals()
    print(f"Console:       {settings.console.url} (Ctrl-C stops)", flush=True)
    print(f"Console login: {login_url(app)} (one-time link)", flush=True)
    try:
        await serve_console(app, settings.console, stop)
    except OSError as exc:
        raise Unavailable(f"{exc}; set RATCHET_CONSOLE_ADDRESS to use another port") from exc


async def _start_dev_server(settings: Settings, port: int, ui_port: int) -> DevServer:
    """The embedded Temporal server on RATCHET_HOME, after stopping one an earlier `ratchet dev` left running."""
    settings.home.mkdir(parents=True, exist_ok=True)
    server = DevServer(
        db_path=settings.home / "temporal.db",
        port=port,
        ui_port=ui_port,
        log_path=settings.home / "temporal.log",
        state_path=settings.home / "devserver.json",
        on_restart=lambda line: print(line, file=sys.stderr),
    )
    print(f"starting Temporal dev server (state in {settings.home}) …", file=sys.stderr)
    try:
        orphan = server.stop_orphan()
        if orphan is not None:
            print(
                f"stopped the Temporal dev server (pid {orphan}) left running by an earlier ratchet dev",
                file=sys.stderr,
            )
        await server.start()
    except DevServerError as exc:
        raise Unavailable(str(exc)) from exc
    return server


def _print_addresses(settings: Settings, server: DevServer | None, console_login: str | None) -> None:
    print(f"Temporal:      {settings.effective_temporal_address} (namespace {settings.temporal.namespace})")
    if server is not None and server.ui_url:
        print(f"Web UI:        {server.ui_url}/namespaces/{settings.temporal.namespace}/workflows")
    print(f"Database:      {settings.effective_database_url}")
    print(f"Task queue:    {settings.temporal.task_queue}")
    print(f"Ingress:       http://{settings.ingress.host}:{settings.ingress.port} (webhooks)")
    if settings.inbound_email.address:
        print(f"Inbound email: smtp://{settings.inbound_email.address}")
    print(f"Console:       {settings.console.url}")
    print(f"Console login: {console_login} (one-time link)")
    print("Ratchet is running; Ctrl-C stops it.", flush=True)


async def run_dev(settings: Settings, *, port: int, ui_port: int, use_existing: bool) -> None:
    """Start the embedded Temporal server (unless an address was given), a worker, the ingress and the console."""
    from ratchet.console.server import console_token

    token = console_token(settings.console, settings.home)  # before anything starts: a missing one is one line
    stop = stop_on_signals()
    metrics.install(settings)  # before the first Temporal client of this process
    server: DevServer | None = None
    if not use_existing:
        server = await _start_dev_server(settings, port, ui_port)
        settings = settings.updated(temporal={"address": server.address})
        await set_namespace_retention(await connect(settings), settings)
    try:
        from ratchet.console.app import create_console_app
        from ratchet.console.server import login_url, serve_console
        from ratchet.ingress.app import serve_with_settings

        ui_url = settings.console.temporal_ui_url or (server.ui_url if server is not None else None)
        api = await Ratchet.connect(settings)
        console = create_console_app(api, settings.console, token=token, temporal_ui_url=ui_url)
        worker_task = asyncio.create_task(run_worker_until_signalled(settings, stop))
        ingress_task = asyncio.create_task(serve_with_settings(settings, stop))
        console_task = asyncio.create_task(serve_console(console, settings.console, stop))
        await asyncio.sleep(0.5)
        if worker_task.done():
            worker_task.result()
        for task, variable in ((ingress_task, "RATCHET_HTTP_PORT"), (console_task, "RATCHET_CONSOLE_ADDRESS")):
            if task.done():
                try:
                    task.result()
                except OSError as exc:
                    raise Unavailable(f"{exc}; set {variable} to use another port") from exc
        _print_addresses(settings, server, login_url(console))
        await asyncio.gather(worker_task, ingress_task, console_task)
    finally:
        if server is not None:
            server.stop()
        print("stopped.", file=sys.stderr)
