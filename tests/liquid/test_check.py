"""`ratchet task check`: reports, warnings with stable codes, previews of every subscribed topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC as BULK_TOPIC
from ratchet.core.task_export import parse_export
from ratchet.liquid import render_task
from ratchet.liquid.output import ActionObject
from ratchet.services.check import preview_events, preview_request, run_check
from ratchet.services.compatibility import action_warnings, topic_problem


def write(tmp_path: Path, name: str, **fields: object) -> Path:
    data: dict[str, object] = {
        "name": name,
        "docs": "",
        "options": {"tag__required": None},
        "script": "{% if event.preview %}{% assign order = hash %}{% endif %}"
        '{% action "shopify" %}mutation { tagsAdd(id: {{ order.admin_graphql_api_id | json }}, tags: {{ options.tag__required | json }}) { userErrors { field } } }{% endaction %}',
        "subscriptions": ["shopify/orders/create"],
        "subscriptions_template": "shopify/orders/create",
    }
    data.update(fields)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_check_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good")
    stale = write(tmp_path, "stale", subscriptions=["shopify/orders/paid"])
    broken = write(tmp_path, "broken", script="{% log 1 %}\n{{ x | nope }}")
    unparsable = write(tmp_path, "unparsable", script="{% if %}")
    code = run_check([good, stale, broken, unparsable], as_json=True)
    reports = {Path(r["file"]).stem: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert set(reports["good"]) >= {
        "file",
        "parsed",
        "subscriptions",
        "subscriptions_match",
        "previews",
        "previews_ok",
        "action_types",
        "errors",
    }
    assert reports["good"]["parsed"] and reports["good"]["subscriptions_match"]
    assert reports["good"]["previews"] == reports["good"]["previews_ok"] == 1
    assert reports["good"]["action_types"] == ["shopify"]
    assert not reports["stale"]["subscriptions_match"] and reports["stale"]["previews_ok"] == 1
    # A filter Mechanic lacks is refused when the script is parsed, with its position.
    assert not reports["broken"]["parsed"]
    assert "unknown filter 'nope' (line 2, column" in reports["broken"]["errors"][0]["message"]
    assert not reports["unparsable"]["parsed"] and reports["unparsable"]["errors"][0]["field"] == "script"


def test_check_passes_with_stale_subscriptions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check([write(tmp_path, "stale", subscriptions=["shopify/orders/paid"])], as_json=False) == 0
    out = capsys.readouterr().out
    assert "subscriptions STALE" in out and "1/1 task(s) passed" in out


def test_preview_event_definitions_are_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "defs",
        script="{% log action.run.ok %}",
        subscriptions=["mechanic/actions/perform"],
        subscriptions_template="mechanic/actions/perform",
        preview_event_definitions=[
            {
                "description": "ok run",
                "event_attributes": {
                    "topic": "mechanic/actions/perform",
                    "data": {"type": "echo", "run": {"ok": True}},
                },
            }
        ],
    )
    assert run_check([path], as_json=True) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["previews"] == 1 and report["previews_ok"] == 1


def warning_codes(report: dict) -> dict[str, set[str]]:
    codes: dict[str, set[str]] = {}
    for warning in report["warnings"]:
        codes.setdefault(warning["code"], set()).add(warning["subject"])
    return codes


def test_unsupported_features_are_warnings_with_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Seen only statically: the fax branch is not taken by the preview.
    static = write(
        tmp_path,
        "static",
        options={},
        script='{% if event.data.never %}{% action "fax" %}{"pages": {"a.pdf": {"pdf": {"html": "x"}}}}'
        "{% endaction %}{% endif %}",
        online_store_javascript="console.log(1)",
        subscriptions=["mechanic/user/order", "judgeme/review/created", "mechanic/scheduler/daily"],
        subscriptions_template="mechanic/user/order\njudgeme/review/created\nmechanic/scheduler/daily",
    )
    # Seen only in what the preview emits: a computed action type and generator option; file
    # generators that parse (here url, plaintext, an http multipart file) are no warnings.
    emitted = write(
        tmp_path,
        "emitted",
        options={},
        script='{% assign kind = "report_" | append: "toaster" %}{% assign gen = "encr" | append: "ypt" %}'
        '{% action %}{"type": {{ kind | json }}, "options": {"text": "hi"}}{% endaction %}'
        '{% action "email" %}{"to": "a@example.com", "subject": "s", "body": "b",'
        ' "attachments": {"doc.pdf": {"pdf": {"html": "x", "{{ gen }}": true}}, "ok.txt": "plain",'
        ' "page.html": {"url": "https://example.com/"}}}{% endaction %}'
        '{% action "http" %}{"method": "post", "url": "https://example.com", "files": {"a.txt": "x"}}{% endaction %}'
        '{% action "shopify" %}mutation { bulkOperationRunQuery(query: "{ products { edges { node { id } } } }")'
        " { userErrors { field } } }{% endaction %}",
    )
    fine = write(tmp_path, "fine", options={"tag__required": "x"})
    assert run_check([static, emitted, fine], as_json=True) == 0
    reports = {Path(r["file"]).stem: r for r in json.loads(capsys.readouterr().out)}
    assert warning_codes(reports["static"]) == {
        "unsupported_action": {"fax"},
        "storefront_javascript": {"online_store_javascript"},
        # mechanic/user/order comes from run links (console, `ratchet task run --resource`).
        "unproduced_topic": {"judgeme/review/created"},
    }
    assert warning_codes(reports["emitted"]) == {
        "unsupported_action": {"report_toaster"},
        "file_generator": {"email.attachments.doc.pdf"},
        "bulk_operation": {"mechanic/shopify/bulk_operation"},
    }
    [pdf] = [w for w in reports["emitted"]["warnings"] if w["code"] == "file_generator"]
    assert "'encrypt' is not supported" in pdf["message"]
    assert reports["fine"]["warnings"] == []

    # --strict: what will not work here fails the check, and the text output names each code.
    assert run_check([static, fine], as_json=False, strict=True) == 1
    out = capsys.readouterr().out
    assert "warning [unproduced_topic]: nothing here produces judgeme/review/created" in out
    assert run_check([fine], as_json=False, strict=True) == 0
    # Library exports ship with empty required options and guard errors; those are not failures.
    hygiene = write(tmp_path, "hygiene", options={"tag__required": None}, script='{% error "set the tag first" %}')
    assert run_check([hygiene], as_json=False, strict=True) == 0
    assert "warning [required_options_empty]" in capsys.readouterr().out


def test_topics_nothing_here_produces() -> None:
    produced = ["shopify/orders/create", "mechanic/scheduler/daily", "mechanic/user/trigger", "user/a/b"]
    produced += ["mechanic/actions/perform", "mechanic/errors/task", "mechanic/emails/received"]
    assert [topic for topic in produced if topic_problem(topic)] == []
    assert "no webhook" in (topic_problem("shopify/widgets/create") or "")
    assert "not a scheduler topic" in (topic_problem("mechanic/scheduler/5min") or "")


BULK_TASK = """
{% if event.topic == "mechanic/user/trigger" %}
  {% action "shopify" %}mutation { bulkOperationRunQuery(query: "{ customers { edges { node { id } } } }") { bulkOperation { id } userErrors { message } } }{% endaction %}
{% else %}
  {% for item in bulkOperation.objects %}
    {% if item.__typename == "LineItem" %}
      {% action "echo", sku: item.sku, order: item.__parent.name, customer: item.__parent.__parent.email %}
    {% endif %}
  {% endfor %}
{% endif %}
"""


def test_bulk_operation_preview_resolves_parents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = write(
        tmp_path,
        "sample",
        options={},
        script=BULK_TASK,
        subscriptions=["mechanic/user/trigger", BULK_TOPIC],
        subscriptions_template=f"mechanic/user/trigger\n{BULK_TOPIC}",
    )
    objects = [
        {"__typename": "Order", "id": "gid://shopify/Order/9", "name": "#9"},
        {
            "__typename": "LineItem",
            "id": "gid://shopify/LineItem/91",
            "sku": "S9",
            "__parentId": "gid://shopify/Order/9",
        },
    ]
    defined = write(
        tmp_path,
        "defined",
        options={},
        script=BULK_TASK.replace('{% action "echo"', "{% log"),
        subscriptions=["mechanic/user/trigger", BULK_TOPIC],
        subscriptions_template=f"mechanic/user/trigger\n{BULK_TOPIC}",
        preview_event_definitions=[
            {"description": "two lines", "event_attributes": {"topic": BULK_TOPIC, "data": {"objects": objects}}}
        ],
    )
    assert run_check([sample, defined], as_json=True) == 0
    reports = {Path(r["file"]).stem: r for r in json.loads(capsys.readouterr().out)}
    assert reports["sample"]["action_types"] == ["echo", "shopify"] and not reports["sample"]["warnings"]
    assert reports["defined"]["previews_ok"] == 2

    # The shipped sample operation's line item reaches its order and customer through __parent.
    definition = parse_export(sample.read_bytes())
    (bulk_event,) = [event for _, event in preview_events(definition) if event["topic"] == BULK_TOPIC]
    rendered = render_task(preview_request(definition, bulk_event))
    assert [a.options for a in rendered.actions] == [
        {"sku": "ABC123", "order": "#1001", "customer": "customer@example.com"}
    ]


def test_check_warns_about_half_of_a_bulk_operation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listens_only = write(
        tmp_path,
        "listens",
        options={},
        script="{% log 1 %}",
        subscriptions=[BULK_TOPIC],
        subscriptions_template=BULK_TOPIC,
    )
    starts_only = write(
        tmp_path,
        "starts",
        options={},
        script=BULK_TASK,
        subscriptions=["mechanic/user/trigger"],
        subscriptions_template="mechanic/user/trigger",
    )
    assert run_check([listens_only, starts_only], as_json=True) == 0
    reports = {Path(r["file"]).stem: r for r in json.loads(capsys.readouterr().out)}
    assert reports["listens"]["warnings"] == [
        {
            "code": "bulk_operation",
            "subject": BULK_TOPIC,
            "message": f"subscribes to {BULK_TOPIC} but never starts a bulk operation "
            "(bulkOperationRunQuery or bulkOperationRunMutation): that subscription never fires",
        }
    ]
    assert reports["starts"]["warnings"] == [
        {
            "code": "bulk_operation",
            "subject": BULK_TOPIC,
            "message": f"starts a bulk operation but does not subscribe to {BULK_TOPIC}: "
            "its results will not come back to this task",
        }
    ]


def test_pdfs_whose_scripts_would_not_run_are_named() -> None:
    chart = {"pdf": {"html": "<div id='chart'></div><script>Plotly.newPlot('chart', [])</script>"}}
    actions = [
        ActionObject("files", {"report.pdf": {"pdf": {"html": "<h1>static</h1>"}}}),
        ActionObject(
            "ftp", {"host": "h", "user": "u", "uploads": {"out.zip": {"zip": {"files": {"chart.pdf": chart}}}}}
        ),
    ]
    [warning] = action_warnings(actions)
    assert warning.code == "file_generator" and warning.subject == "ftp.uploads.out.zip/chart.pdf"
    assert "runs no JavaScript" in warning.message


def test_rest_lists_concatenate_in_previews(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`shop.orders.unpaid | concat: shop.orders.partially_paid` (a report over two REST lists) checks clean."""
    script = (
        "{% assign orders = shop.orders.unpaid | concat: shop.orders.partially_paid %}"
        '{% action "echo", count: orders.size, ids: orders | map: "id" %}'
    )
    path = write(tmp_path, "unpaid", script=script, options={}, subscriptions=["mechanic/user/trigger"])
    path.write_text(path.read_text().replace('"shopify/orders/create"', '"mechanic/user/trigger"'))
    assert run_check([path], as_json=False) == 0, capsys.readouterr().out
    assert "1/1 task(s) passed" in capsys.readouterr().out


def test_a_scripted_pdf_is_a_warning_only_without_a_pdf_browser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = write(
        tmp_path,
        "chart",
        options={},
        script='{% action "email" %}{"to": "a@example.com", "subject": "s", "body": "b",'
        ' "attachments": {"chart.pdf": {"pdf": {"html": "<canvas></canvas><script>draw()</script>"}}}}{% endaction %}',
    )
    assert run_check([chart], as_json=True, strict=True) == 1
    [warning] = json.loads(capsys.readouterr().out)[0]["warnings"]
    assert warning["code"] == "file_generator" and "run only with RATCHET_PDF_BROWSER set" in warning["message"]
    assert run_check([chart], as_json=True, strict=True, pdf_browser=Path("/usr/bin/chromium")) == 0
    assert json.loads(capsys.readouterr().out)[0]["warnings"] == []
