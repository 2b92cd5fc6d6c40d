"""Task versions: every change records one (who, what, hash), diffs read as code, restore goes back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from ratchet.errors import Conflict, InvalidInput
from ratchet.services import task_versions, tasks
from ratchet.services.task_drafts import TaskDraft
from ratchet.store.database import Store
from ratchet.store.tables import Shop
from starter.api import Ratchet
from tests.support.cli import one_line_error, ratchet
from tests.support.tasks import export

SCRIPT_V1 = '{% action "echo", greeting: options.greeting__required %}\n{% log "one" %}'
SCRIPT_V2 = '{% action "echo", greeting: options.greeting__required %}\n{% log "two" %}'


@pytest.fixture
def shop_id(db_store: Store) -> str:
    shop_id = f"shop-{uuid.uuid4().hex[:10]}"
    with db_store.session() as session:
        session.add(Shop(id=shop_id, timezone="UTC"))
    return shop_id


def greeter(script: str = SCRIPT_V1, greeting: str | None = "hi") -> dict:
    return export("Greeter", script, ["user/greet/now"], options={"greeting__required": greeting})


def test_each_change_records_a_version_with_who_and_what(db_store: Store, shop_id: str) -> None:
    imported = tasks.import_task(db_store, shop_id, greeter(), changed_by="cli")
    task_id = imported.task.id
    tasks.configure_task(db_store, shop_id, task_id, {"greeting__required": "hello"}, changed_by="console")
    tasks.set_enabled(db_store, shop_id, task_id, False, changed_by="api")
    tasks.save_task(db_store, shop_id, task_id, TaskDraft(script=SCRIPT_V2), changed_by="console")

    versions = task_versions.list_versions(db_store, shop_id, task_id)
    assert [(v.version, v.source, v.change) for v in versions] == [
        (4, "console", "save"),
        (3, "api", "disable"),
        (2, "console", "configure"),
        (1, "cli", "import"),
    ]
    assert tasks.get_task(db_store, shop_id, task_id).version == 4
    assert len({v.content_hash for v in versions}) == 4
    assert versions[-1].content["options"] == {"greeting__required": "hi"} and versions[-1].enabled
    assert not versions[1].enabled


def test_an_unchanged_save_records_no_version(db_store: Store, shop_id: str) -> None:
    task_id = tasks.import_task(db_store, shop_id, greeter()).task.id
    tasks.configure_task(db_store, shop_id, task_id, {"greeting__required": "hi"})
    tasks.set_enabled(db_store, shop_id, task_id, True)
    tasks.import_task(db_store, shop_id, greeter())
    assert [v.version for v in task_versions.list_versions(db_store, shop_id, task_id)] == [1]


def test_diff_shows_the_changed_script_line_and_option(db_store: Store, shop_id: str) -> None:
    task_id = tasks.import_task(db_store, shop_id, greeter()).task.id
    tasks.save_task(db_store, shop_id, task_id, TaskDraft(script=SCRIPT_V2, options={"greeting__required": "yo"}))
    diff = task_versions.get_version(db_store, shop_id, task_id, 2).diff
    assert diff.startswith("--- version 1\n+++ version 2")
    assert '-{% log "one" %}' in diff and '+{% log "two" %}' in diff
    assert '-options: {"greeting__required": "hi"}' in diff and '+options: {"greeting__required": "yo"}' in diff
    # The first line of the script is unchanged: context, not a change.
    assert ' {% action "echo", greeting: options.greeting__required %}' in diff
    first = task_versions.get_version(db_store, shop_id, task_id, 1).diff
    assert first.startswith("--- (nothing)\n+++ version 1")


def test_restore_brings_back_code_and_options_as_a_new_version(db_store: Store, shop_id: str) -> None:
    task_id = tasks.import_task(db_store, shop_id, greeter()).task.id
    tasks.save_task(db_store, shop_id, task_id, TaskDraft(script=SCRIPT_V2, options={"greeting__required": "yo"}))
    tasks.set_enabled(db_store, shop_id, task_id, False)

    restored = task_versions.restore_version(db_store, shop_id, task_id, 1, changed_by="console")
    assert restored.script == SCRIPT_V1 and restored.options == {"greeting__required": "hi"}
    # Restoring code does not start a task the user stopped.
    assert restored.enabled is False
    newest = task_versions.list_versions(db_store, shop_id, task_id)[0]
    assert (newest.version, newest.change, newest.source) == (4, "restore of version 1", "console")


def test_restore_of_an_unknown_version_is_refused(db_store: Store, shop_id: str) -> None:
    task_id = tasks.import_task(db_store, shop_id, greeter()).task.id
    with pytest.raises(Exception, match="has no version 9"):
        task_versions.restore_version(db_store, shop_id, task_id, 9)


def test_save_validates_as_import_does_and_loses_nothing(db_store: Store, shop_id: str) -> None:
    task_id = tasks.import_task(db_store, shop_id, greeter()).task.id
    with pytest.raises(InvalidInput, match="script: Liquid syntax error"):
        tasks.save_task(db_store, shop_id, task_id, TaskDraft(script="{% if %}"))
    with pytest.raises(InvalidInput, match="subscriptions_template: rendered an invalid subscription"):
        tasks.save_task(db_store, shop_id, task_id, TaskDraft(subscriptions_template="not a topic!"))
    with pytest.raises(InvalidInput, match=r"options.count__number: expected a number"):
        tasks.save_task(
            db_store,
            shop_id,
            task_id,
            TaskDraft(script=SCRIPT_V1 + "{{ options.count__number }}", options={"count__number": "many"}),
        )
    tasks.import_task(db_store, shop_id, export("Other", "", ["user/other/now"]))
    with pytest.raises(Conflict, match="another task is named 'Other'"):
        tasks.save_task(db_store, shop_id, task_id, TaskDraft(name="Other"))
    task = tasks.get_task(db_store, shop_id, task_id)
    assert task.script == SCRIPT_V1 and task.version == 1


def test_save_of_new_code_adds_its_options_and_disables_while_a_required_one_is_empty(
    db_store: Store, shop_id: str
) -> None:
    task_id = tasks.import_task(db_store, shop_id, greeter()).task.id
    saved = tasks.save_task(
        db_store, shop_id, task_id, TaskDraft(script=SCRIPT_V1 + "{{ options.email__email_required }}")
    )
    assert list(saved.options) == ["greeting__required", "email__email_required"]
    assert saved.options["greeting__required"] == "hi" and saved.enabled is False


def test_delete_removes_the_task_and_its_versions(db_store: Store, shop_id: str) -> None:
    task_id = tasks.import_task(db_store, shop_id, greeter()).task.id
    tasks.delete_task(db_store, shop_id, task_id)
    with pytest.raises(Exception, match="unknown task"):
        task_versions.list_versions(db_store, shop_id, task_id)
    # A new task of the same name starts its own history.
    again = tasks.import_task(db_store, shop_id, greeter()).task
    assert again.version == 1


def test_export_imports_back_as_the_same_task(db_store: Store, shop_id: str) -> None:
    task = tasks.import_task(db_store, shop_id, greeter()).task
    exported = tasks.export_task(task)
    assert exported["script"] == SCRIPT_V1 and exported["subscriptions"] == ["user/greet/now"]
    other_shop = f"shop-{uuid.uuid4().hex[:10]}"
    with db_store.session() as session:
        session.add(Shop(id=other_shop, timezone="UTC"))
    copy = tasks.import_task(db_store, other_shop, exported).task
    assert tasks.task_content(copy) == tasks.task_content(task)


async def test_cli_versions_diff_restore_export_delete(api: Ratchet, tmp_path: Path) -> None:
    settings, shop = api.settings, api.settings.shop
    task = (await api.tasks.import_(greeter())).task
    configured = await ratchet(settings, shop, "task", "configure", task.id, "--option", "greeting__required=yo")
    assert configured.returncode == 0, configured.stderr

    listed = await ratchet(settings, shop, "task", "versions", "Greeter", "--json")
    assert [(v["version"], v["source"], v["change"]) for v in json.loads(listed.stdout)] == [
        (2, "cli", "configure"),
        (1, "api", "import"),
    ]
    diff = await ratchet(settings, shop, "task", "versions", "Greeter", "--diff", "2")
    assert '+options: {"greeting__required": "yo"}' in diff.stdout
    restored = await ratchet(settings, shop, "task", "restore", "Greeter", "1")
    assert "now version 3" in restored.stdout, restored.stderr
    assert (await api.tasks.get(task.id)).options == {"greeting__required": "hi"}

    out_file = tmp_path / "greeter.json"
    exported = await ratchet(settings, shop, "task", "export", "Greeter", "-o", str(out_file))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out_file.read_text())["script"] == SCRIPT_V1
    one_line_error(await ratchet(settings, shop, "task", "delete", "Greeter"), "add --yes")
    deleted = await ratchet(settings, shop, "task", "delete", "Greeter", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    one_line_error(await ratchet(settings, shop, "task", "versions", "Greeter"), "unknown task")
