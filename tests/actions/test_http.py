"""http action against a real local HTTP server."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ratchet.actions.base import (
    ActionContext,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    get_handler,
)
from ratchet.actions.http import HttpAction
from ratchet.core.http_limits import HttpConfig
from ratchet.engine.devserver import free_port
from ratchet.files import FileOptionsError

handler = get_handler("http")
MakeCtx = Callable[..., ActionContext]


async def run(options: Any, ctx: ActionContext, action: Any = handler) -> Any:
    return await action.perform(action.validate(options), ctx)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"url": "http://x.example"}, "method"),
        ({"method": "fetch", "url": "http://x.example"}, "method"),
        ({"method": "get"}, "url"),
        ({"method": "get", "url": "ftp://x.example/file"}, "url"),
        ({"method": "get", "url": "/relative"}, "url"),
        ({"method": "post", "url": "http://x.example", "body": 5}, "body"),
        (
            {
                "method": "post",
                "url": "http://x.example",
                "body": [1],
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            "body",
        ),
        ({"method": "get", "url": "http://x.example", "headers": ["a"]}, "headers"),
        ({"method": "get", "url": "http://x.example", "headers": {"Bad Name": "v"}}, "headers"),
        ({"method": "get", "url": "http://x.example", "headers": {"X-A": "1\r\nX-B: 2"}}, "headers.X-A"),
        ({"method": "get", "url": "http://x.example", "headers": {"X-A": {"no": 1}}}, "headers.X-A"),
        ({"method": "get", "url": "http://x.example", "verify": "maybe"}, "verify"),
        ({"method": "get", "url": "http://x.example", "follow_redirects": 1}, "follow_redirects"),
        ({"method": "get", "url": "http://x.example", "error_on_5xx": "yes"}, "error_on_5xx"),
        ({"method": "get", "url": "http://x.example", "proxy": "socks5://127.0.0.1:1080"}, "proxy"),
        ({"method": "post", "url": "http://x.example", "files": {"a.txt": 5}}, "files.a.txt"),
        ({"method": "post", "url": "http://x.example", "files": {"a.txt": "hi"}, "body": "text"}, "body"),
        (
            {"method": "post", "url": "http://x.example", "files": {"a": "x"}, "headers": {"Content-Type": "text/csv"}},
            "headers.Content-Type",
        ),
        ("GET http://x.example", "options"),
    ],
)
def test_invalid_options_name_the_field(options: Any, field: str) -> None:
    with pytest.raises((ActionOptionsError, FileOptionsError)) as raised:
        handler.validate(options)
    error = raised.value
    assert isinstance(error, (ActionOptionsError, FileOptionsError))
    assert error.field_name == field
    assert not error.retryable


def test_string_booleans_and_extra_keys_are_accepted() -> None:
    # As written by library tasks (`"verify": "true"`, bookkeeping under `meta`).
    options = handler.validate(
        {"method": "GET", "url": "https://x.example/", "verify": "false", "error_on_5xx": "true", "meta": {"n": 1}}
    )
    assert (options["method"], options["verify"], options["error_on_5xx"], options["follow_redirects"]) == (
        "GET",
        False,
        True,
        True,
    )


async def test_json_body_and_result_shape(http_server: str, make_ctx: MakeCtx) -> None:
    result = await run(
        {
            "method": "post",
            "url": f"{http_server}/echo?x=1",
            "headers": {"X-Token": "abc", "X-Count": 3},
            "body": {"name": "Zoë", "n": [1, 2]},
        },
        make_ctx(),
    )
    assert result["status"] == 200
    assert result["headers"]["content-type"] == ["application/json; charset=utf-8"]
    echoed = result["body"]  # parsed, because the response is application/json
    assert echoed["method"] == "POST" and echoed["query"] == "x=1"
    assert echoed["headers"]["content-type"] == "application/json"
    assert (echoed["headers"]["x-token"], echoed["headers"]["x-count"]) == ("abc", "3")
    assert echoed["body"] == '{"name":"Zoë","n":[1,2]}'
    assert json.loads(base64.b64decode(result["body_base64"])) == echoed


async def test_form_encoded_body(http_server: str, make_ctx: MakeCtx) -> None:
    result = await run(
        {
            "method": "put",
            "url": f"{http_server}/echo",
            "headers": {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
            "body": {"a": "x y&z", "tags": ["p", "q"], "customer": {"id": 7, "vip": True}, "none": None},
        },
        make_ctx(),
    )
    echoed = result["body"]
    assert echoed["headers"]["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert echoed["body"] == "a=x%20y%26z&tags[]=p&tags[]=q&customer[id]=7&customer[vip]=true&none="


async def test_files_are_sent_as_multipart_form_data(http_server: str, make_ctx: MakeCtx) -> None:
    result = await run(
        {
            "method": "post",
            "url": f"{http_server}/echo",
            # A multipart Content-Type the task sets is replaced: only httpx knows the boundary.
            "headers": {"Content-Type": "multipart/form-data"},
            "body": {"note": "monthly", "tags": ["a", "b"]},
            "files": {"report.csv": "sku,qty\nA,1", "logo.png": {"base64": "iVBORw=="}},
        },
        make_ctx(),
    )
    echoed = result["body"]
    content_type = echoed["headers"]["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + base64.b64decode(echoed["body_base64"]),
        policy=email.policy.default,
    )
    parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
    assert parts["note"].get_content() == "monthly"
    assert [
        p.get_content() for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "tags[]"
    ] == ["a", "b"]
    assert parts["report.csv"].get_filename() == "report.csv"
    assert parts["report.csv"].get_content_type() == "text/csv"
    assert parts["report.csv"].get_payload(decode=True) == b"sku,qty\nA,1"
    assert parts["logo.png"].get_payload(decode=True) == base64.b64decode("iVBORw==")


async def test_string_body_is_sent_verbatim(http_server: str, make_ctx: MakeCtx) -> None:
    result = await run(
        {"method": "patch", "url": f"{http_server}/echo", "headers": {"Content-Type": "text/csv"}, "body": "a,b\n1,2"},
        make_ctx(),
    )
    assert result["body"]["body"] == "a,b\n1,2"
    assert result["body"]["headers"]["content-type"] == "text/csv"


async def test_text_binary_and_repeated_headers(http_server: str, make_ctx: MakeCtx) -> None:
    text = await run({"method": "get", "url": f"{http_server}/text"}, make_ctx())
    assert text["body"] == "héllo"
    assert text["headers"]["set-cookie"] == ["a=1", "b=2"]
    binary = await run({"method": "get", "url": f"{http_server}/binary"}, make_ctx())
    assert base64.b64decode(binary["body_base64"]) == b"\x00\xff\x10"
    head = await run({"method": "head", "url": f"{http_server}/text"}, make_ctx())
    assert (head["status"], head["body"], head["body_base64"]) == (200, "", "")


async def test_redirects_follow_by_default(http_server: str, make_ctx: MakeCtx) -> None:
    followed = await run({"method": "get", "url": f"{http_server}/redirect"}, make_ctx())
    assert followed["status"] == 200 and followed["body"]["method"] == "GET"
    kept = await run({"method": "get", "url": f"{http_server}/redirect", "follow_redirects": False}, make_ctx())
    assert kept["status"] == 302 and kept["headers"]["location"] == ["/echo"]
    with pytest.raises(PermanentActionError, match="redirect"):
        await run({"method": "get", "url": f"{http_server}/loop"}, make_ctx())


async def test_5xx_is_an_error_only_when_asked(http_server: str, make_ctx: MakeCtx) -> None:
    plain = await run({"method": "get", "url": f"{http_server}/status/503"}, make_ctx())
    assert (plain["status"], plain["body"]) == (503, "status 503")
    # 4xx never fails the run, even with error_on_5xx.
    not_found = await run({"method": "get", "url": f"{http_server}/status/404", "error_on_5xx": True}, make_ctx())
    assert not_found["status"] == 404
    with pytest.raises(TransientActionError) as raised:
        await run({"method": "get", "url": f"{http_server}/status/502", "error_on_5xx": "true"}, make_ctx())
    assert raised.value.retryable
    assert raised.value.result["status"] == 502


async def test_connection_refused_is_transient(make_ctx: MakeCtx) -> None:
    with pytest.raises(TransientActionError, match="ConnectError"):
        await run({"method": "get", "url": f"http://127.0.0.1:{free_port()}/"}, make_ctx())


async def test_timeout_is_transient(http_server: str, make_ctx: MakeCtx) -> None:
    impatient = HttpAction(HttpConfig(io_timeout=0.3))
    with pytest.raises(TransientActionError, match="Timeout"):
        await run({"method": "get", "url": f"{http_server}/slow"}, make_ctx(), impatient)


async def test_oversized_response_is_permanent(http_server: str, make_ctx: MakeCtx) -> None:
    small = HttpAction(HttpConfig(max_response_bytes=10))
    with pytest.raises(PermanentActionError, match="exceeds 10 bytes"):
        await run({"method": "get", "url": f"{http_server}/echo"}, make_ctx(), small)


async def test_idempotency_key_names_the_delivery(http_server: str, make_ctx: MakeCtx) -> None:
    async def key_sent(ctx: ActionContext, headers: dict[str, str] | None = None) -> str:
        result = await run({"method": "post", "url": f"{http_server}/echo", "headers": headers or {}}, ctx)
        return str(result["body"]["headers"]["idempotency-key"])

    first = make_ctx()
    again = make_ctx(run_id=first.run_id)
    again.attempt = 3
    assert await key_sent(first) == await key_sent(again) == first.run_id
    retried = make_ctx(run_id=first.run_id)
    retried.manual_retries = 1
    assert await key_sent(retried) != first.run_id
    assert await key_sent(first, {"idempotency-key": "task-chosen"}) == "task-chosen"
