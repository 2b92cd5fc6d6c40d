"""Unsaved task edits: what the task page's forms hold, made into a definition for preview or save.

One path for both: the preview renders exactly what saving would store. A draft names only what
it changes; everything else is the task's. The options are the keys the script and the
subscriptions template read (order of first reference, as Mechanic's form lists them) followed
by the task's other keys, never dropped, so editing the code loses no configured value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ratchet.core.task_export import (
    TaskDefinition,
    TaskImportError,
    coerce_option,
    export_definition,
    parse_export,
    referenced_options,
)
from ratchet.errors import InvalidInput


@dataclass(frozen=True)
class TaskDraft:
    """Edits to a task; None leaves the field as it is."""

    name: str | None = None
    script: str | None = None
    subscriptions_template: str | None = None
    #: Option values as entered (form text is coerced by each key's flags); keys not given keep theirs.
    options: dict[str, Any] = field(default_factory=dict)
    docs: str | None = None
    shopify_api_version: str | None = None
    perform_action_runs_in_sequence: bool | None = None
    halt_action_run_sequence_on_error: bool | None = None
    tags: list[str] | None = None


@dataclass
class DraftOptions:
    """The draft's options, coerced; `errors` has one line per value its flags refuse (kept as entered)."""

    values: dict[str, Any]
    errors: dict[str, str]


def draft_option_keys(script: str, subscriptions_template: str, current: dict[str, Any]) -> list[str]:
    """The options a task with this code has, in the order its form lists them."""
    keys = dict.fromkeys(referenced_options(script))
    keys.update(dict.fromkeys(referenced_options(subscriptions_template)))
    keys.update(dict.fromkeys(current))
    return list(keys)


def draft_options(current: dict[str, Any], draft: TaskDraft, script: str, template: str) -> DraftOptions:
    """Every option of the drafted code with its drafted (else current) value, each coerced on its own."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in draft_option_keys(script, template, current):
        if key not in draft.options:
            values[key] = current.get(key)
            continue
        try:
            values[key] = coerce_option(key, draft.options[key])
        except TaskImportError as exc:
            values[key] = current.get(key)
            errors[key] = exc.message
    return DraftOptions(values, errors)


def drafted_export(current: TaskDefinition, draft: TaskDraft) -> dict[str, Any]:
    """The current definition's export with the draft applied (options coerced where valid)."""
    exported = export_definition(current)
    for name in (
        "name",
        "script",
        "subscriptions_template",
        "docs",
        "shopify_api_version",
        "perform_action_runs_in_sequence",
        "halt_action_run_sequence_on_error",
        "tags",
    ):
        value = getattr(draft, name)
        if value is not None:
            exported[name] = value
    options = draft_options(current.options, draft, exported["script"], exported["subscriptions_template"])
    exported["options"] = options.values
    return exported


def draft_definition(current: TaskDefinition, draft: TaskDraft) -> TaskDefinition:
    """The definition saving this draft stores, validated as an import is (InvalidInput names the field)."""
    errors = draft_options(
        current.options,
        draft,
        draft.script if draft.script is not None else current.script,
        draft.subscriptions_template if draft.subscriptions_template is not None else current.subscriptions_template,
    ).errors
    if errors:
        key, message = next(iter(errors.items()))
        raise InvalidInput(f"options.{key}: {message}")
    try:
        return parse_export(drafted_export(current, draft))
    except TaskImportError as exc:
        raise InvalidInput(str(exc)) from exc
