"""`{% action %}`: every style documented in spec 6.3.

{% action %}{"type": "http", "options": {...}}{% endaction %}       untyped block
{% action "http" %}{...options JSON...}{% endaction %}              typed block
{% action "shopify" %}mutation { ... }{% endaction %}               GraphQL body
{% action "cache", "set", key, value %}                             positional
{% action "echo", a: 1, b: 2 %}  /  {% action "echo" a: 1 %}        mapped
{% action "echo" value %}                                           single
... plus `__perform_event: false` and `__meta: x` in any style.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from liquid.ast import BlockNode, Node
from liquid.builtin.expressions import StringLiteral
from liquid.exceptions import LiquidSyntaxError
from liquid.parser import get_parser
from liquid.tag import Tag
from liquid.token import TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG, Token
from liquid.undefined import Undefined

from ..filters.json import to_json
from ._args import TagArguments, parse_tag_arguments
from ._emit import TagBodyError, closes_ahead, parse_body_json

if TYPE_CHECKING:
    from liquid import RenderContext
    from liquid.expression import Expression
    from liquid.stream import TokenStream

CONTROL_KEYS = ("__perform_event", "__meta")


class ActionNode(Node):
    __slots__ = ("args", "block")

    def __init__(self, token: Token, args: TagArguments, block: BlockNode | None) -> None:
        super().__init__(token)
        self.args = args
        self.block = block
        self.blank = False

    def __str__(self) -> str:
        return "{% action %}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        positional, keyword = self.args.evaluate(context)
        perform_event = keyword.pop("__perform_event", True) is not False
        has_meta = "__meta" in keyword
        meta = _plain(keyword.pop("__meta", None))

        if self.block is not None:
            body_buf = context.get_buffer(buffer)
            self.block.render(context, body_buf)
            action = self._from_body(positional, body_buf.getvalue())
        else:
            action = self._from_args(positional, keyword)

        if has_meta:
            action["meta"] = meta
        if not perform_event:
            action["perform_event"] = False
        return buffer.write(to_json({"action": action}))

    def _from_body(self, positional: list[object], body: str) -> dict[str, object]:
        if not positional:
            value = parse_body_json(body, "action", self.token)
            if not isinstance(value, dict):
                raise TagBodyError(
                    'untyped action block must contain a {"type": ..., "options": ...} object',
                    token=self.token,
                )
            return {"type": value.get("type"), "options": value.get("options"), "meta": value.get("meta")}
        action_type = _type_of(positional[0], self.token)
        stripped = body.strip()
        if action_type == "shopify":
            # JSON first (REST-style arrays, {"query", "variables"}), else GraphQL text.
            try:
                options: object = json.loads(stripped) if stripped else None
            except ValueError:
                options = stripped
        else:
            options = parse_body_json(body, f'"{action_type}" action', self.token)
        return {"type": action_type, "options": options, "meta": None}

    def _from_args(self, positional: list[object], keyword: dict[str, object]) -> dict[str, object]:
        if not positional:
            raise TagBodyError("action tag needs a type", token=self.token)
        action_type = _type_of(positional[0], self.token)
        rest = [_plain(v) for v in positional[1:]]
        meta: object = None
        if rest:
            if len(rest) == 1:
                options: object = rest[0]
            elif len(rest) == 2 and isinstance(rest[0], dict):
                options, meta = rest
            else:
                options = rest
            if keyword:
                raise TagBodyError("action tag mixes positional options with named options", token=self.token)
        elif keyword.keys() and keyword.keys() <= {"options", "meta"} and "options" in keyword:
            options, meta = _plain(keyword["options"]), _plain(keyword.get("meta"))
        elif keyword:
            options = {k: _plain(v) for k, v in keyword.items()}
        else:
            options = None
        return {"type": action_type, "options": options, "meta": meta}

    def expressions(self) -> Iterable[Expression]:
        return self.args.expressions()

    def children(self, static_context: RenderContext, *, include_partials: bool = True) -> Iterable[Node]:
        return [self.block] if self.block is not None else []


def _type_of(value: object, token: Token) -> str:
    if not isinstance(value, str) or not value:
        raise TagBodyError(f"action type must be a non-empty string, got {value!r}", token=token)
    return value


def _plain(value: object) -> object:
    return None if isinstance(value, Undefined) else value


class ActionTag(Tag):
    name = "action"
    end = "endaction"
    block = True
    node_class = ActionNode

    def parse(self, stream: TokenStream) -> ActionNode:
        token = stream.eat(TOKEN_TAG)
        if stream.current.kind == TOKEN_EXPRESSION:
            args = parse_tag_arguments(self.env, stream.into_inner(tag=token, eat=False))
        else:
            args = TagArguments([], [])
            stream.pos -= 1  # stay on the tag token like tags with expressions do

        options_given = len(args.positional) > 1 or any(name not in CONTROL_KEYS for name, _ in args.keyword)
        typed_by_literal = not args.positional or isinstance(args.positional[0], StringLiteral)
        if options_given or not typed_by_literal or not closes_ahead(stream, self.name, self.end):
            if not args.positional:
                raise LiquidSyntaxError("action tag needs a type or a block body", token=token)
            return self.node_class(token, args, None)

        next(stream)
        block = get_parser(self.env).parse_block(stream, (self.end, TOKEN_EOF))
        stream.expect(TOKEN_TAG, value=self.end)
        return self.node_class(token, args, block)
