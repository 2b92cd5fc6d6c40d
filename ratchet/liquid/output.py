"""Parse a task's rendered text into action, log and error objects (spec 6.2).

The text is a whitespace-separated stream of JSON objects, each exactly one of
`{"action": {...}}`, `{"log": ...}` or `{"error": ...}`. Tags produce them, but task
code may also write them directly, so the parser treats every source alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import OutputParseError

_WS = re.compile(r"\s*")
_DECODER = json.JSONDecoder()
_KINDS = ("action", "log", "error")
# Keys Mechanic reads from an action object; `perform_event` is how our tags carry
# `__perform_event: false` when the options are not a hash.
_ACTION_KEYS = frozenset({"type", "options", "meta", "perform_event"})


@dataclass
class ActionObject:
    type: str
    options: Any
    meta: Any = None
    perform_event: bool = True


@dataclass
class ParsedOutput:
    actions: list[ActionObject] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)


def parse_output(text: str) -> ParsedOutput:
    """Split rendered text into objects; anything else is an `OutputParseError`."""
    out = ParsedOutput()
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]  # \s* matches everywhere
    end = len(text)
    while pos < end:
        if text[pos] != "{":
            raise OutputParseError.at(
                f"unexpected output {_snippet(text, pos)}: task output must be JSON objects",
                text,
                pos,
            )
        try:
            obj, next_pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise OutputParseError.at(f"invalid JSON in task output: {err.msg}", text, err.pos) from err
        _add(out, obj, text, pos)
        pos = _WS.match(text, next_pos).end()  # type: ignore[union-attr]  # \s* matches everywhere
    return out


def _add(out: ParsedOutput, obj: Any, text: str, pos: int) -> None:
    if not isinstance(obj, dict) or len(obj) != 1 or next(iter(obj)) not in _KINDS:
        keys = ", ".join(map(repr, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise OutputParseError.at(
            f"unknown object in task output ({keys}): expected one of "
            '{"action": ...}, {"log": ...}, {"error": ...}',
            text,
            pos,
        )
    kind, value = next(iter(obj.items()))
    if kind == "action":
        action = _action(value, text, pos)
        out.actions.append(action)
        out.objects.append({"action": {"type": action.type, "options": action.options, "meta": action.meta}})
    elif kind == "log":
        out.logs.append(value)
        out.objects.append(obj)
    else:
        out.errors.append(value)
        out.objects.append(obj)


def _action(value: Any, text: str, pos: int) -> ActionObject:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str) or not value["type"]:
        raise OutputParseError.at('action object needs a string "type"', text, pos)
    unknown = set(value) - _ACTION_KEYS
    if unknown:
        raise OutputParseError.at(f"unknown key(s) in action object: {', '.join(sorted(unknown))}", text, pos)
    options = value.get("options")
    meta = value.get("meta")
    perform_event = value.get("perform_event", True) is not False
    if isinstance(options, dict) and ("__perform_event" in options or "__meta" in options):
        # Control parameters steer the run, they are not action options (spec 6.3);
        # type-specific keys such as echo's `__error` stay.
        options = dict(options)
        if options.pop("__perform_event", True) is False:
            perform_event = False
        if "__meta" in options:
            meta = options.pop("__meta")
    return ActionObject(type=value["type"], options=options, meta=meta, perform_event=perform_event)


def _snippet(text: str, pos: int) -> str:
    chunk = text[pos : pos + 40].split("\n", 1)[0]
    return repr(chunk + ("…" if len(text) - pos > len(chunk) else ""))
