"""The task pages over HTTP: list, import by paste and upload, enable toggle, the options form and its live preview, save with the import's validation, Run task (trigger, text, form), export, versions, delete."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ratchet.core.runs import RunKind
from starter.api import Ratchet, TaskDraft
from tests.support.console import ConsoleClient
from tests.support.tasks import add_task, export
from tests.support.waiting import of_kind, settled, wait_for_runs

EXAMPLE = Path(__file__).parents[2] / "examples" / "dead-mans-switch.json"
TAGGER = '{% log "tagging with " | append: options.tag__required %}\n{% action "echo", tag: options.tag__required %}'


def task_id_of(location: str) -> str:
    found = re.search(r"/tasks/([0-9a-f-]{36})", location)
    assert found, location
    return found.group(1)


async def test_import_by_paste_and_upload_and_the_list(console: ConsoleClient, api: Ratchet) -> None:
    base = f"/s/{console.shop}/tasks"
    pasted = await console.post(f"{base}/import", {"export": EXAMPLE.read_text()})
    assert pasted.status_code == 303
    task_id = task_id_of(pasted.headers["location"])
    page = await console.get(pasted.headers["location"])
    assert "Imported. It is enabled." in page.text and "Dead man&#39;s switch" in page.text

    upload = json.dumps(export("Uploaded", TAGGER, ["user/tag/now"], options={"tag__required": None}))
    uploaded = await console.http.post(
        f"{base}/import",
        data={"csrf_token": console.csrf_token},
        files={"file": ("uploaded.json", upload.encode(), "application/json")},
    )
    assert uploaded.status_code == 303
    listing = (await console.get(base)).text
    assert "Dead man&#39;s switch" in listing and "Uploaded" in listing
    assert '<code class="chip">mechanic/user/trigger</code>' in listing
    assert f'action="{base}/{task_id}/run"' in listing  # a trigger task runs from the list

    broken = await console.post(f"{base}/import", {"export": '{"name": "x"'})
    assert broken.status_code == 400 and "invalid task export" in broken.text
    # What was pasted is kept for fixing.
    assert "{&#34;name&#34;: &#34;x&#34;" in broken.text


async def test_enable_toggle_refuses_with_the_reason(console: ConsoleClient, api: Ratchet) -> None:
    imported = await api.tasks.import_(export("Needs tag", TAGGER, ["user/tag/now"], options={"tag__required": None}))
    base = f"/s/{console.shop}/tasks"
    refused = await console.post(f"{base}/{imported.task.id}/enabled", {"enabled": "true"})
    assert refused.status_code == 409 and "empty required options: tag__required" in refused.text
    await api.tasks.configure(imported.task.id, {"tag__required": "vip"})
    enabled = await console.post(f"{base}/{imported.task.id}/enabled", {"enabled": "true"})
    assert enabled.status_code == 303 and (await api.tasks.get(imported.task.id)).enabled
    versions = await api.tasks.versions(imported.task.id)
    assert (versions[0].change, versions[0].source) == ("enable", "console")


async def test_options_form_preview_and_save(console: ConsoleClient, api: Ratchet) -> None:
    script = TAGGER + "\n{% if options.loud__boolean %}{% log options.level__select_o1_low_o2_high %}{% endif %}"
    options = {"tag__required": "vip", "loud__boolean": False, "level__select_o1_low_o2_high": "low"}
    task = await add_task(api, "Tagger", script, ["user/tag/now"], options=options)
    base = f"/s/{console.shop}/tasks/{task.id}"
    page = (await console.get(base)).text
    assert 'name="option.tag__required" type="text" value="vip"' in page
    assert 'type="checkbox" id="opt-loud__boolean" name="option.loud__boolean" value="true">' in page
    assert "<option selected>low</option>" in page
    assert "tagging with vip" in page  # the preview is on the page from the start
    assert 'hx-post="' + base + '/preview"' in page and "delay:500ms" in page

    edit = {
        "option.tag__required": "gold",
        "option.loud__boolean": ["false", "true"],
        "option.level__select_o1_low_o2_high": "high",
    }
    pane = await console.post(f"{base}/preview", edit, headers={"HX-Request": "true"})
    assert pane.status_code == 200 and pane.text.lstrip().startswith('<div id="preview"')
    assert "tagging with gold" in pane.text and "high" in pane.text and "<html" not in pane.text
    assert (await api.tasks.get(task.id)).options["tag__required"] == "vip"  # previews save nothing

    bad = await console.post(f"{base}/preview", {"option.tag__required": ""}, headers={"HX-Request": "true"})
    assert "Required options are empty (previewed with placeholders): tag__required" in bad.text

    saved = await console.post(base, edit)
    assert saved.status_code == 303 and "saved=1" in saved.headers["location"]
    stored = await api.tasks.get(task.id)
    assert stored.options == {"tag__required": "gold", "loud__boolean": True, "level__select_o1_low_o2_high": "high"}
    assert "Saved as version 2." in (await console.get(saved.headers["location"])).text


async def test_advanced_mode_edits_code_with_the_imports_validation(console: ConsoleClient, api: Ratchet) -> None:
    task = await add_task(api, "Tagger", TAGGER, ["user/tag/now"], options={"tag__required": "vip"})
    base = f"/s/{console.shop}/tasks/{task.id}"
    page = (await console.get(f"{base}?mode=advanced")).text
    assert 'name="script"' in page and 'name="subscriptions_template"' in page
    form = {
        "mode": "advanced",
        "name": "Tagger",
        "script": TAGGER + "\r\n{% if %}",
        "subscriptions_template": "user/tag/now",
        "option.tag__required": "vip",
        "perform_action_runs_in_sequence": "false",
        "halt_action_run_sequence_on_error": "false",
    }
    pane = await console.post(f"{base}/preview", form, headers={"HX-Request": "true"})
    assert "Liquid syntax error" in pane.text and "line 3" in pane.text
    refused = await console.post(base, form)
    assert refused.status_code == 400 and "script: Liquid syntax error" in refused.text
    # The unsaved code is still in the form.
    assert (
        "{% if %}"
        in refused.text.replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        or "{%% if %%}" in refused.text
    )
    form["script"] = TAGGER + "\n{% log options.extra %}"
    saved = await console.post(base, form)
    assert saved.status_code == 303
    stored = await api.tasks.get(task.id)
    assert stored.script.endswith("{% log options.extra %}") and "extra" in stored.options


async def test_run_task_text_and_form(console: ConsoleClient, api: Ratchet) -> None:
    script = '{% action "echo", text: event.data, when: input.day %}'
    task = await add_task(
        api, "Runner", script, ["mechanic/user/text", "mechanic/user/form"], options={"day__date_userform": None}
    )
    base = f"/s/{console.shop}/tasks/{task.id}"
    page = (await console.get(f"{base}/run")).text
    assert "Run with text" in page and 'name="option.day__date_userform" type="date"' in page

    ran = await console.post(f"{base}/run", {"mode": "text", "text": "hello"})
    assert ran.status_code == 303 and "/events/" in ran.headers["location"]
    event_id = ran.headers["location"].rsplit("/", 1)[1]
    runs = await wait_for_runs(api, event_id, settled(1))
    assert (await api.runs.get(of_kind(runs, RunKind.action)[0].id)).action_options["text"] == "hello"

    bad = await console.post(f"{base}/run", {"mode": "form", "option.day__date_userform": "tomorrow"})
    assert bad.status_code == 400 and "expected YYYY-MM-DD" in bad.text
    ran = await console.post(f"{base}/run", {"mode": "form", "option.day__date_userform": "2026-12-24"})
    event_id = ran.headers["location"].rsplit("/", 1)[1]
    runs = await wait_for_runs(api, event_id, settled(1))
    assert (await api.runs.get(of_kind(runs, RunKind.action)[0].id)).action_options["when"] == "2026-12-24"


async def test_a_run_link_offers_the_tasks_that_take_its_resources(console: ConsoleClient, api: Ratchet) -> None:
    # Mechanic's run-link form, as a Shopify admin link or an email would open it.
    takes = await add_task(api, "Per variant", '{% action "echo", id: variant.id %}', ["mechanic/user/variant"])
    await add_task(api, "Per order", '{% action "echo", id: order.id %}', ["mechanic/user/order"])
    page = (await console.get(f"/s/{console.shop}/tasks/run?resource_type=variant&ids[]=41&ids[]=42")).text
    assert "Send variant to a task" in page and "<code>41, 42</code>" in page
    assert "Per variant" in page and "Per order" not in page
    run_url = f"/s/{console.shop}/tasks/{takes.id}/run?resource=variant&amp;ids=41%2C%2042"
    assert run_url in page
    # The task's Run page arrives with the resources filled in; running sends one event per variant.
    run_page = (await console.get(run_url.replace("&amp;", "&"))).text
    assert "<option selected>variant</option>" in run_page and ">41, 42</textarea>" in run_page
    ran = await console.post(
        f"/s/{console.shop}/tasks/{takes.id}/run", {"mode": "resources", "resource": "variant", "ids": "41, 42"}
    )
    assert ran.status_code == 303 and ran.headers["location"].endswith(f"/events?task={takes.id}")
    unknown = (await console.get(f"/s/{console.shop}/tasks/run?resource_type=widget&ids[]=1")).text
    assert "names no resource Ratchet can send" in unknown


async def test_export_versions_restore_delete(console: ConsoleClient, api: Ratchet) -> None:
    task = await add_task(api, "Tagger", TAGGER, ["user/tag/now"], options={"tag__required": "vip"})
    base = f"/s/{console.shop}/tasks/{task.id}"
    exported = await console.get(f"{base}/export.json")
    assert exported.headers["content-disposition"] == 'attachment; filename="tagger.json"'
    assert exported.json()["script"] == TAGGER

    await console.post(base, {"option.tag__required": "gold"})
    versions = (await console.get(f"{base}/versions")).text
    assert "Version 2 (current)" in versions and "by console" in versions and "by api" in versions
    assert '<span class="diff-add">+options: {&#34;tag__required&#34;: &#34;gold&#34;}</span>' in versions
    restored = await console.post(f"{base}/versions/1/restore")
    assert restored.status_code == 303
    assert "Restored version 1 as version 3." in (await console.get(restored.headers["location"])).text
    assert (await api.tasks.get(task.id)).options == {"tag__required": "vip"}

    assert "Delete Tagger?" in (await console.get(f"{base}/delete")).text
    deleted = await console.post(f"{base}/delete")
    assert deleted.status_code == 303
    assert (await console.get(base)).status_code == 404


async def test_task_docs_render_markdown_with_html_off(console: ConsoleClient, api: Ratchet) -> None:
    docs = "Tags **orders**.\n\n<script>alert(1)</script>\n\n[bad](javascript:alert(1))"
    task = await add_task(api, "Documented", TAGGER, ["user/tag/now"], options={"tag__required": "x"}, docs=docs)
    page = (await console.get(f"/s/{console.shop}/tasks/{task.id}")).text
    assert "<strong>orders</strong>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page


async def test_state_changes_need_the_csrf_token(console: ConsoleClient, api: Ratchet) -> None:
    task = await add_task(api, "Tagger", TAGGER, ["user/tag/now"], options={"tag__required": "vip"})
    base = f"/s/{console.shop}/tasks/{task.id}"
    for path in ("", "/enabled", "/delete", "/run", "/versions/1/restore", "/preview"):
        assert (await console.post(base + path, {"enabled": "false"}, csrf=False)).status_code == 403
    assert (await api.tasks.get(task.id)).enabled


async def test_event_detail_names_the_task_version_each_attempt_rendered(console: ConsoleClient, api: Ratchet) -> None:
    task = await add_task(api, "Breaks", '{% error "broken" %}', ["user/break/now"])
    event_id = await api.events.send("user/break/now", None)
    runs = await wait_for_runs(api, event_id, settled(0))
    await api.tasks.save(task.id, TaskDraft(script='{% action "echo", fixed: true %}'))
    await api.runs.retry(of_kind(runs, RunKind.task)[0].id)
    await wait_for_runs(api, event_id, settled(1))
    # Later changes: the run still says what it rendered, and how far the task has moved since.
    await api.tasks.configure(task.id, {})  # unchanged: records no version
    await api.tasks.disable(task.id)
    await api.tasks.enable(task.id)
    page = (await console.get(f"/s/{console.shop}/events/{event_id}")).text
    assert "rendered with version 2 of 4" in page
    assert '<td data-label="Version">1</td>' in page and '<td data-label="Version">2</td>' in page
