"""Argument lists of Mechanic's `action`, `log` and `error` tags.

Grammar (commas optional between items, so `{% action "echo" k: v %}` works):

    args  := item ((",")? item)*
    item  := WORD ":" value | value
    value := primitive ("|" filter)*

Filter arguments are parsed like python-liquid's, with one Mechanic-specific rule:
inside a tag, `, name: value` after a filter belongs to the *filter* only when the
filter function accepts a keyword of that name (`date: "%F", tz: "UTC"`); otherwise
it starts the tag's next keyword (`{% log a: x | times: 2, b: y %}`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from liquid.builtin.expressions import (
    Filter,
    FilteredExpression,
    KeywordArgument,
    PositionalArgument,
    parse_primitive,
)
from liquid.exceptions import LiquidSyntaxError
from liquid.expression import Expression
from liquid.token import (
    TOKEN_COLON,
    TOKEN_COMMA,
    TOKEN_EOF,
    TOKEN_PIPE,
    TOKEN_WORD,
    Token,
)

if TYPE_CHECKING:
    from liquid import Environment, RenderContext
    from liquid.stream import TokenStream


class TagArguments:
    """Parsed positional and keyword arguments, evaluated together at render time."""

    __slots__ = ("keyword", "positional")

    def __init__(self, positional: list[Expression], keyword: list[tuple[str, Expression]]) -> None:
        self.positional = positional
        self.keyword = keyword

    def evaluate(self, context: RenderContext) -> tuple[list[object], dict[str, object]]:
        return (
            [expr.evaluate(context) for expr in self.positional],
            {name: expr.evaluate(context) for name, expr in self.keyword},
        )

    def expressions(self) -> Iterator[Expression]:
        yield from self.positional
        for _, expr in self.keyword:
            yield expr


def parse_tag_arguments(env: Environment, tokens: TokenStream) -> TagArguments:
    positional: list[Expression] = []
    keyword: list[tuple[str, Expression]] = []
    while tokens.current.kind != TOKEN_EOF:
        if tokens.current.kind == TOKEN_COMMA:
            next(tokens)
            continue
        tok = tokens.current
        if tok.kind == TOKEN_WORD and tokens.peek.kind == TOKEN_COLON:
            next(tokens)
            next(tokens)
            keyword.append((tok.value, _parse_value(env, tokens)))
        else:
            positional.append(_parse_value(env, tokens))
    return TagArguments(positional, keyword)


def _parse_value(env: Environment, tokens: TokenStream) -> Expression:
    left = parse_primitive(env, tokens)
    filters: list[Filter] = []
    while tokens.current.kind == TOKEN_PIPE:
        next(tokens)
        name_tok = tokens.eat(TOKEN_WORD)
        filters.append(Filter(name_tok, name_tok.value, _parse_filter_args(env, tokens, name_tok)))
    if not filters:
        return left
    return FilteredExpression(left.token, left, filters)


def _parse_filter_args(
    env: Environment, tokens: TokenStream, name_tok: Token
) -> list[KeywordArgument | PositionalArgument]:
    args: list[KeywordArgument | PositionalArgument] = []
    if tokens.current.kind != TOKEN_COLON:
        return args
    next(tokens)
    accepted = _filter_keywords(env.filters.get(name_tok.value))
    expect_value = True
    while True:
        tok = tokens.current
        if tok.kind in (TOKEN_EOF, TOKEN_PIPE):
            break
        if tok.kind == TOKEN_COMMA:
            after, after2 = tokens.peek, _peek2(tokens)
            if after.kind == TOKEN_WORD and after2.kind == TOKEN_COLON and not _accepts(accepted, after.value):
                # `, name:` that the filter cannot take: the tag's next keyword.
                break
            next(tokens)
            expect_value = True
            continue
        if not expect_value:
            # Two values without a comma: the next tag item (commas are optional).
            break
        if tok.kind == TOKEN_WORD and tokens.peek.kind == TOKEN_COLON:
            if args and not _accepts(accepted, tok.value):
                break
            next(tokens)
            next(tokens)
            args.append(KeywordArgument(tok, tok.value, parse_primitive(env, tokens)))
        else:
            args.append(PositionalArgument(parse_primitive(env, tokens)))
        expect_value = False
    if not args:
        raise LiquidSyntaxError(f"missing argument for filter {name_tok.value!r}", token=name_tok)
    return args


def _peek2(tokens: TokenStream) -> Token:
    try:
        return tokens.tokens[tokens.pos + 2]
    except IndexError:
        return tokens.eof


def _accepts(accepted: frozenset[str] | None, name: str) -> bool:
    # None means the filter takes **kwargs (or is unknown at parse time): accept.
    return accepted is None or name in accepted


@lru_cache(maxsize=512)
def _filter_keywords(func: Callable[..., object] | None) -> frozenset[str] | None:
    if func is None:
        return None
    try:
        params: Iterable[inspect.Parameter] = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    names: set[str] = set()
    for param in params:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            names.add(param.name)
    return frozenset(names)
