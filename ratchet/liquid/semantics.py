"""Value semantics of Mechanic's Liquid (Ruby Liquid + ActiveSupport).

Mechanic runs Shopify's Ruby Liquid inside Rails, so `x == blank` means
ActiveSupport's `x.blank?` (true for nil, false, "", whitespace, [] and {}), and
`x == empty` means `x.empty?` for strings, arrays and hashes. Undefined variables are
nil in Ruby.
"""

from __future__ import annotations

from liquid.builtin.expressions.logical import EqExpression, NeExpression, _eq
from liquid.builtin.expressions.primitive import Blank, Empty
from liquid.builtin.tags.case_tag import _AnyExpression
from liquid.context import RenderContext
from liquid.undefined import Undefined


def is_blank(value: object) -> bool:
    """ActiveSupport `Object#blank?`."""
    if value is None or value is False or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value or value.isspace()
    if isinstance(value, (list, dict, tuple)):
        return not value
    return False


# Types whose `==` is already Mechanic's: no blank, empty, nil-like or boolean operand among them.
_PLAIN = frozenset({str, int, float, type(None)})


def mechanic_eq(left: object, right: object) -> bool:
    if type(left) in _PLAIN and type(right) in _PLAIN:
        return left == right
    if isinstance(left, (Blank, Empty)):
        left, right = right, left
    if isinstance(right, Blank):
        return isinstance(left, Blank) or is_blank(left)
    if isinstance(right, Empty):
        if isinstance(left, Empty):
            return True
        return isinstance(left, (str, list, dict)) and not left
    if isinstance(left, Undefined):
        left = None
    if isinstance(right, Undefined):
        right = None
    return _eq(left, right)


class MechanicEq(EqExpression):
    """`==` with Mechanic's blank/empty/nil semantics."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> object:
        return mechanic_eq(self.left.evaluate(context), self.right.evaluate(context))

    async def evaluate_async(self, context: RenderContext) -> object:
        return mechanic_eq(await self.left.evaluate_async(context), await self.right.evaluate_async(context))


class MechanicNe(NeExpression):
    """`!=` / `<>` with Mechanic's blank/empty/nil semantics."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> object:
        return not mechanic_eq(self.left.evaluate(context), self.right.evaluate(context))

    async def evaluate_async(self, context: RenderContext) -> object:
        return not mechanic_eq(await self.left.evaluate_async(context), await self.right.evaluate_async(context))


class MechanicAnyExpression(_AnyExpression):
    """`{% when a, b %}` compared with Mechanic's `==` (so `when blank` matches "")."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> list[bool]:
        left = self.left.evaluate(context)
        return [mechanic_eq(left, right.evaluate(context)) for right in self.expressions]

    async def evaluate_async(self, context: RenderContext) -> list[bool]:
        left = await self.left.evaluate_async(context)
        return [mechanic_eq(left, await right.evaluate_async(context)) for right in self.expressions]
