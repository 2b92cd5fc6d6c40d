"""`ratchet dev` as an operator runs it: killed outright, it starts again on the same home."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from ratchet.engine.devserver import free_port, port_in_use, process_command_line
from ratchet.engine.retention import get_namespace_retention
from tests.support.cli import REPO
from tests.support.tasks import export
from tests.support.waiting import eventually

READY = "Ratchet is running"
RATCHET = str(Path(sys.executable).parent / "ratchet")


class Dev:
    """`ratchet dev` processes on one home and fixed ports, as a user would start them twice."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port, self.ui_port, self.http_port = free_port(), free_port(), free_port()
        self.console_port = free_port()
        self.processes: list[subprocess.Popen[str]] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment of a CLI command against this home's `ratchet dev`."""
        env = {
            **os.environ,
            "RATCHET_HOME": str(self.home),
            "RATCHET_HTTP_PORT": str(self.http_port),
            "RATCHET_CONSOLE_ADDRESS": f"127.0.0.1:{self.console_port}",
            "RATCHET_TASK_QUEUE": "dev-test",
            "RATCHET_TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
        }
        env.pop("RATCHET_DATABASE_URL", None)
        return env

    def start(self, **extra_env: str) -> subprocess.Popen[str]:
        env = {**self.env, **extra_env}
        del env["RATCHET_TEMPORAL_ADDRESS"]  # `ratchet dev` starts its own server
        process = subprocess.Popen(
            [RATCHET, "dev", "--port", str(self.port), "--ui-port", str(self.ui_port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def wait_ready(self, process: subprocess.Popen[str]) -> list[str]:
        """What it printed up to and including its ready line."""
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if READY in line:
                return printed
        assert process.stderr is not None
        raise AssertionError(f"ratchet dev exited ({process.wait()}) without starting: {process.stderr.read()}")

    @property
    def recorded_server_pid(self) -> int:
        return int(json.loads((self.home / "devserver.json").read_text())["pid"])


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    dev = Dev(tmp_path / "home")
    yield dev
    for process in dev.processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    if (dev.home / "devserver.json").exists():  # a failed test must not leave a server behind
        os.kill(dev.recorded_server_pid, signal.SIGKILL)


def test_sigkilled_dev_starts_again_on_the_same_home(dev: Dev) -> None:
    first = dev.start()
    dev.wait_ready(first)
    orphan = dev.recorded_server_pid
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert process_command_line(orphan) is not None and port_in_use(dev.port)  # the crash left the server running

    second = dev.start()
    dev.wait_ready(second)
    assert process_command_line(orphan) is None
    assert dev.recorded_server_pid != orphan

    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0
    assert second.stderr is not None and "stopped the Temporal dev server" in second.stderr.read()
    assert not port_in_use(dev.port) and not (dev.home / "devserver.json").exists()


def test_running_dev_is_not_taken_over(dev: Dev) -> None:
    first = dev.start()
    dev.wait_ready(first)
    second = dev.start()
    assert second.wait(timeout=60) != 0
    assert second.stderr is not None
    assert "ratchet dev is already running" in second.stderr.read()
    assert first.poll() is None


@pytest.mark.parametrize(
    ("held", "error"),
    [("port", "port {} is already in use"), ("ui_port", "UI port {} is already in use; pass --ui-port")],
)
def test_port_held_by_something_else_is_a_clear_error(dev: Dev, held: str, error: str) -> None:
    port = getattr(dev, held)
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", port))
        stranger.listen()
        process = dev.start()
        assert process.wait(timeout=60) != 0
        assert process.stderr is not None
        lines = process.stderr.read().strip().splitlines()
    assert error.format(port) in lines[-1]
    assert not any("Traceback" in line for line in lines)


async def test_dev_prints_the_console_and_a_login_link_that_works_once(dev: Dev) -> None:
    printed = "".join(dev.wait_ready(dev.start()))
    console = f"http://127.0.0.1:{dev.console_port}"
    assert f"Console:       {console}\n" in printed
    found = re.search(rf"Console login: ({re.escape(console)}/login\?once=\S+) \(one-time link\)", printed)
    assert found, printed
    token_file = dev.home / "console.token"
    assert token_file.stat().st_mode & 0o077 == 0  # the generated token is readable by its owner only
    async with httpx.AsyncClient(base_url=console) as http:
        code = found.group(1).rsplit("=", 1)[1]
        logged_in = await http.post("/login", data={"once": code, "next": "/"})
        assert logged_in.status_code == 303 and "ratchet_console" in logged_in.cookies
        assert (await http.get("/", follow_redirects=True)).url.path == "/s/default/events"
        http.cookies.clear()
        assert (await http.post("/login", data={"once": code})).status_code == 401
        token = await http.post("/login", data={"token": token_file.read_text().strip()})
        assert token.status_code == 303


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent), matching the given labels."""
    total = 0.0
    for match in re.finditer(rf"^{name}{{(?P<labels>[^}}]*)}} (?P<value>\S+)$", text, re.MULTILINE):
        found = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match["value"])
    return total


async def test_metrics_and_health_of_a_running_dev(dev: Dev, tmp_path: Path) -> None:
    metrics_url = f"http://127.0.0.1:{free_port()}/metrics"
    process = dev.start(RATCHET_METRICS_ADDRESS=metrics_url.removeprefix("http://").removesuffix("/metrics"))
    dev.wait_ready(process)
    ingress = f"http://127.0.0.1:{dev.http_port}"
    async with httpx.AsyncClient() as http:

        async def healthy() -> httpx.Response | None:
            with contextlib.suppress(httpx.ConnectError):  # uvicorn may still be binding
                return await http.get(f"{ingress}/healthz")
            return None

        health = await eventually(healthy)
        assert (health.status_code, health.json()) == (200, {"ok": True, "temporal": True, "database": True})

        task_file = tmp_path / "task.json"
        task_file.write_text(json.dumps(export("Metered", '{% action "echo", n: 1 %}', ["user/metrics/go"])))
        for args in (["task", "import", str(task_file)], ["event", "send", "user/metrics/go"]):
            assert subprocess.run([RATCHET, *args], cwd=REPO, env=dev.env, capture_output=True).returncode == 0
        unsigned = await http.post(f"{ingress}/webhooks/shopify/no-such-shop", content=b"{}")
        assert unsigned.status_code == 404

        async def scraped() -> str | None:
            text = (await http.get(metrics_url)).text
            return text if _metric(text, "ratchet_runs_finished_total", kind="action", state="Succeeded") == 1 else None

        text = await eventually(scraped)
    assert _metric(text, "ratchet_runs_started_total", kind="event") == 1
    assert _metric(text, "ratchet_attempts_total", kind="task") == 1
    assert _metric(text, "ratchet_queue_lag_milliseconds_count", kind="action") == 1
    assert _metric(text, "ratchet_webhooks_total", source="shopify", outcome="unknown_shop") == 1
    assert "temporal_worker_task_slots_available" in text  # the SDK's runtime metrics, same endpoint
    # The embedded server keeps closed workflows as long as the ledger keeps their runs.
    client = await Client.connect(f"127.0.0.1:{dev.port}")
    assert await get_namespace_retention(client) == timedelta(days=15)
