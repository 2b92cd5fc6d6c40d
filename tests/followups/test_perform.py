"""mechanic/actions/perform (spec 8) and perform-chain loop prevention (spec 4.8)."""

from __future__ import annotations

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.services.followups import PERFORM_TOPIC
from starter.api import Ratchet
from tests.support.servers import SmtpServer
from tests.support.tasks import add_task
from tests.support.waiting import (
    all_terminal,
    child_events,
    of_kind,
    settled,
    wait_for_children,
    wait_for_runs,
    wait_until_idle,
)

RESPONDER = """
{% if event.topic == "mechanic/actions/perform" %}
  {% log type: action.type, ok: action.run.ok, error: action.run.error, attempts: action.run.attempts, trigger: event.parent.data.n %}
{% else %}
  {% action "cache", "set", "perform-key", event.data.n %}
{% endif %}
"""

RUN_FIELDS = {
    "id",
    "ok",
    "error",
    "result",
    "result_meta",
    "attempts",
    "run_at",
    "enqueued_at",
    "started_at",
    "stopped_at",
    "elapsed_time_ms",
}


async def test_action_run_reports_to_its_task(api: Ratchet) -> None:
    task = await add_task(api, "Responder", RESPONDER, ["user/perform/go", PERFORM_TOPIC])
    await add_task(api, "Bystander", '{% log "never" %}', [PERFORM_TOPIC])
    event_id = await api.events.send("user/perform/go", {"n": 7})
    runs = await wait_for_runs(api, event_id, settled(1))
    (action_run,) = of_kind(runs, RunKind.action)

    (perform,) = await wait_for_children(api, event_id, PERFORM_TOPIC)
    assert perform.task_ids == [task.id] and perform.source == "mechanic"
    data = perform.data
    assert (data["type"], data["options"], data["meta"]) == ("cache", ["set", "perform-key", 7], None)
    assert set(data["run"]) == RUN_FIELDS
    assert data["run"]["id"] == action_run.id and data["run"]["ok"] is True and data["run"]["attempts"] == 1
    assert data["run"]["result"] == 7 and data["run"]["stopped_at"] is not None
    assert data["run"]["result_meta"]["shopify_admin_graphql_api_cost"] == 0

    # Only the originating task runs; it sees the action and, through event.parent, the trigger.
    perform_runs = await wait_for_runs(api, perform.id, lambda rs: all_terminal(rs) and len(rs) == 2)
    (task_run,) = of_kind(perform_runs, RunKind.task)
    assert task_run.task_id == task.id and task_run.state == RunState.succeeded
    result = (await api.runs.get(task_run.id)).result
    assert result == [{"log": {"type": "cache", "ok": True, "error": None, "attempts": 1, "trigger": 7}}]


async def test_no_perform_event_for_echo_opt_out_or_unsubscribed_tasks(api: Ratchet) -> None:
    script = """
    {% action "echo", step: 1 %}
    {% action "cache", "set", "quiet", 1, __perform_event: false %}
    {% action "cache", "set", "loud", 2 %}
    """
    await add_task(api, "Subscribed", script, ["user/perform/some", PERFORM_TOPIC])
    await add_task(api, "Unsubscribed", '{% action "cache", "set", "other", 3 %}', ["user/perform/some"])
    event_id = await api.events.send("user/perform/some", None)
    await wait_for_runs(api, event_id, settled(4))
    await wait_until_idle(api, event_id)
    performs = child_events(api, event_id, PERFORM_TOPIC)
    assert [(e.data["type"], e.data["options"]) for e in performs] == [("cache", ["set", "loud", 2])]


async def test_failed_action_reports_and_each_manual_retry_reports_again(
    api: Ratchet, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No SMTP host configured: the email action fails permanently at its first attempt.
    for name in ("RATCHET_SMTP_HOST", "RATCHET_SMTP_USERNAME", "RATCHET_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    script = """
    {% if event.topic == "user/perform/mail" %}
      {% action "email", to: "ops@example.com", subject: "hello", body: "hi" %}
    {% endif %}
    """
    await add_task(api, "Mailer", script, ["user/perform/mail", PERFORM_TOPIC])
    event_id = await api.events.send("user/perform/mail", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    (action_run,) = of_kind(runs, RunKind.action)
    assert action_run.state == RunState.failed
    (first,) = await wait_for_children(api, event_id, PERFORM_TOPIC)
    assert first.data["run"]["ok"] is False and first.data["run"]["error"] == action_run.error
    assert first.data["run"]["attempts"] == 1

    # The ledger shows Failed before the activity returns; the workflow accepts retries only after.
    await wait_until_idle(api, event_id)
    monkeypatch.setenv("RATCHET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RATCHET_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("RATCHET_SMTP_TLS", "none")
    monkeypatch.setenv("RATCHET_MAIL_FROM", "shop@example.com")
    await api.runs.retry(action_run.id)
    performs = await wait_for_children(api, event_id, PERFORM_TOPIC, count=2)
    second = next(e for e in performs if e.id != first.id)
    assert second.data["run"]["ok"] is True and second.data["run"]["attempts"] == 2
    assert second.data["run"]["id"] == action_run.id
    assert len(smtp_server.handler.delivered(action_run.id)) == 1


async def test_perform_chain_repeating_its_predecessor_fails(api: Ratchet) -> None:
    # Renders the same action whatever the topic: answering its own perform event would loop.
    await add_task(api, "Looper", '{% action "cache", "set", "loop-key", "same" %}', ["user/loop/go", PERFORM_TOPIC])
    event_id = await api.events.send("user/loop/go", None)
    runs = await wait_for_runs(api, event_id, settled(1))
    (first_task_run,) = of_kind(runs, RunKind.task)

    (perform,) = await wait_for_children(api, event_id, PERFORM_TOPIC)
    perform_runs = await wait_for_runs(api, perform.id, lambda rs: all_terminal(rs) and len(rs) == 2)
    (looping,) = of_kind(perform_runs, RunKind.task)
    assert looping.state == RunState.failed and looping.attempts == 1
    assert "action loop prevented" in (looping.error or "") and first_task_run.id in (looping.error or "")
    assert of_kind(perform_runs, RunKind.action) == []
    await wait_until_idle(api, perform.id)
    assert child_events(api, perform.id, PERFORM_TOPIC) == []
