"""Mechanic's versions of python-liquid's most-run nodes and expressions, same results, less overhead.

Every task render walks these on nearly every line: the blocks that hold a template's nodes, the
variable paths (`order.customer.email`) and the filters. python-liquid's own versions are general
(a generator per block, a fresh list per path, a wrapper call per filter, an ABC check per
condition); these
do the same work with fewer Python calls (benchmarks/RESULTS.md, render profile). They add no
state, so `MechanicEnvironment` swaps them in place of the stock classes after parsing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from liquid.ast import BlockNode
from liquid.builtin.expressions import BooleanExpression, Filter, Path
from liquid.builtin.expressions.arguments import PositionalArgument
from liquid.builtin.expressions.logical import LogicalAndExpression, LogicalOrExpression, is_truthy
from liquid.exceptions import FilterArgumentError, LiquidTypeError
from liquid.output import NullIO
from liquid.utils import ReadOnlyChainMap

from .rest_lookups import RestList

if TYPE_CHECKING:
    from liquid import RenderContext

_MISSING = object()


class MechanicScope(ReadOnlyChainMap):
    """The context's namespaces, looked up without raising and catching a KeyError per namespace missed.

    A template's own variables sit behind the loop namespaces and its globals behind its locals, so
    the stock chain paid one exception for nearly every variable read.
    """

    def __getitem__(self, key: str) -> object:
        for mapping in self._maps:
            if type(mapping) is dict:
                value = mapping.get(key, _MISSING)
                if value is not _MISSING:
                    return value
            else:
                try:
                    return mapping[key]
                except KeyError:
                    pass
        raise KeyError(key)


class MechanicBlockNode(BlockNode):
    """A block rendering its nodes in a plain loop, each node's `render_to_output` called directly.

    `Node.render` only checks the context's disabled tags first, which only the `render` tag sets
    (Mechanic has no partials); with any set, the stock path runs.
    """

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        if context.disabled_tags:
            return super().render_to_output(context, buffer)
        if self.blank and context.env.suppress_blank_control_flow_blocks:
            buffer = NullIO()
            for node in self.nodes:
                node.render_to_output(context, buffer)
            return 0
        count = 0
        for node in self.nodes:
            count += node.render_to_output(context, buffer)
        return count


class MechanicPath(Path):
    """A path with no bracketed variable in it (`order.customer["email"]`), read without copying it."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> object:
        return context.get(self.path, token=self.token)  # type: ignore[arg-type]  # segments are objects to `get`


def truthy(value: object) -> bool:
    """Liquid's truth (`is_truthy`), the common values decided before its ABC check for undefined."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    kind = type(value)
    if kind is str or kind is int or kind is list or kind is dict:
        return True
    return is_truthy(value)


class MechanicBooleanExpression(BooleanExpression):
    """An `if`/`unless` condition."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> bool:
        return truthy(self.expression.evaluate(context))


class MechanicAndExpression(LogicalAndExpression):
    """`a and b`."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> object:
        return truthy(self.left.evaluate(context)) and truthy(self.right.evaluate(context))


class MechanicOrExpression(LogicalOrExpression):
    """`a or b`."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> object:
        return truthy(self.left.evaluate(context)) or truthy(self.right.evaluate(context))


class MechanicFilter(Filter):
    """A filter application: arguments evaluated and the function called with fewer Python calls.

    Filters take arrays: a REST list (`shop.orders.open | map: "id"`) becomes one, every page read,
    as input or as any argument, inside the `try` so that a paging error names this filter.
    """

    __slots__ = ()

    def evaluate(self, left: object, context: RenderContext) -> object:
        func = context.filter(self.name, token=self.token)
        if self.args:
            args, kwargs, rest_lists = self._arguments(context)
        else:
            args, kwargs, rest_lists = [], {}, False
        try:
            if rest_lists:
                args = [list(arg) if type(arg) is RestList else arg for arg in args]
                kwargs = {name: list(arg) if type(arg) is RestList else arg for name, arg in kwargs.items()}
            if type(left) is RestList:
                left = list(left)
            return func(left, *args, **kwargs)
        except TypeError as err:
            raise LiquidTypeError(f"{self.name}: {err}", token=self.token) from err
        except (LiquidTypeError, FilterArgumentError) as err:
            err.token = self.token
            raise err

    def _arguments(self, context: RenderContext) -> tuple[list[object], dict[str, object], bool]:
        """Positional and keyword argument values, and whether any is a REST list."""
        args: list[object] = []
        kwargs: dict[str, object] = {}
        rest_lists = False
        for arg in self.args:
            if type(arg) is PositionalArgument:
                value = arg.value.evaluate(context)
                args.append(value)
            else:
                name, value = arg.evaluate(context)
                kwargs[name] = value  # type: ignore[index]  # a keyword argument has a name
            if type(value) is RestList:
                rest_lists = True
        return args, kwargs, rest_lists
