"""Shared helpers for tags that emit JSON objects into the output stream."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from liquid.exceptions import LiquidError
from liquid.token import TOKEN_TAG, Token

if TYPE_CHECKING:
    from liquid.stream import TokenStream


class TagBodyError(LiquidError):
    """A block tag's rendered body is not what the tag expects (e.g. invalid JSON)."""


def closes_ahead(stream: TokenStream, name: str, end: str) -> bool:
    """True if the next `name`/`end` tag after the current token is `end`.

    Mechanic decides block vs inline per occurrence; a bare `{% log %}` is a block
    only when it is actually closed, before any other tag of the same name opens.
    """
    for tok in stream.tokens[stream.pos + 1 :]:
        if tok.kind == TOKEN_TAG:
            if tok.value == end:
                return True
            if tok.value == name:
                return False
    return False


def parse_body_json(text: str, what: str, token: Token) -> object:
    """Parse a block body as JSON; an empty body is nil."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return json.loads(stripped)
    except ValueError as err:
        raise TagBodyError(f"{what} body is not valid JSON: {err}", token=token) from err
