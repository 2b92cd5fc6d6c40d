"""`ratchet dev`, `ratchet worker` and `ratchet serve`: process lifecycle, signals, and what the user is told."""

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


async def run_dev(settings: Settings, *, port: int, ui_port: int, use_existing: bool) -> None:
    """Start the embedded Temporal server (unless an address was given) and a worker."""
    stop = stop_on_signals()
    metrics.install(settings)  # before the first Temporal client of this process
    server: DevServer | None = None
    if not use_existing:
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
        settings = settings.updated(temporal={"address": server.address})
        await set_namespace_retention(await connect(settings), settings)
    try:
        from ratchet.ingress.app import serve_with_settings

        worker_task = asyncio.create_task(run_worker_until_signalled(settings, stop))
        ingress_task = asyncio.create_task(serve_with_settings(settings, stop))
        await asyncio.sleep(0.5)
        if worker_task.done():
            worker_task.result()
        if ingress_task.done():
            try:
                ingress_task.result()
            except OSError as exc:
                raise Unavailable(f"{exc}; set RATCHET_HTTP_PORT to use another port") from exc
        print(f"Temporal:      {settings.effective_temporal_address} (namespace {settings.temporal.namespace})")
        if server is not None and server.ui_url:
            print(f"Web UI:        {server.ui_url}/namespaces/{settings.temporal.namespace}/workflows")
        print(f"Database:      {settings.effective_database_url}")
        print(f"Task queue:    {settings.temporal.task_queue}")
        print(f"Ingress:       http://{settings.ingress.host}:{settings.ingress.port} (webhooks)")
        if settings.inbound_email.address:
            print(f"Inbound email: smtp://{settings.inbound_email.address}")
        print("Ratchet is running; Ctrl-C stops it.", flush=True)
        await asyncio.gather(worker_task, ingress_task)
    finally:
        if server is not None:
            server.stop()
        print("stopped.", file=sys.stderr)
