"""SIGKILL a worker process in the middle of an action: the run still completes, recorded once.

The action is an HTTP POST to a target we control. The first request reaches the target and
is held open; the worker is killed while waiting for the answer, a fresh worker takes over
after the heartbeat timeout, and the action is attempted again — so the target sees the side
effect twice (at-least-once), both times with the same Idempotency-Key, while the ledger shows
one action run, Succeeded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.devserver import free_port
from ratchet.services.events import EventService, NewEvent
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs

pytestmark = pytest.mark.reliability
REPO = Path(__file__).resolve().parents[2]


class Target:
    """A loopback HTTP endpoint that counts requests and holds the first one open."""

    def __init__(self) -> None:
        self.hits = 0
        self.idempotency_keys: set[str] = set()
        self.first_hit = asyncio.Event()
        self.port = free_port()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        self.hits += 1
        self.idempotency_keys |= {
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"idempotency-key:")
        }
        if self.hits == 1:
            self.first_hit.set()
            await reader.read()  # held until the killed worker's socket closes
        else:
            writer.write(
                b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{"ok":true}'
            )
            await writer.drain()
        writer.close()


def _start_worker(api: Ratchet) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RATCHET_TEMPORAL_ADDRESS": api.settings.effective_temporal_address,
        "RATCHET_DATABASE_URL": api.settings.effective_database_url,
        "RATCHET_TASK_QUEUE": api.settings.temporal.task_queue,
        "RATCHET_TIME_SCALE": str(api.settings.time_scale),
    }
    return subprocess.Popen(
        [sys.executable, "worker.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def test_killed_worker_mid_action_completes_the_run_once(api: Ratchet) -> None:
    target = Target()
    server = await asyncio.start_server(target.handle, "127.0.0.1", target.port)
    queue_api = Ratchet(
        api.settings.updated(temporal={"task_queue": f"kill-{uuid.uuid4().hex[:8]}"}), api.store, api.client
    )
    await add_task(
        queue_api,
        "Notify",
        f'{{% action "http", method: "post", url: "http://127.0.0.1:{target.port}/hook", body: event.data %}}',
        ["user/kill/test"],
    )
    first = _start_worker(queue_api)
    second: subprocess.Popen[bytes] | None = None
    try:
        created = await EventService(queue_api.settings, api.store, api.client).create(
            NewEvent(shop_id=api.settings.shop, topic="user/kill/test", data={"n": 1})
        )
        await asyncio.wait_for(target.first_hit.wait(), timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = _start_worker(queue_api)
        runs = await wait_for_runs(api, created.id, settled(1), timeout=120)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        server.close()

    actions = of_kind(runs, RunKind.action)
    detail = await api.runs.get(actions[0].id)
    print(
        f"\nworker SIGKILL mid-action: {len(actions)} action run recorded ({detail.state.value}, {detail.attempts} attempts); "
        f"the side effect reached the target {target.hits} time(s) for 1 action, "
        f"with {len(target.idempotency_keys)} distinct Idempotency-Key(s)"
    )
    assert len(actions) == 1 and detail.state == RunState.succeeded
    assert detail.result["status"] == 200
    assert target.hits >= 2  # the killed worker's request, then the re-delivery
    assert target.idempotency_keys == {actions[0].id}  # so the receiver can drop the duplicate
