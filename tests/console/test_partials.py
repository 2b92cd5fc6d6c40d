"""The shared run partials draw any action a task can render, and parse recorded errors with their position."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.console.run_output import RenderError, RunOutput
from ratchet.console.templating import build_templates
from ratchet.liquid.render import RenderRequest, render_task

TEMPLATES = build_templates().env


def draw(action_type: str, options: Any) -> str:
    return TEMPLATES.get_template("partials/action.html").render(action={"type": action_type, "options": options})


@pytest.mark.parametrize(
    ("action_type", "options", "shown"),
    [
        (
            "email",
            {"to": ["a@example.com", "b@example.com"], "subject": "Hi", "body": "<b>x</b>"},
            "a@example.com, b@example.com",
        ),
        ("email", {"to": "a@example.com", "subject": "Hi", "cc": "c@example.com"}, "<dt>Cc</dt><dd>c@example.com</dd>"),
        (
            "http",
            {"method": "post", "url": "https://example.com/x", "body": {"a": 1}},
            "<code>POST https://example.com/x</code>",
        ),
        ("shopify", "query { shop { name } }", "query { shop { name } }"),
        ("shopify", {"query": "mutation { x }", "variables": {"id": 1}}, "mutation { x }"),
        ("shopify", ["update", ["customer", 1], {"customer": {"tags": "x"}}], "<code>UPDATE customer/1</code>"),
        ("cache", ["setex", "k", 60, "v"], 'Cache <strong>setex</strong> key <code>k</code> with <code>60, "v"</code>'),
        ("cache", {"setex": {"key": "k", "ttl": 60, "value": "v"}}, "&#34;setex&#34;"),
        ("event", {"topic": "user/a/b", "data": {"n": 1}}, "Creates a child event <code>user/a/b</code>"),
        ("echo", None, "null"),
        ("email", "not a hash", "&#34;not a hash&#34;"),
        ("shopify", ["get"], "&#34;get&#34;"),
    ],
)
def test_every_action_shape_is_drawn(action_type: str, options: Any, shown: str) -> None:
    assert shown in draw(action_type, options)


def test_task_output_is_escaped_and_email_bodies_stay_in_the_sandbox() -> None:
    html = draw("email", {"to": "<script>x</script>", "subject": "s", "body": '<img src=x onerror="alert(1)">'})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'sandbox srcdoc="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in html


def test_recorded_errors_keep_their_line_and_column() -> None:
    text = "Liquid error: boom (line 3, column 7)\n3 | {{ x }}\n      ^"
    assert RenderError.parse(text) == RenderError("Liquid error: boom", 3, 7, "3 | {{ x }}\n      ^")
    assert RenderError.parse("task is disabled") == RenderError("task is disabled")


def test_a_recorded_task_run_and_a_fresh_render_draw_the_same() -> None:
    script = '{% log "hello" %}{% action "echo", n: 1 %}{% error "careful" %}'
    rendered = render_task(
        RenderRequest(script=script, options={}, event={"topic": "user/a/b", "data": {}}, task={}, shop={})
    )
    fresh = RunOutput.of_render(rendered)
    recorded = RunOutput.of_objects(rendered.objects)
    assert recorded == fresh
    html = TEMPLATES.get_template("partials/run_output.html").render(output=fresh)
    assert "<h4>Logs</h4>" in html and "hello" in html and "<h4>Errors</h4>" in html and "Actions (1)" in html
