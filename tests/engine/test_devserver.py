"""The embedded Temporal server starts even when a port it picked for itself is taken under it."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from ratchet.engine.devserver import DevServer, DevServerError, free_port, temporal_binary

THIEF = Path(__file__).parents[1] / "support" / "port_thief.py"


def server_losing_ports(
    tmp_path: Path, starts_to_spoil: int, notices: list[str], ui_port: int | None = None
) -> DevServer:
    """A DevServer whose first `starts_to_spoil` starts lose the history service's port (see port_thief.py)."""
    binary = tmp_path / "temporal"
    binary.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{THIEF}" "{temporal_binary()}" {starts_to_spoil} "{tmp_path / "stolen"}" "$@"\n'
    )
    binary.chmod(0o755)
    return DevServer(
        db_path=tmp_path / "temporal.db",
        port=free_port(),
        ui_port=ui_port,
        log_path=tmp_path / "temporal.log",
        on_restart=notices.append,
        binary=str(binary),
    )


def stolen_ports(tmp_path: Path) -> list[str]:
    return (tmp_path / "stolen").read_text().split()


async def test_a_port_lost_at_start_is_picked_afresh_and_said_in_one_line(tmp_path: Path) -> None:
    notices: list[str] = []
    server = server_losing_ports(tmp_path, 1, notices)
    await server.start()
    try:
        client = await Client.connect(server.address)
        assert await client.service_client.check_health()
    finally:
        server.stop()
    (lost,) = stolen_ports(tmp_path)
    assert notices == [
        f"the Temporal dev server could not bind port {lost} (history service), which it had picked itself; "
        "starting it again with fresh ports (attempt 2 of 3)"
    ]
    log = (tmp_path / "temporal.log").read_text()
    assert f'error="listen tcp 127.0.0.1:{lost}: bind: address already in use" service=history' in log


async def test_a_server_that_loses_a_port_at_every_start_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    notices: list[str] = []
    server = server_losing_ports(tmp_path, 3, notices)
    with pytest.raises(DevServerError) as raised:
        await server.start()
    *_, last = stolen_ports(tmp_path)
    assert str(raised.value) == (
        "the Temporal dev server could not start in 3 attempts: each time a port it had picked was taken "
        f"(the last: port {last} (history service)); see {tmp_path / 'temporal.log'}"
    )
    assert len(notices) == 2 and server.process is not None and server.process.poll() is not None


async def test_a_ui_port_asked_for_and_taken_is_an_error_not_a_restart(tmp_path: Path) -> None:
    notices: list[str] = []
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        ui_port = stranger.getsockname()[1]
        server = server_losing_ports(tmp_path, 1, notices, ui_port=ui_port)
        with pytest.raises(DevServerError, match=f"^UI port {ui_port} is already in use; pass --ui-port"):
            await server.start()
    assert notices == [] and server.process is None
