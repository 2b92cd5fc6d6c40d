"""uvicorn inside a Ratchet process: the ingress and the console listen this way.

The process owner (`ratchet serve`, `ratchet console`, `ratchet dev`, tests) handles signals and
sets a stop event; uvicorn must not replace its signal handlers or re-raise signals on exit.
"""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the process owning it."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


async def serve_until(server: uvicorn.Server, stop: asyncio.Event, name: str) -> None:
    """Serve until `stop` is set, then finish in-flight requests; OSError naming `name` when it cannot listen."""
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    try:
        await serving
    except SystemExit as exc:  # uvicorn exits this way when it cannot bind
        config = server.config
        raise OSError(f"the {name} could not listen on {config.host}:{config.port}") from exc
