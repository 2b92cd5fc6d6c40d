"""`{% log %}` and `{% error %}`: block (JSON body), single value, or mapped.

    {% log %}{"a": 1}{% endlog %}     -> {"log": {"a": 1}}
    {% log "text" %} / {% log x %}    -> {"log": "text"} / {"log": <x>}
    {% log message: m, details: d %}  -> {"log": {"message": m, "details": d}}

An error object does not stop rendering; the engine fails the run afterwards
(spec 6.4, recommendation for the documented conflict).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from liquid.ast import BlockNode, Node
from liquid.parser import get_parser
from liquid.tag import Tag
from liquid.token import TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG, Token
from liquid.undefined import Undefined

from ..filters.json import to_json
from ._args import TagArguments, parse_tag_arguments
from ._emit import closes_ahead, parse_body_json

if TYPE_CHECKING:
    from liquid import RenderContext
    from liquid.expression import Expression
    from liquid.stream import TokenStream


class ObjectNode(Node):
    """Emits `{"<kind>": value}`."""

    __slots__ = ("args", "block", "kind")

    def __init__(self, token: Token, kind: str, args: TagArguments, block: BlockNode | None) -> None:
        super().__init__(token)
        self.kind = kind
        self.args = args
        self.block = block
        self.blank = False

    def __str__(self) -> str:
        return f"{{% {self.kind} %}}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        if self.block is not None:
            body = context.get_buffer(buffer)
            self.block.render(context, body)
            value = parse_body_json(body.getvalue(), self.kind, self.token)
        else:
            positional, keyword = self.args.evaluate(context)
            positional = [_plain(v) for v in positional]
            if keyword and not positional:
                value = {k: _plain(v) for k, v in keyword.items()}
            elif len(positional) == 1 and not keyword:
                value = positional[0]
            else:
                value = positional + ([{k: _plain(v) for k, v in keyword.items()}] if keyword else [])
        return buffer.write(to_json({self.kind: value}))

    def expressions(self) -> Iterable[Expression]:
        return self.args.expressions()

    def children(self, static_context: RenderContext, *, include_partials: bool = True) -> Iterable[Node]:
        return [self.block] if self.block is not None else []


def _plain(value: object) -> object:
    return None if isinstance(value, Undefined) else value


class _ObjectTag(Tag):
    block = True
    node_class = ObjectNode

    def parse(self, stream: TokenStream) -> ObjectNode:
        token = stream.eat(TOKEN_TAG)
        if stream.current.kind == TOKEN_EXPRESSION:
            args = parse_tag_arguments(self.env, stream.into_inner(tag=token, eat=False))
            if args.positional or args.keyword:
                return self.node_class(token, self.name, args, None)
        else:
            stream.pos -= 1
            args = TagArguments([], [])
        if not closes_ahead(stream, self.name, self.end):
            # A bare, unclosed `{% log %}` logs nil rather than swallowing the file.
            return self.node_class(token, self.name, args, None)
        next(stream)
        block = get_parser(self.env).parse_block(stream, (self.end, TOKEN_EOF))
        stream.expect(TOKEN_TAG, value=self.end)
        return self.node_class(token, self.name, args, block)


class LogTag(_ObjectTag):
    name = "log"
    end = "endlog"


class ErrorTag(_ObjectTag):
    name = "error"
    end = "enderror"
