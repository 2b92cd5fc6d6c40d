"""Stock python-liquid 2 with Mechanic's tags as stand-ins, the render benchmark's anchor.

Mechanic's own tags (`action`, `log`, `error`, `permissions`) are registered as no-ops so every
corpus task parses: a block form still renders its body (the Liquid inside is template work
stock does too) and discards it, an inline form evaluates nothing. Mechanic's indexed assignment
(`{% assign order["tags"] = x %}`) evaluates its value and stores nothing; a plain assignment is
stock's. Everything else is python-liquid's default `Environment` (strict parsing, so nothing
is silently dropped) with unknown filters passed over: a Mechanic filter stock lacks leaves its
input unchanged rather than failing the render.
"""

from __future__ import annotations

from io import StringIO
from typing import TYPE_CHECKING, TextIO

from liquid import Environment
from liquid.ast import BlockNode, Node
from liquid.builtin.expressions import FilteredExpression, parse_identifier
from liquid.builtin.tags.assign_tag import AssignNode, AssignTag
from liquid.exceptions import LiquidSyntaxError
from liquid.parser import get_parser
from liquid.tag import Tag
from liquid.token import TOKEN_ASSIGN, TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG, Token

from ratchet.liquid.tags._emit import closes_ahead

if TYPE_CHECKING:
    from liquid import RenderContext
    from liquid.expression import Expression
    from liquid.stream import TokenStream


class StandInNode(Node):
    """Renders a block's body into a throwaway buffer; writes nothing."""

    __slots__ = ("block",)

    def __init__(self, token: Token, block: BlockNode | None) -> None:
        super().__init__(token)
        self.block = block

    def __str__(self) -> str:
        return f"{{% {self.token.value} %}}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        if self.block is not None:
            self.block.render(context, StringIO())
        return 0


class StandInTag(Tag):
    """A Mechanic tag stock does not have: inline when not closed ahead, else a block."""

    block = True

    def parse(self, stream: TokenStream) -> StandInNode:
        token = stream.eat(TOKEN_TAG)
        if stream.current.kind != TOKEN_EXPRESSION:
            stream.pos -= 1
        if not closes_ahead(stream, self.name, self.end):
            return StandInNode(token, None)
        next(stream)
        if self.name == "permissions":  # a scope list, not Liquid
            while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
                next(stream)
            return StandInNode(token, None)
        block = get_parser(self.env).parse_block(stream, (self.end, TOKEN_EOF))
        stream.expect(TOKEN_TAG, value=self.end)
        return StandInNode(token, block)


class DiscardingAssignNode(Node):
    """An indexed assignment: evaluates its value, stores nothing."""

    __slots__ = ("expression",)

    def __init__(self, token: Token, expression: Expression) -> None:
        super().__init__(token)
        self.expression = expression

    def __str__(self) -> str:
        return f"{{% assign _ = {self.expression} %}}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        self.expression.evaluate(context)
        return 0


class StandInAssignTag(AssignTag):
    """Stock's assign, and Mechanic's indexed assignment as a stand-in."""

    def parse(self, stream: TokenStream) -> AssignNode | DiscardingAssignNode:  # type: ignore[override]
        token = stream.eat(TOKEN_TAG)
        tokens = stream.into_inner(tag=token, eat=False)
        try:
            name = parse_identifier(self.env, tokens, allow_trailing_question_mark=False)
        except LiquidSyntaxError:
            while tokens.current.kind != TOKEN_ASSIGN:
                next(tokens)
            tokens.eat(TOKEN_ASSIGN)
            return DiscardingAssignNode(token, FilteredExpression.parse(self.env, tokens))
        tokens.eat(TOKEN_ASSIGN)
        return AssignNode(token, name=name, expression=FilteredExpression.parse(self.env, tokens))


def stock_environment() -> Environment:
    env = Environment(strict_filters=False)
    env.add_tag(StandInAssignTag)
    for name in ("action", "log", "error", "permissions"):
        env.add_tag(type(f"{name.title()}StandIn", (StandInTag,), {"name": name, "end": f"end{name}"}))
    return env
