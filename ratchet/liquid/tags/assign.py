"""Extended `assign`: `{% assign x["k"][0] = v %}`, `{% assign x[x.size] = v %}`.

Mechanic's rules, as its docs and its own library tasks use them
(https://learn.mechanic.dev/platform/liquid/tags/assign):

- The assigned *value* is stored by value: later changes to the variable it came
  from never show through the container it was stored in.
- The *target* is changed in place, as Ruby's `[]=` does, so a variable that refers
  to the same container sees the change: `assign p = by_id[id]` then
  `assign p["variants"][n] = v` adds to the variant list inside `by_id` (the
  library's product and inventory CSV exports are built this way).

Containers that came from outside the render (event data, options, filter results
over them) may be shared with other renders, so they are never changed: the first
write into one copies it (shallowly, one level per write) and the copy takes its
place. Every container this tag creates or copies is recorded as owned by the
render, and only owned containers are changed in place.

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

# The render's owned containers, by id; the values keep them alive so no id is reused.
_OWNED = "ratchet.assign.owned"


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
        owned: dict[int, Any] = context.tag_namespace.setdefault(_OWNED, {})
        keys = [seg.evaluate(context) if isinstance(seg, Path) else seg for seg in self.target.path[1:]]
        current = context.resolve(self.name, default=None)
        root = _writable(current, keys[0], owned, self.token)
        if root is not current:
            context.assign(self.name, root)
        _store(root, keys, _by_value(value, owned), owned, self.token)
        return 0

    def expressions(self) -> Iterable[Expression]:
        yield self.expression
        if self.target is not None:
            yield self.target

    def template_scope(self) -> Iterable[Identifier]:
        yield Identifier(self.name, token=self.token)


def _store(
    container: dict[Any, Any] | list[Any], keys: list[Any], value: Any, owned: dict[int, Any], token: Token
) -> None:
    """Set `value` at `keys` under an owned `container`, owning each container on the way."""
    for depth, raw_key in enumerate(keys):
        key = _index(container, raw_key, token)
        if depth == len(keys) - 1:
            container[key] = value
            return
        current = container.get(key) if isinstance(container, dict) else container[key]
        child = _writable(current, keys[depth + 1], owned, token)
        if child is not current:
            container[key] = child
        container = child


def _writable(container: Any, next_key: Any, owned: dict[int, Any], token: Token) -> dict[Any, Any] | list[Any]:
    """`container` itself when the render owns it; otherwise an owned copy (or a new one)."""
    if id(container) in owned:
        return container
    if container is None or isinstance(container, Undefined):
        key = _plain(next_key)
        fresh: dict[Any, Any] | list[Any] = [] if isinstance(key, int) and not isinstance(key, bool) else {}
    elif isinstance(container, dict):
        fresh = dict(container)
    elif isinstance(container, list):
        fresh = list(container)
    else:
        raise LiquidTypeError(
            f"cannot assign into {type(container).__name__} with index {_plain(next_key)!r}", token=token
        )
    owned[id(fresh)] = fresh
    return fresh


def _index(container: dict[Any, Any] | list[Any], raw_key: Any, token: Token) -> Any:
    """The key to set: any key for a hash; for an array, an index that exists (padding with nil)."""
    key = _plain(raw_key)
    if isinstance(container, dict):
        return key
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    if isinstance(key, str) and key.lstrip("-").isdigit():
        key = int(key)
    if not isinstance(key, int) or isinstance(key, bool):
        raise LiquidTypeError(f"cannot assign array element with non-integer index {key!r}", token=token)
    if key < 0:
        key += len(container)
        if key < 0:
            raise LiquidTypeError("array index out of range", token=token)
    if key >= len(container):
        container.extend([None] * (key - len(container) + 1))
    return key


def _plain(key: Any) -> Any:
    if hasattr(key, "__liquid__"):
        key = key.__liquid__()
    return None if isinstance(key, Undefined) else key


def _by_value(value: Any, owned: dict[int, Any]) -> Any:
    """A copy of `value` that later writes through any other variable cannot reach.

    The copy is owned, so later writes through a variable that reads it back land
    where it is stored. Owned containers inside are copied all the way down (they
    are the only ones written in place); containers from outside the render are
    shared as they are, since every write into one copies it first.
    """
    if not isinstance(value, dict | list):
        return value
    copy: dict[Any, Any] | list[Any] = (
        {k: _owned_copy(v, owned) for k, v in value.items()}
        if isinstance(value, dict)
        else [_owned_copy(v, owned) for v in value]
    )
    owned[id(copy)] = copy
    return copy


def _owned_copy(value: Any, owned: dict[int, Any]) -> Any:
    return _by_value(value, owned) if id(value) in owned else value


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
