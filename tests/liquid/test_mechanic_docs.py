"""Mechanic's documented filter examples (learn.mechanic.dev, platform/liquid/filters),
each as a test: the template and the output the docs show."""

from __future__ import annotations

import pytest

from ratchet.liquid import RenderLimitError
from ratchet.liquid.render import render_template
from tests.support.liquid import run, text

LOVELY = "It's a lovely day!"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ "1 (312) 456-7890" | e164 }}', "13124567890"),
        ('{{ "+43 670 1234567890" | e164 }}', "436701234567890"),
        ('{{ "000" | e164 | json }}', "null"),
        ('{{ s | match: "(?<=a ).*(?= day)" }}', "lovely"),
        ('{% assign m = s | match: "a (bucolic|lovely) day" %}{{ m.captures | json }}', '["lovely"]'),
        (
            '{% assign m = s | match: "a (?<adjective>bucolic|lovely) day" %}{{ m.named_captures | json }}',
            '{"adjective":"lovely"}',
        ),
        ('{% assign m = s | match: "a (?i:LOVELY) day" %}{{ m }}', "a lovely day"),
        ('{{ s | scan: "[\\w\']+" | json }}', '["It\'s","a","lovely","day"]'),
        ('{{ s | scan: "(bucolic|lovely|day)" | map: "captures" | json }}', '[["lovely"],["day"]]'),
        ('{{ s | scan: "(?<p>[[:punct:]])" | map: "named_captures" | json }}', '[{"p":"\'"},{"p":"!"}]'),
        ('{{ "testing" | gzip | gunzip }}', "testing"),
        (
            '{{ "H4sIANAafl8AA8tIzcnJVyjPL8pJAQCFEUoNCwAAAA==" | decode_base64: force_utf8: false | gunzip }}',
            "hello world",
        ),
        ('{{ "1,2,3" | split: "," | in_groups: 2 | json }}', '[["1","2"],["3",null]]'),
        ('{{ "1,2,3" | split: "," | in_groups: 2, fill_with: false | json }}', '[["1","2"],["3"]]'),
        ('{{ "1,2,3,4,5" | split: "," | in_groups_of: 2 | json }}', '[["1","2"],["3","4"],["5",null]]'),
        ('{{ "1,2,3,4,5" | split: "," | in_groups_of: 2, fill_with: false | json }}', '[["1","2"],["3","4"],["5"]]'),
        (
            '{% assign v = \'[{"id":12345,"sku":"ONE"},{"id":67890,"sku":"TWO"}]\' | parse_json %}{{ v | index_by: "sku" | json }}',
            '{"ONE":{"id":12345,"sku":"ONE"},"TWO":{"id":67890,"sku":"TWO"}}',
        ),
        (
            '{% assign c = "one,two,three" | split: "," | push: "four", "five" %}{{ c | join: newline }}',
            "one\ntwo\nthree\nfour\nfive",
        ),
        (
            '{% assign c = "two,three" | split: "," | unshift: "zero", "one" %}{{ c | join: newline }}',
            "zero\none\ntwo\nthree",
        ),
        ('{% assign items = array | push: "bar", "baz", "qux" %}{{ items | except: "bar", "baz" | json }}', '["qux"]'),
        ('{{ "1,2,3,4,5" | split: "," | slice: 3 }}', "4"),
        ('{{ "1,2,3,4,5" | split: "," | slice: 3, 2 | join: "," }}', "4,5"),
        ('{{ "1,2,3,4,5" | split: "," | slice: -3, 2 | join: "," }}', "3,4"),
        (
            '{% assign set = "order #10.b,Order #10.a,Order #2.c,order #2.d" | split: "," %}'
            '{{ set | sort | join: ", " }}|{{ set | sort_natural | join: ", " }}|{{ set | sort_naturally | join: ", " }}',
            "Order #10.a, Order #2.c, order #10.b, order #2.d|Order #10.a, order #10.b, Order #2.c, order #2.d|"
            "Order #2.c, Order #10.a, order #2.d, order #10.b",
        ),
        ("{% assign primes = array | push: 2, 3, 5, 7, 11 %}{{ primes | sum }}", "28"),
        (
            '{% assign foo = hash %}{% assign foo["bar"] = "baz" %}{% assign foo["qux"] = nil %}{{ foo | json }}{{ foo | compact | json }}',
            '{"bar":"baz","qux":null}{"bar":"baz"}',
        ),
        (
            '{% assign foo = hash %}{% assign foo["bar"] = hash %}{% assign foo["bar"]["baz"] = "baz" %}'
            '{% assign foo["bar"]["quz"] = nil %}{{ foo | compact | json }}',
            '{"bar":{"baz":"baz","quz":null}}',
        ),
        (
            '{% assign foo = hash %}{% assign foo["bar"] = "bar" %}{% assign foo["baz"] = "baz" %}{% assign foo["qux"] = "qux" %}'
            '{{ foo | except: "bar", "baz" | json }}{{ foo | slice: "bar", "baz" | json }}',
            '{"qux":"qux"}{"bar":"bar","baz":"baz"}',
        ),
        ('{{ "2023-01-31" | date: "%F", advance: "1 year 1 month" }}', "2024-02-29"),
        ('{{ "2000-01-01" | date: "%Y-%m-%d %H:%M %z" }}', "2000-01-01 00:00 -0600"),
        ('{{ "2000-01-01" | date }}', "2000-01-01T00:00:00-06:00"),
        ('{{ "2000-01-01" | date: tz: "UTC" }}', "2000-01-01T06:00:00Z"),
        ('{{ "01-01-20" | parse_date: "%m-%d-%y" }}', "2020-01-01T00:00:00-06:00"),
        ('{{ "01-01-20" | parse_date: "%m-%d-%y" | date: "%Y-%m-%d" }}', "2020-01-01"),
        ('{{ "ab-cd-ef" | parse_date: "%m-%d-%y" | json }}', "null"),
        ('{{ "100000.0" | currency }}', "$100,000.00"),
        ('{{ 100000.0 | currency: "EUR" }}', "€100,000.00"),
        ('{{ 100000 | currency: "EUR", locale: "fr" }}', "€100 000,00"),
        ('{{ 100000 | currency: locale: "fr" }}', "$100 000,00"),
        ("{% capture x %}foo\r\nbar\nbaz{% endcapture %}{{ x | split: newline | json }}", '["foo","bar","baz"]'),
        ('{% capture x %}foo\r\nbar\nbaz{% endcapture %}{{ x | replace: newline, ", " }}', "foo, bar, baz"),
        ('{{ "a\r\nb" | newline_to_br }}', "a<br />\nb"),
    ],
)
def test_documented_example(source: str, expected: str) -> None:
    assert (
        render_template(source, {"s": LOVELY, "shop": {"currency": "USD"}}, state={"timezone": "America/Chicago"})
        == expected
    )


def test_date_snaps_to_calendar_boundaries_before_advancing() -> None:
    moment = "2024-05-15T10:00:00"
    assert text(f'{{{{ "{moment}" | date: "%F %T", beginning_of_week: "sunday" }}}}') == "2024-05-12 00:00:00"
    assert text(f'{{{{ "{moment}" | date: "%F %T", end_of_week: "monday" }}}}') == "2024-05-19 23:59:59"
    assert text(f'{{{{ "{moment}" | date: "%F %T", end_of_quarter: true }}}}') == "2024-06-30 23:59:59"
    assert text(f'{{{{ "{moment}" | date: "%F", beginning_of_month: true, advance: "-1 day" }}}}') == "2024-04-30"
    # Each advance term carries its own sign.
    assert text(f'{{{{ "{moment}" | date: "%T", advance: "-3 hours, 2 minutes, -1 second" }}}}') == "07:01:59"


def test_graphql_arguments_quotes_every_string() -> None:
    args = {"a_string": "yep", "status": "ACTIVE", "nested": {"id": "gid://x/1"}, "an_array": [1, 2]}
    assert (
        text("{{ a | graphql_arguments }}", a=args)
        == 'a_string: "yep", status: "ACTIVE", nested: {id: "gid://x/1"}, an_array: [1, 2]'
    )


def test_doubling_a_string_stops_at_the_render_memory_limit() -> None:
    script = '{% assign s = "x" %}{% for i in (1..60) %}{% assign s = s | append: s %}{% endfor %}'
    with pytest.raises(RenderLimitError, match=r"render memory limit reached: append .*limit 67,108,864"):
        run(script)


def test_bulk_operation_renders_get_a_larger_memory_limit() -> None:
    script = '{% assign s = "123456789012" %}{% for i in (1..23) %}{% assign s = s | append: s %}{% endfor %}{% log s.size %}'
    with pytest.raises(RenderLimitError):
        run(script)
    assert run(script, topic="mechanic/shopify/bulk_operation").logs == [12 * 2**23]
