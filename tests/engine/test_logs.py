"""What an operator reads: one line per finished run, one per failed attempt, tracebacks only for bugs."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.logs import JsonFormatter, TextFormatter, record_fields
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs


def lines_for(caplog: pytest.LogCaptureFixture, shop: str, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message and record_fields(r).get("shop") == shop]


async def test_expected_failures_are_one_line_each_and_bugs_keep_their_traceback(
    api: Ratchet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await add_task(api, "Refuses", '{% action "echo", __error: "nope" %}{% action "test_bug" %}', ["user/logs/go"])
    await add_task(api, "Liquid error", '{% error "bad input" %}', ["user/logs/go"])
    event_id = await api.events.send("user/logs/go", None)
    runs = await wait_for_runs(api, event_id, settled(2))

    finished = [record_fields(r) for r in lines_for(caplog, api.settings.shop, "run finished")]
    for run in runs:  # exactly one line per run, with its final state and attempts
        (line,) = [f for f in finished if f["run"] == run.id]
        assert (line["kind"], line["state"], line["attempts"]) == (run.kind.value, run.state.value, run.attempts)
        assert line["task"] == run.task_name and line["duration_ms"] >= 0

    failures = {record_fields(r)["error"]: r for r in lines_for(caplog, api.settings.shop, "attempt failed")}
    assert set(failures) == {"nope", "bad input", "a bug"}
    assert all(r.levelno == logging.WARNING for r in failures.values())
    assert failures["nope"].exc_info is None and failures["bad input"].exc_info is None
    assert failures["a bug"].exc_info is not None
    assert not [r for r in caplog.records if r.name.startswith("temporalio") and r.levelno >= logging.WARNING]
    assert sorted(r.state for r in of_kind(runs, RunKind.action)) == [RunState.failed, RunState.succeeded]


def _record(exc_info: bool) -> logging.LogRecord:
    try:
        raise ZeroDivisionError("a bug")
    except ZeroDivisionError:
        info = sys.exc_info() if exc_info else None
    record = logging.LogRecord("ratchet.runs", logging.WARNING, __file__, 1, "attempt failed", None, info)
    record.fields = {"kind": "action", "task": "Send a mail", "error": 'HTTP 500 "oops"'}
    return record


def test_json_lines_carry_the_fields() -> None:
    entry = json.loads(JsonFormatter().format(_record(exc_info=False)))
    assert entry["level"] == "WARNING" and entry["message"] == "attempt failed"
    assert entry["task"] == "Send a mail" and entry["error"] == 'HTTP 500 "oops"' and "traceback" not in entry
    assert "ZeroDivisionError" in json.loads(JsonFormatter().format(_record(exc_info=True)))["traceback"]


def test_text_lines_are_key_value_pairs() -> None:
    line = TextFormatter().format(_record(exc_info=False))
    assert line.endswith('attempt failed kind=action task="Send a mail" error="HTTP 500 \\"oops\\""')
    assert "\n" not in line
