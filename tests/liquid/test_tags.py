"""Mechanic's tags (`action`, `log`, `error`, `permissions`, `assign`) and Ruby Liquid's blank, empty and break."""

from __future__ import annotations

import pytest

from ratchet.liquid import ActionObject, TaskRenderError
from tests.support.liquid import run, text


def test_typed_block_action_with_json_body() -> None:
    r = run('{% action "http" %}{"method": "get", "url": "https://example.com"}{% endaction %}')
    assert r.actions == [ActionObject("http", {"method": "get", "url": "https://example.com"})]
    assert r.objects == [
        {"action": {"type": "http", "options": {"method": "get", "url": "https://example.com"}, "meta": None}}
    ]


def test_shopify_block_body_is_graphql_unless_json() -> None:
    r = run(
        '{% action "shopify" %}\n  mutation { tagsAdd(id: "x", tags: ["a"]) { userErrors { field } } }\n{% endaction %}'
        '{% action "shopify" %}["update", ["order", 1], {"note": "x"}]{% endaction %}'
        '{% action "shopify" %}{ shop { name } }{% endaction %}'
    )
    assert r.actions[0].options.startswith("mutation { tagsAdd")
    assert r.actions[1].options == ["update", ["order", 1], {"note": "x"}]
    assert r.actions[2].options == "{ shop { name } }"


def test_untyped_block_action() -> None:
    r = run('{% action %}{"type": "echo", "options": {"a": 1}, "meta": {"m": true}}{% endaction %}')
    assert r.actions == [ActionObject("echo", {"a": 1}, {"m": True})]


def test_inline_positional_mapped_single_forms() -> None:
    r = run(
        '{% assign v = "val" %}'
        '{% action "cache", "set", "key", v %}'
        '{% action "echo", a: 1, b: v %}'
        '{% action "echo" a: 1 %}'
        '{% action "echo" v %}'
        '{% action "echo", v %}'
    )
    assert [a.options for a in r.actions] == [["set", "key", "val"], {"a": 1, "b": "val"}, {"a": 1}, "val", "val"]


def test_control_parameters() -> None:
    r = run(
        '{% assign m = hash %}{% assign m["mode"] = "first" %}'
        '{% action "shopify", __meta: m %}query { shop { name } }{% endaction %}'
        '{% action "echo", foo: 1, __perform_event: false %}'
        '{% action "echo", foo: 1, __error: "boom" %}'
        '{% action "http" %}{"method": "get", "url": "u", "__perform_event": false, "__meta": 5}{% endaction %}'
    )
    first, second, third, fourth = r.actions
    assert first.meta == {"mode": "first"} and first.options == "query { shop { name } }" and first.perform_event
    assert second.options == {"foo": 1} and second.perform_event is False
    assert third.options == {"foo": 1, "__error": "boom"}
    assert fourth.options == {"method": "get", "url": "u"} and fourth.meta == 5 and not fourth.perform_event


def test_options_and_meta_named_args_and_hash_plus_meta_positional() -> None:
    r = run(
        '{% assign o = hash %}{% assign o["k"] = 1 %}'
        '{% action "echo", options: o, meta: "m" %}{% action "echo", o, "m2" %}'
    )
    assert [(a.options, a.meta) for a in r.actions] == [({"k": 1}, "m"), ({"k": 1}, "m2")]


def test_log_and_error_forms() -> None:
    r = run(
        '{% log "text" %}{% assign x = 3 %}{% log x %}{% log message: "m", n: x | times: 2, other: "o" %}'
        '{% log %}{"a": [1, 2]}{% endlog %}'
        '{% error "bad" %}{% error %}{"why": "x"}{% enderror %}{% error message: "m" %}'
    )
    assert r.logs == ["text", 3, {"message": "m", "n": 6, "other": "o"}, {"a": [1, 2]}]
    assert r.errors == ["bad", {"why": "x"}, {"message": "m"}]


def test_error_does_not_stop_rendering() -> None:
    r = run('{% error "first" %}{% action "echo" 1 %}')
    assert r.errors == ["first"] and len(r.actions) == 1


def test_raw_json_objects_in_output() -> None:
    r = run('{"action": {"type": "echo", "options": {"x": 1}}}\n{"log": "hi"} {"error": {"e": 1}}')
    assert r.actions == [ActionObject("echo", {"x": 1})] and r.logs == ["hi"] and r.errors == [{"e": 1}]


def test_stray_output_is_a_parse_error() -> None:
    with pytest.raises(TaskRenderError) as exc:
        run('{% log "a" %}\nhello')
    assert "unexpected output" in exc.value.message
    assert exc.value.line == 2


def test_unknown_object_is_a_parse_error() -> None:
    with pytest.raises(TaskRenderError, match="unknown object"):
        run('{"foo": 1}')


def test_permissions_block_recorded_not_rendered() -> None:
    r = run("{% permissions %}\n  read_orders, write_products\n  read_orders\n{% endpermissions %}{% log 1 %}")
    assert r.permissions == ["read_orders", "write_products"]
    assert r.logs == [1]


def test_second_permissions_block_rejected() -> None:
    with pytest.raises(TaskRenderError, match="only one permissions block"):
        run("{% permissions %}read_orders{% endpermissions %}{% permissions %}read_products{% endpermissions %}")


def test_extended_assign_nested_and_append() -> None:
    out = text(
        '{% assign x = hash %}{% assign x["a"]["b"] = 1 %}{% assign x["list"] = array %}'
        '{% assign x["list"][x["list"].size] = "p" %}{% assign l = array %}'
        "{% for i in (1..3) %}{% assign l[l.size] = i %}{% endfor %}{% assign l[5] = 9 %}"
        '{% assign k = "key" %}{% assign x[k] = l %}{{ x | json }}'
    )
    assert out == '{"a":{"b":1},"list":["p"],"key":[1,2,3,null,null,9]}'


def test_indexed_assign_changes_the_container_a_plain_assign_shares() -> None:
    # Ruby's `[]=` on the object both names refer to, as Mechanic's library relies on.
    out = text(
        '{% assign a = hash %}{% assign a["k"] = 1 %}{% assign b = a %}{% assign b["k"] = 2 %}{{ a.k }}{{ b.k }}'
    )
    assert out == "22"


def test_value_looked_up_from_a_hash_is_extended_in_place() -> None:
    # The library's product CSV exports: index objects by id, then add children to the indexed copy.
    out = text(
        '{% assign by_id = hash %}{% assign p = j | parse_json %}{% assign p["variants"] = array %}'
        "{% assign by_id[p.id] = p %}{% for v in (1..2) %}{% assign q = by_id[1] %}"
        '{% assign q["variants"][q.variants.size] = v %}{% endfor %}{{ by_id | json }}{{ p | json }}',
        j='{"id":1}',
    )
    assert out == '{"1":{"id":1,"variants":[1,2]}}{"id":1,"variants":[]}'


def test_assigned_value_is_stored_by_value() -> None:
    # Re-filling one scratch array per loop turn must not change the rows already stored.
    out = text(
        "{% assign rows = array %}{% assign item = array %}{% for i in (1..3) %}"
        '{% assign item[0] = i %}{% assign item[1] = "x" %}{% assign rows[rows.size] = item %}{% endfor %}'
        '{% assign foo = "bar" %}{% assign h = hash %}{% assign h["foo"] = foo %}{% assign foo = "qux" %}'
        "{{ rows | json }}{{ h.foo }}"
    )
    assert out == '[[1,"x"],[2,"x"],[3,"x"]]bar'


def test_rows_appended_to_an_array_are_changed_through_the_loop_variable() -> None:
    out = text(
        '{% assign rows = array %}{% for i in (1..2) %}{% assign r = hash %}{% assign r["n"] = i %}'
        '{% assign rows[rows.size] = r %}{% endfor %}{% for r in rows %}{% assign r["seen"] = true %}{% endfor %}'
        "{{ rows | json }}"
    )
    assert out == '[{"n":1,"seen":true},{"n":2,"seen":true}]'


def test_assign_into_event_data_does_not_mutate_input() -> None:
    data = {"tags": ["a"]}
    run('{% assign order["tags"][1] = "b" %}{% log order %}', topic="shopify/orders/create", data=data)
    assert data == {"tags": ["a"]}


def test_keyword_literals_are_fresh() -> None:
    out = text(
        "{% assign a = array | push: 1 %}{% assign b = array %}{{ a | json }}{{ b | json }}"
        '{{ hash | json }}{{ "x,y" | split: "," | join: newline }}'
    )
    assert out == "[1][]{}x\ny"


def test_partial_is_not_a_variable() -> None:
    # python-liquid's own render namespace has `partial`; Ruby Liquid's has no such name.
    assert text("[{{ partial }}]{% if partial == nil %}nil{% endif %}") == "[]nil"


def test_filters_in_tag_arguments_are_checked_at_parse_time() -> None:
    with pytest.raises(TaskRenderError, match="Liquid syntax error: unknown filter 'no_such_filter'"):
        run('{% log message: "x" | no_such_filter %}')


def test_captured_newline_overrides_literal() -> None:
    assert text("{% capture newline %}|{% endcapture %}{{ newline }}") == "|"


def test_limit_and_offset_as_variable_names() -> None:
    out = text(
        "{% assign limit = 2 %}{% assign offset = 1 %}"
        "{% for i in (1..5) limit: limit offset: offset %}{{ i }}{% endfor %}{{ limit }}"
    )
    assert out == "232"


def test_break_outside_loop_stops_render_keeping_output() -> None:
    r = run('{% log "before" %}{% if true %}{% break %}{% endif %}{% log "after" %}')
    assert r.logs == ["before"]


def test_break_inside_loop_still_breaks_loop() -> None:
    assert text("{% for i in (1..5) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}!") == "12!"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("nil == blank", True),
        ("undefined_var == blank", True),
        ("false == blank", True),
        ('"" == blank', True),
        ('"  " == blank', True),
        ("empty_list == blank", True),
        ("0 == blank", False),
        ('"x" == blank', False),
        ("nil != blank", False),
        ("blank == nil", True),
        ('"" == empty', True),
        ("nil == empty", False),
        ("nil == nil", True),
        ("undefined_var == nil", True),
        ("1 == 1", True),
    ],
)
def test_blank_and_empty_semantics(expr: str, expected: bool) -> None:
    out = text(f"{{% if {expr} %}}yes{{% else %}}no{{% endif %}}", empty_list=[])
    assert out == ("yes" if expected else "no")


def test_action_in_if_block_is_not_suppressed() -> None:
    assert len(run('{% if true %}{% action "echo" 1 %}{% endif %}').actions) == 1


def test_action_captured_then_printed() -> None:
    r = run('{% capture a %}{% action "echo" 1 %}{% endcapture %}{{ a }}')
    assert r.actions == [ActionObject("echo", 1)]
