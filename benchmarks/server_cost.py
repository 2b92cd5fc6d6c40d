"""What each part of an event workflow's shape costs the Temporal server, in CPU-ms per workflow.

The engine benchmark finds the dev server spending more CPU per Ratchet event than per bare
workflow while making the same persistence calls. This isolates the parts Ratchet adds to bare's
three activities, one variant at a time on one dev server: the same trivial worker (in this
process) and the same three activities, with
  * bare:        nothing added;
  * attributes:  + Ratchet's three search attributes at start (ShopId, Topic, RunState);
  * summaries:   + the Web UI's start summary and details, and a summary on each activity;
  * upsert:      + the closing upsert of RunState and TaskNames;
  * payloads:    + inputs and results the size of Ratchet's (pydantic JSON, ~300 bytes);
  * ratchet:     all of them together.
Variants run in the order given, then in reverse (`--repeat` times), each batch's window running on
past its activities' heartbeat deadlines, as in throughput.py. Server CPU is read from /proc.

    uv run python benchmarks/server_cost.py [--workflows 300] [--repeat 1]

The last line is `server CPU ratchet/bare: 1.12`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import Priority, RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

from benchmarks.throughput import bounded, start_server, stat_fields, ticks_seconds
from ratchet.core.runs import PRIORITY_ACTION, PRIORITY_EVENT, PRIORITY_TASK, RUN_HEARTBEAT_TIMEOUT_SECONDS
from ratchet.engine.contract import RUN_STATE, SHOP_ID, TASK_NAMES, TOPIC
from worker import WORKER_OPTIONS

QUEUE = "server-cost"
SHOP = "shop-bench"


@dataclass(frozen=True)
class Shape:
    summaries: bool = False
    upsert: bool = False
    payload_bytes: int = 0


VARIANTS: dict[str, tuple[Shape, bool]] = {
    # name: (what the workflow does, whether the start carries search attributes)
    "bare": (Shape(), False),
    "attributes": (Shape(), True),
    "summaries": (Shape(summaries=True), False),
    "upsert": (Shape(upsert=True), False),
    "payloads": (Shape(payload_bytes=300), False),
    "ratchet": (Shape(summaries=True, upsert=True, payload_bytes=300), True),
}


@activity.defn
async def probe_step(payload: str) -> str:
    return payload


@workflow.defn
class ProbeWorkflow:
    @workflow.run
    async def run(self, shape: Shape) -> None:
        payload = "x" * shape.payload_bytes
        for kind, key in (("event", PRIORITY_EVENT), ("task", PRIORITY_TASK), ("action", PRIORITY_ACTION)):
            await workflow.execute_activity(
                probe_step,
                payload or kind,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=RUN_HEARTBEAT_TIMEOUT_SECONDS),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=["RunFailed"])
                if shape.summaries
                else None,
                priority=Priority(priority_key=key, fairness_key=SHOP),
                summary=f"{kind} run Bench" if shape.summaries else None,
            )
        if shape.upsert:
            workflow.upsert_search_attributes([RUN_STATE.value_set("Succeeded"), TASK_NAMES.value_set(["Bench"])])


def server_cpu_seconds(pid: int) -> float:
    fields = stat_fields(Path(f"/proc/{pid}/stat"))
    return ticks_seconds(int(fields[11]) + int(fields[12]))


async def batch(client: Client, name: str, count: int, concurrency: int) -> None:
    shape, attributes = VARIANTS[name]

    async def one(i: int) -> None:
        await client.execute_workflow(
            ProbeWorkflow.run,
            shape,
            id=f"{name}-{i}-{uuid.uuid4().hex[:8]}",
            task_queue=QUEUE,
            priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=SHOP),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(SHOP_ID, SHOP),
                    SearchAttributePair(TOPIC, "user/bench/go"),
                    SearchAttributePair(RUN_STATE, "Due"),
                ]
            )
            if attributes
            else None,
            static_summary="user/bench/go · shop-bench" if shape.summaries else None,
            static_details="event 0\nsource: user" if shape.summaries else None,
        )

    await bounded(concurrency, [lambda i=i: one(i) for i in range(count)])


async def main(count: int, repeat: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        server = await start_server(Path(home))
        try:
            assert server.process is not None
            client = await Client.connect(server.address)
            cpu: dict[str, float] = dict.fromkeys(VARIANTS, 0.0)
            async with Worker(
                client, task_queue=QUEUE, workflows=[ProbeWorkflow], activities=[probe_step], **WORKER_OPTIONS
            ):
                await batch(client, "bare", 50, concurrency)  # warm caches
                order = list(VARIANTS)
                for _ in range(repeat):
                    for name in order + order[::-1]:
                        before, started = server_cpu_seconds(server.process.pid), time.monotonic()
                        await batch(client, name, count, concurrency)
                        await asyncio.sleep(RUN_HEARTBEAT_TIMEOUT_SECONDS + 5)
                        cpu[name] += server_cpu_seconds(server.process.pid) - before
                        print(f"{name:<11} {time.monotonic() - started:5.1f} s", flush=True)
            runs = 2 * repeat * count
            for name, seconds in cpu.items():
                print(f"{name:<11} server {1000 * seconds / runs:5.2f} CPU-ms per workflow")
            print(f"server CPU ratchet/bare: {cpu['ratchet'] / cpu['bare']:.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.workflows, args.repeat, args.concurrency))
