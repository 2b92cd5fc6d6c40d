"""Extended `assign`: `{% assign x["k"][0] = v %}`, `{% assign x[x.size] = v %}`.

Mechanic gives assignment copy semantics: setting a key never changes a value that
another variable (or the event data) also refers to. Each container along the
target path is shallow-copied and the variable is rebound, so `assign b = a` then
`assign b["k"] = 1` leaves `a` untouched.

Missing containers are created: a hash for a string key, an array for an integer
key. Integer indexes equal to the array size append; larger ones pad with nil, as
Ruby's `Array#[]=` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from liquid.ast import Node
from liquid.builtin.expressions import FilteredExpression, Path
from liquid.builtin.expressions.primitive import Identifier
from liquid.exceptions import LiquidSyntaxError, LiquidTypeError
from liquid.tag import Tag
from liquid.token import TOKEN_ASSIGN, TOKEN_TAG, TOKEN_WORD, Token
from liquid.undefined import Undefined

if TYPE_CHECKING:
    from liquid import RenderContext
    from liquid.expression import Expression
    from liquid.stream import TokenStream


class AssignNode(Node):
    __slots__ = ("expression", "name", "target")

    def __init__(self, token: Token, name: str, target: Path | None, expression: Expression) -> None:
        super().__init__(token)
        self.name = name
        # None for a plain `assign x = ...`; otherwise the full indexed target path.
        self.target = target
        self.expression = expression

    def __str__(self) -> str:
        return f"{{% assign {self.target or self.name} = {self.expression} %}}"

    def render_to_output(self, context: RenderContext, _buffer: TextIO) -> int:
        value = self.expression.evaluate(context)
        if self.target is None:
            context.assign(self.name, value)
            return 0
        keys = [seg.evaluate(context) if isinstance(seg, Path) else seg for seg in self.target.path[1:]]
        current = context.resolve(self.name, default=None)
        context.assign(self.name, _set_in(current, keys, value, self.token))
        return 0

    def expressions(self) -> Iterable[Expression]:
        yield self.expression
        if self.target is not None:
            yield self.target

    def template_scope(self) -> Iterable[Identifier]:
        yield Identifier(self.name, token=self.token)


def _set_in(container: Any, keys: list[Any], value: Any, token: Token) -> Any:
    key = keys[0]
    if hasattr(key, "__liquid__"):
        key = key.__liquid__()
    if isinstance(key, Undefined):
        key = None
    if container is None or isinstance(container, Undefined):
        container = [] if isinstance(key, int) and not isinstance(key, bool) else {}

    if isinstance(container, dict):
        new: Any = dict(container)
        child = new.get(key) if len(keys) > 1 else None
        new[key] = _set_in(child, keys[1:], value, token) if len(keys) > 1 else value
        return new

    if isinstance(container, list):
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if isinstance(key, str) and key.lstrip("-").isdigit():
            key = int(key)
        if not isinstance(key, int) or isinstance(key, bool):
            raise LiquidTypeError(f"cannot assign array element with non-integer index {key!r}", token=token)
        new = list(container)
        if key < 0:
            key += len(new)
            if key < 0:
                raise LiquidTypeError("array index out of range", token=token)
        if key >= len(new):
            new.extend([None] * (key - len(new) + 1))
        new[key] = _set_in(new[key], keys[1:], value, token) if len(keys) > 1 else value
        return new

    raise LiquidTypeError(f"cannot assign into {type(container).__name__} with index {key!r}", token=token)


class AssignTag(Tag):
    name = "assign"
    block = False
    node_class = AssignNode

    def parse(self, stream: TokenStream) -> AssignNode:
        token = stream.eat(TOKEN_TAG)
        tokens = stream.into_inner(tag=token, eat=False)
        if tokens.current.kind != TOKEN_WORD:
            raise LiquidSyntaxError(f"expected a variable name, found {tokens.current.kind}", token=tokens.current)
        target = Path.parse(self.env, tokens)
        head = target.path[0]
        if not isinstance(head, str) or head.endswith("?"):
            raise LiquidSyntaxError("invalid assignment target", token=target.token)
        tokens.eat(TOKEN_ASSIGN)
        expression = FilteredExpression.parse(self.env, tokens)
        return self.node_class(token, head, target if len(target.path) > 1 else None, expression)
