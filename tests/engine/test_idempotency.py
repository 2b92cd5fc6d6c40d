"""Re-deliveries of an http action run carry one Idempotency-Key; a manual retry gets a new one."""

from __future__ import annotations

import asyncio

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.devserver import free_port
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs

# A transient 500, then a redirect to a scheme httpx cannot follow (a permanent failure), then success.
RESPONSES = [
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nlocation: ftp://example.com/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
]


class Receiver:
    def __init__(self) -> None:
        self.keys: list[str] = []
        self.port = free_port()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        self.keys.append(next(v for k, v in headers.items() if k.lower() == "idempotency-key"))
        writer.write(RESPONSES[min(len(self.keys), len(RESPONSES)) - 1])
        await writer.drain()
        writer.close()


async def test_automatic_retries_repeat_the_key_and_a_manual_retry_changes_it(api: Ratchet) -> None:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", receiver.port)
    try:
        url = f"http://127.0.0.1:{receiver.port}/hook"
        await add_task(
            api, "Hook", f'{{% action "http", method: "post", url: "{url}", error_on_5xx: true %}}', ["user/idem/go"]
        )
        event_id = await api.events.send("user/idem/go", None)
        runs = await wait_for_runs(api, event_id, settled(1))
        (action,) = of_kind(runs, RunKind.action)
        assert action.state == RunState.failed and action.attempts == 2
        await api.runs.retry(action.id)
        runs = await wait_for_runs(
            api, event_id, lambda rs: settled(1)(rs) and of_kind(rs, RunKind.action)[0].state == RunState.succeeded
        )
    finally:
        server.close()
    first, automatic, manual = receiver.keys
    assert first == automatic == action.id
    assert manual != first
