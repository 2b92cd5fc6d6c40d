"""Mechanic's filters as tasks use them: dates in the store zone, JSON, the `shopify` filter."""

from __future__ import annotations

import datetime as dt

import pytest

from ratchet.liquid import TaskRenderError
from tests.support.liquid import run, text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ "a" | json }}', '"a"'),
        ("{{ x | json }}", '{"k":[1,2.5,null,true],"u":"é"}'),
        ("{{ missing | json }}", "null"),
        ("{{ '{\"a\":1}' | parse_json | json }}", '{"a":1}'),
        ('{{ "nope" | parse_json: silent: true | json }}', "null"),
        ('{{ jl | parse_jsonl | map: "a" | join: "," }}', "1,2"),
        ("{{ 3 | pluralize: 'item', 'items' }} {{ 1 | pluralize: 'item', 'items' }}", "items item"),
        ('{{ "Hello, World & Co!" | handleize }}', "hello-world-co"),
        ('{{ "abc" | md5 }}', "900150983cd24fb0d6963f7d28e17f72"),
        ('{{ "abc" | sha256 }}', "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ('{{ "abc" | hmac_sha256: "key" }}', "9c196e32dc0175f86f4b1cb89289d6619de6bee699e4c378e68309ed97a1a6ab"),
        ('{{ "hi there" | base64 }}|{{ "aGkgdGhlcmU=" | decode_base64 }}', "aGkgdGhlcmU=|hi there"),
        ("{{ (1..5) | in_groups_of: 2, fill_with: false | json }}", "[[1,2],[3,4],[5]]"),
        ("{{ (1..5) | in_groups_of: 2 | json }}", "[[1,2],[3,4],[5,null]]"),
        ("{{ x | keys | json }}{{ x | values | size }}", '["k","u"]2'),
        ('{{ x | except: "k" | json }}', '{"u":"é"}'),
        ("{{ array | push: 1, 2 | unshift: 0 | json }}", "[0,1,2]"),
        ("{{ rows | csv }}", 'a,b\n"x,y",2\n'),
        ('{{ "h1,h2\nv1,v2" | parse_csv: headers: true | json }}', '[{"h1":"v1","h2":"v2"}]'),
        ('{{ "a10,a2,a1" | split: "," | sort_naturally | join: " " }}', "a1 a2 a10"),
        ("{{ args | graphql_arguments }}", 'first: 10, query: "tag:x", input: {ids: [1, 2]}'),
        ('{{ "  a\n  b" | unindent }}', "a\nb"),
        ('{% assign m = "ns.key" | match: "(?<ns>\\w+)\\.(?<key>\\w+)" %}{{ m.ns }}/{{ m[2] }}', "ns/key"),
        ("{{ nothing | split: ',' | size }}{{ nothing | strip }}{{ nothing | append: 'x' }}", "0x"),
        ("{{ 1234.5 | money }}|{{ '10' | money_with_currency }}|{{ 5 | currency }}", "$1,234.50|$10.00 USD|$5.00"),
        ("{{ nothing | concat: nothing2 | size }}", "0"),
        ('{{ "tag1, tag2" | add_tag: "tag3" | remove_tag: "tag1" }}', "tag2, tag3"),
    ],
)
def test_filters(source: str, expected: str) -> None:
    variables = {
        "x": {"k": [1, 2.5, None, True], "u": "é"},
        "rows": [["a", "b"], ["x,y", 2]],
        "jl": '{"a":1}\n\n{"a":2}\n',
        "args": {"first": 10, "query": "tag:x", "input": {"ids": [1, 2]}},
    }
    assert text(source, **variables) == expected


def test_parse_json_raises_without_silent() -> None:
    with pytest.raises(TaskRenderError, match="parse_json"):
        text('{{ "{bad" | parse_json }}')


def test_date_filter_zones_and_relative_inputs() -> None:
    assert (
        text('{{ "2024-03-01T12:00:00Z" | date: "%Y-%m-%d %H:%M %z", tz: "America/New_York" }}')
        == "2024-03-01 07:00 -0500"
    )
    assert text('{{ "2024-03-01T12:00:00Z" | date: "%F", advance: "-1 day" }}') == "2024-02-29"
    assert text('{{ "2024-01-31" | date: "%F", advance: "1 month" }}') == "2024-02-29"
    assert text('{{ 0 | date: "%s" }}') == "0"
    assert text('{{ "2024-03-01T12:00:00.123+01:00" | date: "%H:%M:%S.%L%:z" }}') == "11:00:00.123+00:00"
    assert text('{{ "2024-03-01T12:00:00Z" | date }}') == "2024-03-01T12:00:00Z"
    now = int(text('{{ "now" | date: "%s" }}'))
    assert abs(now - dt.datetime.now(dt.UTC).timestamp()) < 5
    yesterday = int(text('{{ "now - 1 day" | date: "%s" }}'))
    assert abs(now - yesterday - 86400) < 5
    assert text('{{ "garbage" | date: "%F" }}') == "garbage"
    assert text('{{ nil | date: "%F" }}') == ""


def test_date_defaults_to_store_zone() -> None:
    r = run('{% log "2024-03-01T12:00:00Z" | date: "%H %Z" %}', timezone="Asia/Tokyo")
    assert r.logs == ["21 JST"]


def test_parse_date() -> None:
    assert text('{{ "2024-02-03" | parse_date: "%Y-%m-%d" | date: "%d/%m/%Y" }}') == "03/02/2024"
    assert text('{% assign d = "junk" | parse_date: "%Y-%m-%d" %}{% if d == blank %}nil{% endif %}') == "nil"


def test_shopify_filter_calls_client_and_is_empty_in_preview() -> None:
    calls: list[tuple[str, dict | None]] = []

    def client(query: str, variables: dict | None) -> dict:
        calls.append((query, variables))
        return {"data": {"shop": {"name": "Live"}}}

    script = (
        '{% assign v = hash %}{% assign v["id"] = 1 %}'
        '{% assign r = "query { shop { name } }" | shopify: variables: v %}{% log r.data.shop.name %}'
    )
    assert run(script, shopify=client).logs == ["Live"]
    assert calls == [("query { shop { name } }", {"id": 1})]
    assert run(script, shopify=client, preview=True).logs == [None]
    assert len(calls) == 1
