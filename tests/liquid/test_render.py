"""Task renders: subject variables, errors with positions, and the limits a runaway template hits."""

from __future__ import annotations

import pytest

from ratchet.liquid import RenderLimitError, TaskRenderError, limits
from ratchet.liquid.subjects import subject_variable
from tests.support.liquid import run


@pytest.mark.parametrize(
    ("topic", "name"),
    [
        ("shopify/orders/create", "order"),
        ("shopify/customer/tags_added", "customer"),
        ("shopify/inventory_levels/update", "inventory_level"),
        ("shopify/fulfillment_events/create", "fulfillment_event"),
        ("shopify/returns/request", "return"),
        ("mechanic/actions/perform", "action"),
        ("mechanic/errors/task", "error"),
        ("mechanic/shopify/bulk_operation", "bulkOperation"),
        ("mechanic/emails/received", "email"),
        ("mechanic/user/form", "input"),
        ("mechanic/user/order", "order"),
        ("mechanic/user/orders", "orders"),
        ("mechanic/user/trigger", None),
        ("mechanic/scheduler/daily", None),
        ("user/custom/thing", None),
    ],
)
def test_subject_variables(topic: str, name: str | None) -> None:
    assert subject_variable(topic) == name


def test_subject_variable_and_event_objects() -> None:
    r = run(
        "{% log order.name %}{% log event.topic %}{% log event.preview %}{% log task.name %}{% log shop.name %}",
        topic="shopify/orders/create",
        data={"name": "#1"},
    )
    assert r.logs == ["#1", "shopify/orders/create", None, "Test task", "Example Shop"]
    assert run("{% if event.preview %}{% log 'p' %}{% endif %}", preview=True).logs == ["p"]


def test_cache_reads_and_preview_has_none() -> None:
    script = '{% log cache["k"] %}{% log cache.k %}'
    assert run(script, cache={"k": 5}).logs == [5, 5]
    assert run(script, cache={"k": 5}, preview=True).logs == [None, None]


def test_options_are_rendered_as_liquid_first_without_options() -> None:
    r = run(
        "{% log options.subject %}",
        topic="shopify/orders/create",
        data={"name": "#9"},
        options={"subject": "Order {{ order.name }} at {{ shop.name }}{{ options.x }}"},
    )
    assert r.logs == ["Order #9 at Example Shop"]


def test_syntax_error_has_position_and_excerpt() -> None:
    with pytest.raises(TaskRenderError) as exc:
        run("{% log 'ok' %}\n{% if %}\n{% endif %}")
    err = exc.value
    assert err.line == 2 and err.column is not None
    assert "^" in (err.excerpt or "") and "line 2" in str(err)


def test_render_error_has_position() -> None:
    with pytest.raises(TaskRenderError) as exc:
        run('{% log "a" %}\n\n{% assign x = "{" | parse_json %}')
    assert exc.value.line == 3


def test_unknown_filter_is_an_error() -> None:
    with pytest.raises(TaskRenderError, match="unknown filter"):
        run("{% log 1 | no_such_filter %}")


def test_loop_iteration_limit() -> None:
    with pytest.raises(TaskRenderError, match="loop iteration limit"):
        run("{% for a in (1..2000) %}{% for b in (1..2000) %}{% endfor %}{% endfor %}")


def test_output_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ratchet.liquid.environment.MechanicEnvironment.output_stream_limit", 1000)
    with pytest.raises(RenderLimitError, match="output limit"):
        run('{% for i in (1..100) %}{% log "0123456789abcdef" %}{% endfor %}')


def test_render_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "RENDER_TIME_LIMIT_SECONDS", 0.0)
    with pytest.raises(RenderLimitError, match="render time limit"):
        run("{% for i in (1..10) %}{% assign x = i %}{% endfor %}")


def test_nesting_limit() -> None:
    deep = "{% if true %}" * (limits.BLOCK_NESTING_LIMIT + 1) + "{% endif %}" * (limits.BLOCK_NESTING_LIMIT + 1)
    with pytest.raises(TaskRenderError, match="nesting"):
        run(deep)


def test_renders_leave_nothing_behind_per_filter_call() -> None:
    """A long-lived worker's memory stays flat: filter calls keep no per-call objects alive."""
    import functools
    import gc

    def live_partials() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if isinstance(obj, functools.partial))

    run('{% assign y = "2024-01-01" | date: "%Y" %}{% log y %}')  # first-use caches
    before = live_partials()
    for _ in range(200):
        run('{% assign y = "2024-01-01" | date: "%Y" %}{% log y %}')
    assert live_partials() - before < 20
