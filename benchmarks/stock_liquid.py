"""Stock python-liquid 2 with stand-ins for Mechanic's additions, the render benchmark's anchor.

Mechanic's own tags (`action`, `log`, `error`, `permissions`) are registered as no-ops so every
corpus task parses: a block form still renders its body (the Liquid inside is template work
stock does too) and discards it, an inline form evaluates nothing. Everything else is
python-liquid's default `Environment` (strict parsing, so nothing is silently dropped).

Without more, stock would do far less work than Mechanic on the same template: `parse_json`
passed over leaves a string, `array` is undefined, `orders[0] = order` stores nothing, so the
loops that follow run over nothing (a preview that walks two orders in Ratchet walks none in
stock). With `equal_work` (the default) the data flows as in Mechanic: the filters stock lacks
are Ratchet's own functions (the same filter work on both sides), `array`/`hash`/`newline` answer
a fresh value per lookup, and an indexed assignment stores a copy of its value in place, with none
of Ratchet's limits, deadline, ownership tracking or Ruby-exact semantics (no corpus task writes
into its event data or options, so the in-place writes never reach the shared variables: each
render of a job sees the same input). Then the ratio measures the engine, not the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import StringIO
from typing import TYPE_CHECKING, Any, TextIO

from liquid import Environment
from liquid.ast import BlockNode, Node
from liquid.builtin.expressions import FilteredExpression, Path, parse_identifier, parse_primitive
from liquid.builtin.tags.assign_tag import AssignNode, AssignTag
from liquid.exceptions import LiquidSyntaxError
from liquid.parser import get_parser
from liquid.tag import Tag
from liquid.template import BoundTemplate
from liquid.token import TOKEN_ASSIGN, TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG, Token

from ratchet.liquid.filters import register_filters
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


class IndexedAssignNode(Node):
    """`{% assign name[key]... = value %}`: the value (copied) stored in place, or nothing."""

    __slots__ = ("expression", "target")

    def __init__(self, token: Token, target: Path | None, expression: Expression) -> None:
        super().__init__(token)
        self.target = target
        self.expression = expression

    def __str__(self) -> str:
        return f"{{% assign {self.target} = {self.expression} %}}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        value = self.expression.evaluate(context)
        if self.target is None:
            return 0
        name = str(self.target.path[0])
        keys = [key.evaluate(context) if isinstance(key, Path) else key for key in self.target.path[1:]]
        container = context.resolve(name, default=None)
        if not isinstance(container, dict | list):
            container = {}
            context.assign(name, container)
        for depth, key in enumerate(keys):
            if isinstance(container, list) and isinstance(key, int) and key >= len(container):
                container.extend([None] * (key - len(container) + 1))
            elif not isinstance(container, dict | list) or (isinstance(container, list) and not isinstance(key, int)):
                return 0
            if depth == len(keys) - 1:
                container[key] = (
                    dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
                )
                return 0
            child = container.get(key) if isinstance(container, dict) else container[key]
            if not isinstance(child, dict | list):
                child = container[key] = {}
            container = child
        return 0


class StandInAssignTag(AssignTag):
    """Stock's assign, and Mechanic's indexed assignment as a stand-in (storing, or not)."""

    stores = True

    def parse(self, stream: TokenStream) -> AssignNode | IndexedAssignNode:  # type: ignore[override]
        token = stream.eat(TOKEN_TAG)
        tokens = stream.into_inner(tag=token, eat=False)
        start = tokens.pos
        try:
            name = parse_identifier(self.env, tokens, allow_trailing_question_mark=False)
        except LiquidSyntaxError:
            tokens.pos = start
            target = parse_primitive(self.env, tokens)
            tokens.eat(TOKEN_ASSIGN)
            stored = target if self.stores and isinstance(target, Path) else None
            return IndexedAssignNode(token, stored, FilteredExpression.parse(self.env, tokens))
        tokens.eat(TOKEN_ASSIGN)
        return AssignNode(token, name=name, expression=FilteredExpression.parse(self.env, tokens))


class KeywordLiteralArgs(dict[str, Any]):
    """Render arguments that also answer Mechanic's `array`, `hash` and `newline`, fresh per lookup.

    Fresh, as in Mechanic: with one list per render, `assign rows = array` and `assign row = array`
    would be the same list, and in-place indexed assignment would write rows into themselves.
    Looked up only when a name is not a render argument (as Ratchet's scope does), so a render
    pays nothing for them until a template uses one.
    """

    def __missing__(self, key: str) -> Any:
        if key == "array":
            return []
        if key == "hash":
            return {}
        if key == "newline":
            return "\n"
        raise KeyError(key)


class KeywordLiteralTemplate(BoundTemplate):
    """Stock's template, its render arguments wrapped in `KeywordLiteralArgs`."""

    def make_globals(self, render_args: Mapping[str, object]) -> Mapping[str, object]:
        return super().make_globals(KeywordLiteralArgs(render_args))


def stock_environment(*, equal_work: bool = True) -> Environment:
    """Stock python-liquid with the stand-ins; with `equal_work`, Mechanic's data flow too (see above)."""
    env = Environment(strict_filters=False)
    if equal_work:
        env.template_class = KeywordLiteralTemplate
    env.add_tag(type("AssignStandIn", (StandInAssignTag,), {"stores": equal_work}))
    if equal_work:
        mechanic = Environment()
        register_filters(mechanic)
        for name, func in mechanic.filters.items():
            env.filters.setdefault(name, func)
    for name in ("action", "log", "error", "permissions"):
        env.add_tag(type(f"{name.title()}StandIn", (StandInTag,), {"name": name, "end": f"end{name}"}))
    return env
