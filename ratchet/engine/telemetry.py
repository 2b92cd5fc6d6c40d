"""What operators see of each run: one log line per finished run and per failed attempt, and metrics.

A failed attempt caused by the task or the world (a Liquid error, an error action, a remote
server's 500, a refused recipient) is expected: it gets one WARNING line with the message. Any
other exception is a bug in Ratchet and keeps its traceback.
"""

from __future__ import annotations

import logging
from datetime import datetime

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunState
from ratchet.engine.metrics import metrics
from ratchet.store.tables import Run

log = logging.getLogger("ratchet.runs")


def _duration_ms(started_at: datetime | None) -> int | None:
    return None if started_at is None else int((utcnow() - started_at).total_seconds() * 1000)


def attempt_started(run: Run, attempt: int, due_at: datetime | None) -> None:
    kind = {"kind": run.kind.value}
    metrics().attempts.add(1, kind)
    if attempt == 1:
        metrics().runs_started.add(1, kind)
    if due_at is not None:
        metrics().queue_lag.record(max(0.0, (utcnow() - due_at).total_seconds() * 1000), kind)


def throttle_wait(kind: str) -> None:
    metrics().throttle_waits.add(1, {"kind": kind})


def run_finished(run: Run, state: RunState, attempts: int) -> None:
    metrics().runs_finished.add(1, {"kind": run.kind.value, "state": state.value})
    log.info(
        "run finished",
        extra={
            "fields": {
                "kind": run.kind.value,
                "state": state.value,
                "shop": run.shop_id,
                "task": run.task_name,
                "action": run.action_type,
                "run": run.id,
                "attempts": attempts,
                "duration_ms": _duration_ms(run.started_at),
            }
        },
    )


def attempt_failed(
    run: Run, attempt: int, message: str, *, retry_in_seconds: float | None, exc: BaseException | None
) -> None:
    """`exc` is given only for Ratchet's own bugs, whose traceback is worth a screen."""
    retried = "true" if retry_in_seconds is not None else "false"
    metrics().attempts_failed.add(1, {"kind": run.kind.value, "retried": retried})
    log.warning(
        "attempt failed",
        exc_info=exc,
        extra={
            "fields": {
                "kind": run.kind.value,
                "shop": run.shop_id,
                "task": run.task_name,
                "action": run.action_type,
                "run": run.id,
                "attempt": attempt,
                "retry_in_s": retry_in_seconds,
                "error": message,
            }
        },
    )
