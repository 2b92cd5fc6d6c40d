"""`{% permissions %}`: a static scope list, recorded and never rendered.

The body is not evaluated as Liquid (spec 1.2): scopes are separated by newlines or
commas. `render.py` collects the scopes from the parsed template.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TextIO

from liquid.ast import Node
from liquid.exceptions import LiquidSyntaxError
from liquid.tag import Tag
from liquid.token import TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG, Token

if TYPE_CHECKING:
    from liquid import RenderContext
    from liquid.stream import TokenStream

_SCOPE = re.compile(r"^[a-z_]+$")


class PermissionsNode(Node):
    __slots__ = ("scopes",)

    def __init__(self, token: Token, scopes: list[str]) -> None:
        super().__init__(token)
        self.scopes = scopes

    def __str__(self) -> str:
        return "{% permissions %}" + "\n".join(self.scopes) + "{% endpermissions %}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return 0


class PermissionsTag(Tag):
    name = "permissions"
    end = "endpermissions"
    block = True

    def parse(self, stream: TokenStream) -> PermissionsNode:
        token = stream.eat(TOKEN_TAG)
        if stream.current.kind == TOKEN_EXPRESSION:
            raise LiquidSyntaxError("permissions tag takes no arguments", token=stream.current)
        text: list[str] = []
        while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
            if stream.current.kind == TOKEN_EOF:
                raise LiquidSyntaxError("permissions block is not closed", token=token)
            if stream.current.kind != "content":
                raise LiquidSyntaxError("permissions block may only list scopes (no Liquid)", token=stream.current)
            text.append(stream.current.value)
            next(stream)
        scopes: list[str] = []
        for part in re.split(r"[\s,]+", "".join(text)):
            if not part:
                continue
            if not _SCOPE.match(part):
                raise LiquidSyntaxError(f"invalid permission scope {part!r}", token=token)
            if part not in scopes:
                scopes.append(part)
        return PermissionsNode(token, scopes)
