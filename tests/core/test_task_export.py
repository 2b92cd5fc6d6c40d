"""Mechanic task exports: parsing, option coercion and errors that name the field, subscriptions."""

from __future__ import annotations

import json

import pytest

from ratchet.core.task_export import (
    TaskImportError,
    coerce_option,
    configure_options,
    option_spec,
    parse_export,
    render_subscriptions,
)


def export(**overrides: object) -> dict:
    data = {
        "name": "Tag orders",
        "docs": "Tags orders.",
        "script": '{% action "echo" options.tag__required %}',
        "options": {"tag__required": None, "delay__number": "2", "flag__boolean": None},
        "subscriptions": ["shopify/orders/create+2.hours"],
        "subscriptions_template": "shopify/orders/create{% if options.delay__number != blank %}+{{ options.delay__number }}.hours{% endif %}",
        "halt_action_run_sequence_on_error": False,
        "perform_action_runs_in_sequence": False,
        "online_store_javascript": None,
        "order_status_javascript": None,
        "preview_event_definitions": [],
        "tags": ["Orders"],
    }
    data.update(overrides)
    return data


def test_parse_export_coerces_and_renders_subscriptions() -> None:
    defn = parse_export(json.dumps(export()))
    assert defn.options == {"tag__required": None, "delay__number": 2, "flag__boolean": None}
    assert defn.subscriptions == ["shopify/orders/create+2.hours"]
    assert defn.exported_subscriptions == ["shopify/orders/create+2.hours"]
    assert defn.missing_required_options == ["tag__required"]
    assert defn.tags == ["Orders"]


def test_nil_option_means_no_offset() -> None:
    defn = parse_export(export(options={"delay__number": ""}))
    assert defn.subscriptions == ["shopify/orders/create"]


def test_configure_options_validates_and_rerenders() -> None:
    defn = configure_options(
        parse_export(export()), {"tag__required": "vip", "delay__number": "5", "flag__boolean": "true"}
    )
    assert defn.options == {"tag__required": "vip", "delay__number": 5, "flag__boolean": True}
    assert defn.subscriptions == ["shopify/orders/create+5.hours"]
    assert defn.missing_required_options == []
    with pytest.raises(TaskImportError) as exc:
        configure_options(defn, {"delay__number": "abc"})
    assert exc.value.field == "options.delay__number"
    assert str(exc.value) == 'options.delay__number: expected a number, got "abc"'
    with pytest.raises(TaskImportError, match="unknown option"):
        configure_options(defn, {"nope": 1})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("a__array", '["x", "y"]', ["x", "y"]),
        ("a__array", "x, y", ["x", "y"]),
        ("a__array_number", '[1, "2"]', [1, 2]),
        ("a__keyval", '{"k": "v"}', {"k": "v"}),
        ("a__keyval_number", {"k": "3.5"}, {"k": 3.5}),
        ("a__boolean", "false", False),
        ("a__email", "x@example.com", "x@example.com"),
        ("a__multiselect_o1_one_o2_two", '["one"]', ["one"]),
        ("a__date", "2024-01-02", "2024-01-02"),
        ("a__range_min1_max5", "3", 3),
        ("a__multiline", "Hello {{ shop.name }}", "Hello {{ shop.name }}"),
        ("a__number", "", None),
    ],
)
def test_coercion(key: str, value: object, expected: object) -> None:
    assert coerce_option(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("a__email", "nope"),
        ("a__keyval", "[1]"),
        ("a__boolean", "maybe"),
        ("a__date", "01/02/2024"),
        ("a__range_min1_max5", "9"),
        ("a__multiselect_o1_one_o2_two", '["three"]'),
        ("a__array", "{bad"),
    ],
)
def test_coercion_errors(key: str, value: object) -> None:
    with pytest.raises(TaskImportError) as exc:
        coerce_option(key, value)
    assert exc.value.field.startswith(f"options.{key}")


def test_option_flag_parsing() -> None:
    spec = option_spec("day__select_o1_first_day_o2_last__required")
    assert spec.kind == "choice" and spec.choices == ("first_day", "last") and spec.required
    assert option_spec("ids__picker_product_array").picker_array
    assert option_spec("x__number__required").required


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": 3}, "name"),
        ({"options": {"Bad Key": 1}}, "options.Bad Key"),
        ({"script": "{% if %}"}, "script"),
        ({"subscriptions": ["not a topic"]}, "subscriptions[0]"),
        ({"subscriptions_template": "shopify/orders/create+x.hours"}, "subscriptions_template"),
        ({"shopify_api_version": "2024"}, "shopify_api_version"),
        (
            {"preview_event_definitions": [{"event_attributes": {"topic": "nope"}}]},
            "preview_event_definitions[0].event_attributes.topic",
        ),
        ({"perform_action_runs_in_sequence": "yes"}, "perform_action_runs_in_sequence"),
    ],
)
def test_invalid_exports_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(TaskImportError) as exc:
        parse_export(export(**overrides))
    assert exc.value.field == field
    assert str(exc.value).startswith(f"{field}: ")


def test_not_json() -> None:
    with pytest.raises(TaskImportError, match="not valid JSON"):
        parse_export(b"{nope")


def test_render_subscriptions_dedupes_and_keeps_order() -> None:
    template = "mechanic/user/trigger\n\n  shopify/customers/create  \nshopify/customers/create\nmechanic/scheduler/daily+12.hours"
    assert render_subscriptions(template, {}) == [
        "mechanic/user/trigger",
        "shopify/customers/create",
        "mechanic/scheduler/daily+12.hours",
    ]


def test_subscriptions_template_with_keys_and_newline() -> None:
    template = "{{ options.topics__keyval | keys | join: newline }}"
    assert render_subscriptions(template, {"topics__keyval": {"a/b/c": 1, "d/e/f": 2}}) == ["a/b/c", "d/e/f"]
