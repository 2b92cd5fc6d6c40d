"""What a task run rendered, in the one shape the shared partials draw (templates/partials/run_output.html).

Two sources fill it: a task run recorded in the ledger (its result objects and error text) on
the event detail, and a fresh `RenderResult` in the task editor's preview. Both pages then
show actions, logs, errors and permissions with the same markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ratchet.liquid.render import RenderResult

# TaskRenderError's text: "message (line L, column C)" then, on the next lines, the excerpt.
_POSITION = re.compile(r"^(?P<message>.*?) \(line (?P<line>\d+), column (?P<column>\d+)\)(?:\n(?P<excerpt>.*))?$", re.S)


@dataclass(frozen=True)
class RenderedAction:
    type: str
    options: Any
    meta: Any = None


@dataclass(frozen=True)
class RenderError:
    """A Liquid error with its position when known (1-based line and column)."""

    message: str
    line: int | None = None
    column: int | None = None
    excerpt: str | None = None

    @classmethod
    def parse(cls, text: str) -> RenderError:
        found = _POSITION.match(text)
        if found is None:
            return cls(text)
        return cls(found["message"], int(found["line"]), int(found["column"]), found["excerpt"])


@dataclass(frozen=True)
class RunOutput:
    actions: list[RenderedAction] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    render_error: RenderError | None = None

    @property
    def empty(self) -> bool:
        return not (self.actions or self.logs or self.errors or self.permissions or self.render_error)

    @classmethod
    def of_objects(cls, objects: Any, error: str | None = None) -> RunOutput:
        """From a task run's recorded result (`[{"action": …}, {"log": …}, {"error": …}]`) and error."""
        actions: list[RenderedAction] = []
        logs: list[Any] = []
        errors: list[Any] = []
        for item in objects if isinstance(objects, list) else []:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("action"), dict):
                action = item["action"]
                actions.append(RenderedAction(str(action.get("type")), action.get("options"), action.get("meta")))
            elif "log" in item:
                logs.append(item["log"])
            elif "error" in item:
                errors.append(item["error"])
        return cls(actions, logs, errors, [], RenderError.parse(error) if error else None)

    @classmethod
    def of_render(cls, rendered: RenderResult, error: str | None = None) -> RunOutput:
        """From a render done now (the task editor's preview); `error` is a render that raised."""
        return cls(
            [RenderedAction(a.type, a.options, a.meta) for a in rendered.actions],
            list(rendered.logs),
            list(rendered.errors),
            list(rendered.permissions),
            RenderError.parse(error) if error else None,
        )
