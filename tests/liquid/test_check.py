from __future__ import annotations

import json
from pathlib import Path

import pytest

from ratchet.services.check import run_check


def write(tmp_path: Path, name: str, **fields: object) -> Path:
    data = {
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
