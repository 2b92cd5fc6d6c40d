"""Error hierarchy for task rendering.

Every failure of a task render (Liquid syntax or render errors, malformed output,
resource limit breaches) surfaces to the engine as one `TaskRenderError`, carrying
a position when one is known so users can find the offending line.
"""

from __future__ import annotations

from liquid.exceptions import FilterArgumentError, LiquidError


class TaskRenderError(Exception):
    """A task's Liquid could not be parsed or rendered, or its output is invalid."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        excerpt: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.excerpt = excerpt

    def __str__(self) -> str:
        text = self.message
        if self.line is not None:
            text += f" (line {self.line}, column {self.column})"
        if self.excerpt:
            text += "\n" + self.excerpt
        return text

    def to_dict(self) -> dict[str, object]:
        return {"message": self.message, "line": self.line, "column": self.column}

    @classmethod
    def from_liquid(cls, err: LiquidError, prefix: str = "") -> TaskRenderError:
        """Convert python-liquid's error, keeping its position as 1-based line/column."""
        message = f"{prefix}{err.message}"
        ctx = None
        try:
            ctx = err.context()
        except ValueError:
            # The token may point past the end of the source (e.g. at EOF).
            ctx = None
        if ctx is None:
            return cls(message)
        line, col, _prev, current, _next = ctx
        return cls(message, line=line, column=col + 1, excerpt=_caret(line, col, current))

    @classmethod
    def at(cls, message: str, source: str, index: int) -> TaskRenderError:
        """Build an error pointing at character `index` of `source`."""
        index = max(0, min(index, len(source)))
        line = source.count("\n", 0, index) + 1
        line_start = source.rfind("\n", 0, index) + 1
        line_end = source.find("\n", index)
        current = source[line_start : line_end if line_end != -1 else len(source)]
        col = index - line_start
        return cls(message, line=line, column=col + 1, excerpt=_caret(line, col, current))


class ShopifyReadError(FilterArgumentError):
    """A read through the `shopify` filter failed; `cause` is the client's error.

    A FilterArgumentError so that python-liquid stamps it with the filter's token: the task
    run's error then names the line of the query.
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"Shopify read failed: {cause}", token=None)
        self.cause = cause


def shopify_read_failure(error: BaseException) -> ShopifyReadError | None:
    """The Shopify read failure behind a render error, if that is what it was."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ShopifyReadError):
            return seen
        seen = seen.__cause__
    return None


class RenderLimitError(TaskRenderError):
    """A safety limit (time, output size, loop iterations, nesting) was exceeded."""


class OutputParseError(TaskRenderError):
    """The rendered text is not a whitespace-separated stream of known JSON objects."""


def _caret(line: int, col: int, current: str) -> str:
    gutter = f"{line} | "
    shown = current.rstrip("\r\n")
    # Long minified lines would drown the message; show a window around the column.
    if len(shown) > 120:
        start = max(0, col - 60)
        shown = shown[start : start + 120]
        col -= start
    return f"{gutter}{shown}\n{' ' * len(gutter)}{' ' * col}^"
