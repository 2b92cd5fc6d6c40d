"""`MechanicEnvironment`: python-liquid 2 configured as Mechanic's Liquid dialect.

What differs from stock python-liquid, and where it is handled:
- expression tokens: `limit`, `offset` (and other loop/partial keywords) are plain
  variable names outside the positions where they are keywords -> `_tokenize`;
- keyword literals `array`, `hash`, `newline`, a fresh object per lookup ->
  `MechanicContext` scope;
- `nil`/`false`/undefined equal `blank` (ActiveSupport's `blank?`) -> `_rewrite`
  swaps the comparison nodes after parsing;
- `{% break %}`/`{% continue %}` outside a loop ends the render keeping the output
  so far -> `MechanicTemplate.render_with_context`;
- safety limits -> class attributes plus a wall-clock deadline in the context;
- tags and filters -> `ratchet.liquid.tags` / `ratchet.liquid.filters`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from io import StringIO
from typing import Any, ClassVar, TextIO

from liquid import Environment, Mode
from liquid.ast import BlockNode, Node
from liquid.builtin.expressions import BooleanExpression, Filter, FilteredExpression, Path, tokenize
from liquid.builtin.expressions.logical import EqExpression, LogicalAndExpression, LogicalOrExpression, NeExpression
from liquid.builtin.expressions.loop import LoopExpression
from liquid.builtin.output import Output, OutputNode
from liquid.builtin.tags.case_tag import _AnyExpression
from liquid.builtin.tags.echo_tag import EchoNode, EchoTag
from liquid.context import UNDEFINED, RenderContext, _segments_str
from liquid.exceptions import BreakLoop, ContinueLoop, LiquidError, LiquidSyntaxError, StopRender
from liquid.expression import Expression
from liquid.parser import get_parser
from liquid.stream import TokenStream
from liquid.template import BoundTemplate
from liquid.token import (
    TOKEN_AS,
    TOKEN_COLON,
    TOKEN_COLS,
    TOKEN_CONTINUE,
    TOKEN_ELSE,
    TOKEN_EXPRESSION,
    TOKEN_FOR,
    TOKEN_IF,
    TOKEN_IN,
    TOKEN_LIMIT,
    TOKEN_OFFSET,
    TOKEN_OUTPUT,
    TOKEN_REQUIRED,
    TOKEN_REVERSED,
    TOKEN_WITH,
    TOKEN_WORD,
    Token,
)

from . import limits, ruby
from .errors import RenderLimitError
from .nodes import (
    MechanicAndExpression,
    MechanicBlockNode,
    MechanicBooleanExpression,
    MechanicFilter,
    MechanicOrExpression,
    MechanicPath,
    MechanicScope,
)
from .rest_lookups import RestList
from .semantics import MechanicAnyExpression, MechanicEq, MechanicNe

# Keywords python-liquid reserves everywhere but Ruby Liquid only inside specific
# tags. Outside `for`/`tablerow` they are ordinary names (`{% assign limit = 5 %}`).
_LOOP_TAGS = frozenset({"for", "tablerow"})
_SOFT_KEYWORDS = frozenset(
    {
        TOKEN_LIMIT,
        TOKEN_OFFSET,
        TOKEN_REVERSED,
        TOKEN_COLS,
        TOKEN_CONTINUE,
        TOKEN_WITH,
        TOKEN_FOR,
        TOKEN_AS,
        TOKEN_IN,
        TOKEN_IF,
        TOKEN_ELSE,
        TOKEN_REQUIRED,
    }
)


def mechanic_tokenize(source: str, parent: Token, tag_name: str | None) -> list[Token]:
    """Tokenize an expression, demoting soft keywords to words where Ruby would."""
    tokens = list(tokenize(source, parent))
    in_loop_tag = tag_name in _LOOP_TAGS
    for i, tok in enumerate(tokens):
        if tok.kind not in _SOFT_KEYWORDS:
            continue
        if in_loop_tag:
            # Inside a for tag `limit:`/`offset:` are arguments; `limit` alone (e.g.
            # `limit: limit`) is a variable.
            if tok.kind in (TOKEN_LIMIT, TOKEN_OFFSET) and (i + 1 >= len(tokens) or tokens[i + 1].kind != TOKEN_COLON):
                tokens[i] = tok._replace(kind=TOKEN_WORD)
        else:
            tokens[i] = tok._replace(kind=TOKEN_WORD)
    return tokens


class MechanicTokenStream(TokenStream):
    """Token stream whose inner expression streams use `mechanic_tokenize`."""

    def into_inner(self, *, tag: Token | None = None, eat: bool = True) -> TokenStream:
        token = self.current
        if token.kind != TOKEN_EXPRESSION:
            # Defer to the base class for its error message.
            return super().into_inner(tag=tag, eat=eat)
        if eat:
            next(self)
        name = tag.value if tag is not None else None
        return TokenStream(iter(mechanic_tokenize(token.value, token, name)))


class RubyOutputNode(OutputNode):
    """`{{ ... }}` writing values as Ruby Liquid does (nil empty, `true`, `{"a"=>1}`)."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        value = self.expression.evaluate(context)
        return buffer.write(value if type(value) is str else ruby.output(value))

    async def render_to_output_async(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(ruby.output(await self.expression.evaluate_async(context)))


class RubyEchoNode(EchoNode):
    """`{% echo %}` with Ruby Liquid's output rules."""

    __slots__ = ()

    render_to_output = RubyOutputNode.render_to_output
    render_to_output_async = RubyOutputNode.render_to_output_async


class MechanicEcho(EchoTag):
    node_class = RubyEchoNode


class MechanicOutput(Output):
    """`{{ ... }}` parsed with Mechanic's tokenizer."""

    node_class = RubyOutputNode

    def parse(self, stream: TokenStream) -> OutputNode:
        token = stream.eat(TOKEN_OUTPUT)
        expr_token = stream.expect(TOKEN_EXPRESSION)
        inner = TokenStream(iter(mechanic_tokenize(expr_token.value, expr_token, None)))
        return self.node_class(token, FilteredExpression.parse(self.env, inner))


class _KeywordLiterals(Mapping[str, object]):
    """`array`, `hash` and `newline`, evaluated to a fresh value on every lookup.

    They sit behind locals and globals in the scope chain, so a task that assigns
    or captures its own `newline` keeps working.
    """

    def __getitem__(self, key: str) -> object:
        if key == "array":
            return []
        if key == "hash":
            return {}
        if key == "newline":
            return ruby.NEWLINE
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in ("array", "hash", "newline")

    def __iter__(self) -> Iterator[str]:
        return iter(("array", "hash", "newline"))

    def __len__(self) -> int:
        return 3


_KEYWORD_LITERALS = _KeywordLiterals()
# A lookup's "no such name or key", distinct from every value a template can hold.
_NOT_FOUND = object()


class CharLimitedStringIO(StringIO):
    """Output buffer bounded in characters (cheaper than python-liquid's UTF-8 count)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.size = 0

    def write(self, s: str) -> int:
        size = self.size + len(s)
        if size > self.limit:
            raise RenderLimitError(f"output limit reached: rendered output exceeds {self.limit:,} characters")
        self.size = size
        return _write(self, s)


# Called unbound: `super().write` built a super object on every write, and templates write often.
_write = StringIO.write


class MechanicContext(RenderContext):
    """Render context with Mechanic's keyword literals and a render deadline."""

    __slots__ = ("assigned_sizes", "deadline", "memory_budget", "render_state")

    def __init__(self, template: BoundTemplate, **kwargs: Any) -> None:
        super().__init__(template, **kwargs)
        self.scope = MechanicScope(self.locals, self.globals, _KEYWORD_LITERALS, self.counters)
        # The render's memory budget (limits.memory_limit), read once: render_task sets it
        # before the context is made and resets it after the render.
        self.memory_budget = limits.memory_limit.get()
        parent = kwargs.get("parent_context")
        if isinstance(parent, MechanicContext):
            self.deadline: float = parent.deadline
            self.render_state: dict[str, Any] = parent.render_state
            self.assigned_sizes: dict[str, int] = parent.assigned_sizes
        else:
            # Size of each variable's value, and their total under "" (see limits.py).
            self.assigned_sizes = {"": 0}
            self.deadline = time.monotonic() + limits.RENDER_TIME_LIMIT_SECONDS
            # Per-render services for filters (the shopify client, preview flag), set
            # by `render.py`; kept off the Liquid scope so templates cannot reach it.
            self.render_state = {}

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitError(f"render time limit reached ({limits.RENDER_TIME_LIMIT_SECONDS:g} s)")

    def extend_deadline(self, seconds: float) -> None:
        """Give back time spent outside Liquid evaluation (GraphQL round trips)."""
        self.deadline += seconds

    def assign(self, key: str, val: Any) -> None:
        # Assignments happen on nearly every line of task code, so this is a cheap,
        # frequent place to enforce the time and memory limits — kept cheap: the clock
        # read inline, a string's size without a call, the error message built only when
        # the budget is exceeded (benchmarks/RESULTS.md, render profile).
        if time.monotonic() > self.deadline:
            self.check_deadline()
        sizes = self.assigned_sizes
        size = len(val) if type(val) is str else limits.value_size(val)
        total = sizes[""] + size - sizes.get(key, 0)
        if total > self.memory_budget:
            limits.check_size(total, f"the variables after assigning {key!r}")
        sizes[key] = size
        sizes[""] = total
        self.locals[key] = val

    def raise_for_loop_limit(self, length: int = 1) -> None:
        self.check_deadline()
        super().raise_for_loop_limit(length)

    def get(self, path: list[object], *, token: Token | None, default: object = UNDEFINED) -> object:
        """`RenderContext.get` with its common steps inline: a dict key, a list index (render profile).

        REST lookups (rest_lookups.py) call Shopify from inside `get_item`, which has no token:
        their errors, and the lists they page later, take the token of this expression.
        """
        root = path[0]
        try:
            try:
                obj = self.scope[root] if isinstance(root, str) else _NOT_FOUND
            except (KeyError, TypeError, IndexError):
                obj = _NOT_FOUND
            if obj is _NOT_FOUND:
                if default is not UNDEFINED:
                    return default
                hint = f"{root!r} is undefined" if isinstance(root, str) else f"{root} is undefined"
                return self.env.undefined(str(root), hint=hint, token=token)
            index = 1
            try:
                for index in range(1, len(path)):
                    segment = path[index]
                    if type(obj) is dict:
                        value = obj.get(segment, _NOT_FOUND)
                        if value is not _NOT_FOUND:
                            obj = value
                            continue
                    elif type(obj) is list and type(segment) is int:
                        obj = obj[segment]
                        continue
                    obj = self.get_item(obj, segment)
            except (KeyError, TypeError):
                if default is not UNDEFINED:
                    return default
                return self.env.undefined(root, hint=f"{_segments_str(path[: index + 1])} is undefined", token=token)  # type: ignore[arg-type]  # a found root is a name
            except IndexError:
                if default is not UNDEFINED:
                    return default
                return self.env.undefined(root, hint="index out of range", token=token)  # type: ignore[arg-type]  # a found root is a name
        except LiquidError as err:
            if err.token is None:
                err.token = token
            raise
        # `type(...) is`: RestList is a Sequence, and ABC isinstance checks cost on every lookup.
        if type(obj) is RestList and obj.token is None:
            obj.token = token
        return obj

    def get_item(self, obj: Any, key: Any) -> Any:
        """Ruby Liquid's lookup: keys first, then the `size`/`first`/`last` commands.

        Strings answer `size`, `first` and `last` (ActiveSupport) but not indexes;
        a hash's `first` is its first `[key, value]` pair; integers have `size` 8.
        """
        # `type(...) is` first: ABC isinstance checks dominate lookups otherwise.
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[key]
            except KeyError:
                if key == "size":
                    return len(obj)
                if key == "first" and obj:
                    return list(next(iter(obj.items())))
                raise
        if type(obj) is list:
            return super().get_item(obj, key)
        if isinstance(obj, str):
            if key == "size":
                return len(obj)
            if key == "first":
                return obj[:1]
            if key == "last":
                return obj[-1:]
            raise KeyError(key)
        if key == "size" and isinstance(obj, int) and not isinstance(obj, bool):
            return 8
        return super().get_item(obj, key)

    def get_buffer(self, buf: TextIO | None = None) -> StringIO:
        carry = buf.size if isinstance(buf, CharLimitedStringIO) else 0
        return CharLimitedStringIO(self.env.output_stream_limit - carry)  # type: ignore[operator]  # our environment always sets the limit


class MechanicLoopExpression(LoopExpression):
    """`for` arguments as Ruby reads them: `limit: 0` is no items, `limit: nil` no limit."""

    __slots__ = ()

    def _to_int(self, obj: object, *, token: Token) -> int:
        if ruby.is_nil(obj):
            return None  # type: ignore[return-value]  # the stock loop reads None as "no limit"
        return super()._to_int(obj, token=token)

    def _slice(
        self,
        it: Iterator[object],
        length: int,
        context: RenderContext,
        *,
        limit: int | None,
        offset: int | str | None,
    ) -> tuple[Iterator[object], int]:
        # The stock slice reads a zero stop as "to the end".
        if limit is not None and limit <= 0:
            return iter(()), 0
        return super()._slice(it, length, context, limit=limit, offset=offset)


class MechanicTemplate(BoundTemplate):
    """Bound template whose top-level `break`/`continue` stops rendering quietly."""

    context_class = MechanicContext

    def _get_buffer(self) -> StringIO:
        return CharLimitedStringIO(self.env.output_stream_limit)  # type: ignore[arg-type]  # our environment always sets the limit

    def render_with_context(
        self,
        context: RenderContext,
        buffer: TextIO,
        *args: Any,
        partial: bool = False,
        block_scope: bool = False,
        **kwargs: Any,
    ) -> None:
        if partial or args or kwargs:
            namespace = self.make_partial_namespace(partial, dict(*args, **kwargs))
            with context.extend(namespace=namespace):
                self._render_nodes(context, buffer)
        else:
            # A task's own render: stock python-liquid pushes `{"partial": False}` in front of every
            # name (a variable Ruby Liquid does not have), missed by nearly every lookup.
            self._render_nodes(context, buffer)

    def _render_nodes(self, context: RenderContext, buffer: TextIO) -> None:
        for node in self.nodes:
            try:
                node.render(context, buffer)
            except (BreakLoop, ContinueLoop):
                # Ruby Liquid leaves the interrupt pending and every enclosing
                # block stops; tasks use `{% break %}` as "return".
                break
            except StopRender:
                break


class MechanicEnvironment(Environment):
    """python-liquid `Environment` speaking Mechanic's Liquid dialect."""

    template_class = MechanicTemplate
    loop_iteration_limit: ClassVar[int | None] = limits.LOOP_ITERATION_LIMIT
    output_stream_limit: ClassVar[int | None] = limits.OUTPUT_STREAM_LIMIT
    block_nesting_limit: ClassVar[int] = limits.BLOCK_NESTING_LIMIT
    context_depth_limit: ClassVar[int] = limits.CONTEXT_DEPTH_LIMIT

    def __init__(self) -> None:
        super().__init__(tolerance=Mode.STRICT, strict_filters=True)

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=False)
        # Imported here: the tag and filter modules import this module's helpers.
        from .filters import register_filters
        from .tags import register_tags

        self.add_tag(MechanicOutput)
        self.add_tag(MechanicEcho)
        register_tags(self)
        register_filters(self)

    def _parse(self, source: str) -> list[Node]:
        parser = get_parser(self)
        nodes = parser.parse(MechanicTokenStream(self.tokenizer()(source)))
        seen: set[int] = set()
        for node in nodes:
            _rewrite(node, seen, self.filters)
        return nodes


# Stock classes and the Mechanic subclasses `_rewrite` swaps in (Filter and Path have conditions).
_MECHANIC_CLASSES: dict[type, type] = {
    EqExpression: MechanicEq,
    NeExpression: MechanicNe,
    _AnyExpression: MechanicAnyExpression,
    LoopExpression: MechanicLoopExpression,
    BlockNode: MechanicBlockNode,
    BooleanExpression: MechanicBooleanExpression,
    LogicalAndExpression: MechanicAndExpression,
    LogicalOrExpression: MechanicOrExpression,
}


def _rewrite(obj: object, seen: set[int], filters: Mapping[str, object]) -> None:
    """Swap stock nodes for Mechanic's; reject filters Mechanic lacks at parse time, with their position.

    Mechanic's nodes carry its blank/empty semantics and loop arguments.

    Walks node and expression attributes generically so it covers every tag that
    embeds expressions (if, unless, elsif, ternaries) without re-implementing them.
    The subclasses add no state, so changing `__class__` in place is safe.
    """
    if id(obj) in seen:
        return
    seen.add(id(obj))
    kind = type(obj)
    if kind is Filter:
        if obj.name not in filters:  # type: ignore[attr-defined]
            raise LiquidSyntaxError(f"unknown filter '{obj.name}'", token=obj.token)  # type: ignore[attr-defined]
        obj.__class__ = MechanicFilter
    elif kind is Path:
        if not any(isinstance(segment, Path) for segment in obj.path):  # type: ignore[attr-defined]
            obj.__class__ = MechanicPath
    elif (mechanic := _MECHANIC_CLASSES.get(kind)) is not None:
        obj.__class__ = mechanic
    for value in _attributes(obj):
        _rewrite_within(value, seen, filters)


def _rewrite_within(value: object, seen: set[int], filters: Mapping[str, object]) -> None:
    """`_rewrite` a node or expression, or everything in a list or tuple of them at any depth.

    Tags keep keyword arguments as `(name, expression)` pairs in a list (tags/_args.py).
    """
    if isinstance(value, (Node, Expression)) or _is_walkable(value):
        _rewrite(value, seen, filters)
    elif isinstance(value, (list, tuple)) and not isinstance(value, Token):
        for item in value:
            _rewrite_within(item, seen, filters)


def _is_walkable(value: object) -> bool:
    # Filters and arguments are neither Nodes nor Expressions but hold expressions.
    return (
        type(value).__module__.startswith(("liquid.builtin", "ratchet.liquid"))
        and not isinstance(value, (str, int, float, Token))
        and hasattr(value, "__slots__")
    )


def _attributes(obj: object) -> Iterator[object]:
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if isinstance(slot, str) and slot not in ("token", "__weakref__", "__dict__"):
                value = getattr(obj, slot, None)
                if value is not None:
                    yield value
    if hasattr(obj, "__dict__"):
        for key, value in vars(obj).items():
            if key != "token":
                yield value
