"""The task page's preview: unsaved edits rendered against preview events, samples and real events, beside what the real event's task run did, with nothing performed or recorded."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import func, select

from ratchet.core.runs import RunKind, RunState
from ratchet.store.tables import CacheEntry, Event, Run
from starter.api import PreviewSource, Ratchet, TaskDraft
from tests.support.tasks import add_task, export
from tests.support.waiting import of_kind, settled, wait_for_runs

EXAMPLES = Path(__file__).parents[2] / "examples"
TAGGER = (
    "{% assign tag = options.tag__required %}\n"
    '{% log "tagging with " | append: tag %}\n'
    '{% action "echo", tag: tag, topic: event.topic %}'
)


def counts(api: Ratchet, shop_id: str) -> tuple[int, int, int]:
    with api.store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Event).where(Event.shop_id == shop_id)) or 0,
            session.scalar(select(func.count()).select_from(Run).where(Run.shop_id == shop_id)) or 0,
            session.scalar(select(func.count()).select_from(CacheEntry).where(CacheEntry.shop_id == shop_id)) or 0,
        )


async def test_unsaved_options_and_code_change_the_preview_and_nothing_is_saved(api: Ratchet) -> None:
    task = await add_task(api, "Tagger", TAGGER, ["user/tag/now"], options={"tag__required": "vip"})

    before = await api.tasks.preview(task.id)
    assert [r.description for r in before.renders] == ["user/tag/now (sample)"]
    assert before.renders[0].actions == [
        {"type": "echo", "options": {"tag": "vip", "topic": "user/tag/now"}, "meta": None}
    ]
    assert before.renders[0].logs == ["tagging with vip"]

    edited = await api.tasks.preview(task.id, TaskDraft(options={"tag__required": "wholesale"}))
    assert edited.renders[0].actions[0]["options"]["tag"] == "wholesale"
    # An emptied required option previews with a placeholder and says it is missing.
    emptied = await api.tasks.preview(task.id, TaskDraft(options={"tag__required": ""}))
    assert emptied.missing_required_options == ["tag__required"]
    assert emptied.renders[0].actions[0]["options"]["tag"] == "example"

    broken = await api.tasks.preview(task.id, TaskDraft(script=TAGGER + "\n{% if %}"))
    error = broken.renders[0].render_error
    assert error is not None and error["line"] == 4 and "syntax" in str(error["message"]).lower()

    with_scope = await api.tasks.preview(
        task.id, TaskDraft(script="{% permissions %}read_orders{% endpermissions %}\n" + TAGGER)
    )
    assert with_scope.renders[0].permissions == ["read_orders"]
    assert (await api.tasks.get(task.id)).options == {"tag__required": "vip"}


async def test_invalid_option_values_are_reported_per_field(api: Ratchet) -> None:
    script = TAGGER + "{% log options.limit__number %}"
    task = await add_task(api, "Limited", script, ["user/tag/now"], options={"tag__required": "a", "limit__number": 3})
    preview = await api.tasks.preview(task.id, TaskDraft(options={"limit__number": "lots", "tag__required": "b"}))
    assert preview.option_errors == {"limit__number": 'expected a number, got "lots"'}
    # The valid edit is used; the refused one keeps the saved value.
    assert preview.renders[0].actions[0]["options"]["tag"] == "b"
    assert preview.renders[0].logs == ["tagging with b", 3]


async def test_subscriptions_follow_the_draft_template(api: Ratchet) -> None:
    task = await add_task(api, "Subs", TAGGER, ["user/tag/now"], options={"tag__required": "a"})
    preview = await api.tasks.preview(task.id, TaskDraft(subscriptions_template="user/tag/now\nuser/tag/later+1.hour"))
    assert preview.subscriptions == ["user/tag/now", "user/tag/later+1.hour"]
    assert [r.description for r in preview.renders] == ["user/tag/now (sample)", "user/tag/later (sample)"]
    broken = await api.tasks.preview(task.id, TaskDraft(subscriptions_template="nope"))
    assert broken.subscriptions == ["user/tag/now"] and "invalid subscription 'nope'" in str(broken.subscriptions_error)


async def test_real_event_preview_shows_what_its_task_run_did(api: Ratchet) -> None:
    task = await add_task(api, "Tagger", TAGGER, ["user/tag/now"], options={"tag__required": "vip"})
    event_id = await api.events.send("user/tag/now", {"order": 1001})
    await wait_for_runs(api, event_id, settled(1))
    recent = await api.tasks.recent_events(task.id)
    assert [e.id for e in recent] == [event_id]

    before = counts(api, api.settings.shop)
    preview = await api.tasks.preview(
        task.id, TaskDraft(options={"tag__required": "gold"}), PreviewSource(kind="event", event_id=event_id)
    )
    render = preview.renders[0]
    assert render.event["data"] == {"order": 1001} and render.event["id"] == event_id
    assert render.actions[0]["options"] == {"tag": "gold", "topic": "user/tag/now"}
    [recorded] = render.recorded
    assert recorded.state == "Succeeded" and recorded.task_version == 1
    assert recorded.logs == ["tagging with vip"]
    assert [(a["type"], a["options"]["tag"], a["state"]) for a in recorded.actions] == [("echo", "vip", "Succeeded")]
    assert counts(api, api.settings.shop) == before


async def test_dead_mans_switch_preview_writes_no_cache(api: Ratchet) -> None:
    imported = await api.tasks.import_(json.loads((EXAMPLES / "dead-mans-switch.json").read_text()))
    before = counts(api, api.settings.shop)
    preview = await api.tasks.preview(imported.task.id)
    topics = [r.event["topic"] for r in preview.renders]
    assert topics == ["mechanic/scheduler/10min", "mechanic/user/trigger"]
    trigger = preview.renders[1]
    assert trigger.render_error is None and [a["type"] for a in trigger.actions] == ["cache"]
    sample = await api.tasks.preview(
        imported.task.id, source=PreviewSource(kind="sample", topic="mechanic/user/trigger")
    )
    assert [a["type"] for a in sample.renders[0].actions] == ["cache"]
    assert counts(api, api.settings.shop) == before


async def test_each_task_run_attempt_records_the_version_it_rendered(api: Ratchet) -> None:
    task = await add_task(api, "Breaks", '{% error "broken" %}', ["user/break/now"])
    event_id = await api.events.send("user/break/now", None)
    runs = await wait_for_runs(api, event_id, settled(0))
    task_run = of_kind(runs, RunKind.task)[0]
    assert task_run.state == RunState.failed

    await api.tasks.save(task.id, TaskDraft(script='{% action "echo", fixed: true %}'))
    await api.runs.retry(task_run.id, "fixed")
    await wait_for_runs(api, event_id, settled(1))
    detail = await api.runs.get(task_run.id)
    assert detail.state == RunState.succeeded and detail.task_version == 2
    assert [(a["attempt"], a["task_version"]) for a in detail.attempt_log] == [(1, 1), (2, 2)]
    assert [v.version for v in await api.tasks.versions(task.id)] == [2, 1]


async def test_run_task_form_sends_userform_values_by_name_and_key(api: Ratchet) -> None:
    script = '{% action "echo", when: input.big_day, level: options.level__select_o1_low_o2_high, raw: event.data %}'
    options = {"big_day__date_required_userform": None, "level__select_o1_low_o2_high": "low"}
    task = (await api.tasks.import_(export("Form", script, ["mechanic/user/form"], options=options))).task
    # A required user-form option leaves the task disabled on import, like any required option.
    await api.tasks.configure(task.id, {"big_day__date_required_userform": "2026-01-01"})
    await api.tasks.enable(task.id)
    try:
        await api.tasks.run(task.id, form={"big_day__date_required_userform": ""})
    except Exception as exc:
        assert "required fields are empty: big_day__date_required_userform" in str(exc)
    else:
        raise AssertionError("an empty required field was accepted")
    event_id = await api.tasks.run(task.id, form={"big_day__date_required_userform": "2026-12-24"})
    runs = await wait_for_runs(api, event_id, settled(1))
    action = await api.runs.get(of_kind(runs, RunKind.action)[0].id)
    assert action.action_options["when"] == "2026-12-24" and action.action_options["level"] == "low"
    assert action.action_options["raw"]["big_day__date_required_userform"] == "2026-12-24"
