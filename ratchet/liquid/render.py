"""Public entry point: render a task's script for one event (spec 6).

    result = render_task(RenderRequest(script=..., options=..., event=..., task=..., shop=...))

Option values are Liquid too: they are rendered first, against the same variables
minus `options` (spec 1.3). Parses are cached by source text, so repeated runs of
one task version only pay for rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from liquid.exceptions import LiquidError

from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC

from . import limits
from .environment import CharLimitedStringIO, MechanicContext, MechanicEnvironment, MechanicTemplate
from .errors import ShopifyReadError, TaskRenderError
from .output import ActionObject, parse_output
from .rest_lookups import RestSource, Shop, wrap_subject
from .subjects import subject_variable
from .tags.permissions import PermissionsNode

__all__ = [
    "ActionObject",
    "RenderRequest",
    "RenderResult",
    "TaskRenderError",
    "parse_template",
    "render_task",
    "render_template",
]

ENV = MechanicEnvironment()


@dataclass
class RenderRequest:
    script: str
    options: dict[str, Any]
    event: dict[str, Any]
    task: dict[str, Any]
    shop: dict[str, Any]
    cache: Mapping[str, Any] | None = None
    shopify: Callable[[str, dict | None], dict] | None = None
    timezone: str = "UTC"
    preview: bool = False
    # The shop's globals (name → JSON value) and secrets (name → opaque reference, never a value).
    globals: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RenderResult:
    actions: list[ActionObject]
    logs: list[Any]
    errors: list[Any]
    objects: list[dict] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedScript:
    template: MechanicTemplate
    permissions: tuple[str, ...]


@lru_cache(maxsize=1024)
def parse_template(source: str) -> ParsedScript:
    """Parse (cached by text) or raise `TaskRenderError` with the error position."""
    try:
        template = ENV.from_string(source)
        assert isinstance(template, MechanicTemplate)  # the environment's template_class
    except LiquidError as err:
        raise TaskRenderError.from_liquid(err, "Liquid syntax error: ") from err
    blocks = [n for n in _walk(template.nodes) if isinstance(n, PermissionsNode)]
    if len(blocks) > 1:
        raise TaskRenderError.from_liquid(
            LiquidError("only one permissions block is allowed", token=blocks[1].token),
            "Liquid syntax error: ",
        )
    return ParsedScript(template, tuple(blocks[0].scopes) if blocks else ())


def _walk(nodes: list[Any]) -> Iterator[Any]:
    for node in nodes:
        yield node
        for attr in ("block", "consequence", "alternative", "default"):
            child = getattr(node, attr, None)
            if child is not None and hasattr(child, "nodes"):
                yield from _walk(child.nodes)
        for attr in ("conditional_alternatives", "blocks", "whens"):
            for child in getattr(node, attr, None) or []:
                inner = getattr(child, "block", child)
                if hasattr(inner, "nodes"):
                    yield from _walk(inner.nodes)
        if hasattr(node, "nodes") and isinstance(node.nodes, list):
            yield from _walk(node.nodes)


def render_template(
    source: str,
    variables: Mapping[str, Any],
    *,
    state: dict[str, Any] | None = None,
) -> str:
    """Render any Mechanic Liquid text (options, subscriptions) to a string."""
    template = parse_template(source).template
    context = MechanicContext(template, globals=dict(variables))
    context.render_state.update(state or {})
    buffer = CharLimitedStringIO(ENV.output_stream_limit or 0)
    try:
        template.render_with_context(context, buffer)
    except ShopifyReadError as err:
        raise TaskRenderError.from_liquid(err) from err
    except LiquidError as err:
        raise TaskRenderError.from_liquid(err, "Liquid error: ") from err
    return buffer.getvalue()


def build_variables(req: RenderRequest) -> dict[str, Any]:
    """The Liquid environment of spec 6.1, without `options`."""
    event = dict(req.event)
    if req.preview:
        event["preview"] = True
    else:
        # `preview` is absent on live events, never false (spec 1.4).
        event.pop("preview", None)
    # REST lookups read only live: previews never touch the shop (spec 6.5).
    rest = RestSource(None if req.preview else getattr(req.shopify, "rest_get", None))
    variables: dict[str, Any] = {
        "event": event,
        "shop": Shop(req.shop, rest),
        "task": req.task,
        # Preview has no cache: every read is nil. Live renders read entries as they use them,
        # so a render costs the same however many entries the shop has.
        "cache": req.cache if (req.cache is not None and not req.preview) else {},
        "globals": dict(req.globals),
        "secrets": dict(req.secrets),
    }
    subject = subject_variable(str(event.get("topic") or ""), event.get("shopify_topic"))
    if subject is not None:
        variables[subject] = wrap_subject(subject, event.get("data"), rest)
    return variables


def render_options(req: RenderRequest, variables: Mapping[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    from ratchet.core.task_export import option_spec

    rendered: dict[str, Any] = {}
    for key, value in req.options.items():
        kind = option_spec(key).kind if "__" in key else "string"
        if kind in ("global", "secret"):
            # The option names a shop value; the task sees the global's value or the secret's reference.
            chosen = req.globals if kind == "global" else req.secrets
            rendered[key] = chosen.get(value) if isinstance(value, str) else None
        elif isinstance(value, str) and ("{{" in value or "{%" in value):
            try:
                rendered[key] = render_template(value, variables, state=state)
            except TaskRenderError as err:
                raise TaskRenderError(
                    f"option {key}: {err.message}", line=err.line, column=err.column, excerpt=err.excerpt
                ) from err
        else:
            rendered[key] = value
    return rendered


def render_task(req: RenderRequest) -> RenderResult:
    """Render a task script for one event and parse its output objects."""
    bulk = req.event.get("topic") == BULK_OPERATION_TOPIC
    budget = limits.BULK_RENDER_MEMORY_LIMIT_CHARS if bulk else limits.RENDER_MEMORY_LIMIT_CHARS
    token = limits.memory_limit.set(budget)
    try:
        return _render_task(req)
    finally:
        limits.memory_limit.reset(token)


def _render_task(req: RenderRequest) -> RenderResult:
    parsed = parse_template(req.script)
    variables = build_variables(req)
    state: dict[str, Any] = {"preview": req.preview, "shopify": req.shopify, "timezone": req.timezone}
    variables["options"] = render_options(req, variables, state)
    text = render_template(req.script, variables, state=state)
    out = parse_output(text)
    return RenderResult(
        actions=out.actions,
        logs=out.logs,
        errors=out.errors,
        objects=out.objects,
        permissions=list(parsed.permissions),
    )
