"""Mechanic's documented filter examples (learn.mechanic.dev, platform/liquid/filters), each as a test.

Each holds the template and the output the docs show.
"""

from __future__ import annotations

import base64

import pytest

from ratchet.liquid import RenderLimitError, TaskRenderError
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


IPHONE_GSA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "GSA/79.0.259819395 Mobile/16G77 Safari/604.1"
)


def test_browser_documented_example() -> None:
    source = (
        "{% assign browser = ua | browser %}{{ browser }}|{{ browser.name }}|{{ browser.version }}|"
        "{{ browser.version.major }}|{{ browser.version.minor }}|{{ browser.os }}|{{ browser.os.name }}|"
        "{{ browser.os.version }}|{{ browser.os.version.major }}|{{ browser.os.version.minor }}|"
        "{{ browser.device }}|{{ browser.device.name }}|{{ browser.device.brand }}|{{ browser.device.model }}"
    )
    assert text(source, ua=IPHONE_GSA) == (
        "Google 79.0.259819395|Google|79.0.259819395|79|0|iOS 12.4|iOS|12.4|12|4|iPhone|iPhone|Apple|iPhone"
    )
    assert text('{% assign b = "curl/8.0" | browser %}{{ b.name }} {{ b.os }} {{ b.device }}') == "curl Other Other"


CSV_DOC_SCRIPT = """
{% if event.preview %}
  {% capture shop_json %}
    {"products": [{"id": 1234567890, "title": "Short sleeve t-shirt"}], "name": "My Test Shop", "customer_email": "shop@example.com"}
  {% endcapture %}
  {% assign shop = shop_json | parse_json %}
{% endif %}
{% assign rows = array %}
{% assign header = array %}
{% assign header[0] = "Product ID" %}
{% assign header[1] = "Product Title" %}
{% assign rows[0] = header %}
{% for product in shop.products %}
  {% assign row = array %}
  {% assign row[0] = product.id %}
  {% assign row[1] = product.title %}
  {% assign rows[rows.size] = row %}
{% endfor %}
{% assign csv = rows | csv: ";", include_bom: true %}
{% action "echo" csv %}
{%- capture csv_string_default_delimiter -%}
Order Name,Order ID,Order Date
#1234,1234567890,2021/03/23
#1235,1234567891,2021/03/24
{%- endcapture %}
{%- capture csv_string_custom_delimiter -%}
Order Name;Order ID;Order Date
#1234;1234567890;2021/03/23
#1235;1234567891;2021/03/24
{%- endcapture %}
{% assign orders_with_default_delimiter = csv_string_default_delimiter | parse_csv: headers: true %}
{% action "echo" orders_with_default_delimiter %}
{% assign orders_with_custom_delimiter = csv_string_custom_delimiter | parse_csv: headers: true, delimiter: ";" %}
{% action "echo" orders_with_custom_delimiter %}
{% assign csv_rows_custom_delimiter = csv_string_custom_delimiter | parse_csv: delimiter: ";" %}
{% assign orders = array %}
{% for row in csv_rows_custom_delimiter %}
  {% if forloop.first %}{% continue %}{% endif %}
  {% assign order = hash %}
  {% assign order["name"] = row[0] %}
  {% assign order["id"] = row[1] | times: 1 %}
  {% assign order["date"] = row[2] %}
  {% assign orders[orders.size] = order %}
{% endfor %}
{% action "echo" orders %}
"""


def test_csv_and_parse_csv_documented_example() -> None:
    csv, by_default, by_custom, typed = [a.options for a in run(CSV_DOC_SCRIPT, preview=True).actions]
    assert csv == "\ufeffProduct ID;Product Title\n1234567890;Short sleeve t-shirt\n"
    expected = [
        {"Order Name": "#1234", "Order ID": "1234567890", "Order Date": "2021/03/23"},
        {"Order Name": "#1235", "Order ID": "1234567891", "Order Date": "2021/03/24"},
    ]
    assert by_default == by_custom == expected
    assert typed == [
        {"name": "#1234", "id": 1234567890, "date": "2021/03/23"},
        {"name": "#1235", "id": 1234567891, "date": "2021/03/24"},
    ]
    assert text('{{ d | csv: ";" }}', d=[["a;b", "c"]]) == '"a;b";c\n'


def test_jsonl_documented_examples() -> None:
    assert text("{{ c | jsonl }}", c=[{"email": "a@x"}, {"email": "b@x"}]) == '{"email":"a@x"}\n{"email":"b@x"}'
    source = """{% capture jsonl_string %}
  {"id":"gid://shopify/Customer/12345","email":"foo@bar.baz"}
  {"id":"gid://shopify/Customer/67890","email":"bar@baz.qux"}
{% endcapture %}{% assign json_objects = jsonl_string | parse_jsonl %}{{ json_objects | map: "email" | join: ", " }}"""
    assert text(source) == "foo@bar.baz, bar@baz.qux"


def test_parse_xml_documented_example() -> None:
    source = """{% capture xml_string %}
<foo>
  <bar>baz</bar>
  <bar>
    <qux>quux</qux>
  </bar>
</foo>
{% endcapture %}{% assign xml = xml_string | parse_xml %}{{ xml | json }}"""
    assert text(source) == '{"foo":{"bar":["baz",{"qux":"quux"}]}}'
    # Hash.from_xml: typed values, empty elements nil, attributes kept beside children.
    xml = '<r id="7"><n type="integer"> 5 </n><e/><ok type="boolean">true</ok><l type="array"><i>1</i><i>2</i></l></r>'
    assert text("{{ x | parse_xml | json }}", x=xml) == '{"r":{"id":"7","n":5,"e":null,"ok":true,"l":["1","2"]}}'


def test_rsa_sha256_signs_a_json_web_signature() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signature_hex = text("{{ input | rsa_sha256: pem }}", input="header.claims", pem=pem)
    key.public_key().verify(bytes.fromhex(signature_hex), b"header.claims", padding.PKCS1v15(), hashes.SHA256())
    signature_b64 = text("{{ input | rsa_sha512: pem, binary: true | base64_encode }}", input="x", pem=pem)
    key.public_key().verify(base64.b64decode(signature_b64), b"x", padding.PKCS1v15(), hashes.SHA512())
    with pytest.raises(TaskRenderError, match="rsa_sha256: the key is not an unencrypted RSA private key"):
        text('{{ "x" | rsa_sha256: "not a key" }}')


def test_img_url_sizes_shopify_cdn_urls() -> None:
    url = "https://cdn.shopify.com/s/files/1/0/products/shirt.jpg?v=12"
    assert text("{{ u | img_url }}", u=url) == "https://cdn.shopify.com/s/files/1/0/products/shirt_100x100.jpg?v=12"
    assert (
        text('{{ i | img_url: "300x", crop: "center", scale: 2 }}', i={"src": url})
        == "https://cdn.shopify.com/s/files/1/0/products/shirt_300x_crop_center@2x.jpg?v=12"
    )
    assert text('{{ u | img_url: "master" }}', u=url) == url
