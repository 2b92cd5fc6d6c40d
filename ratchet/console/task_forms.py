"""The task page's forms, both ways: option controls from the option flags, and submitted forms as drafts.

Mechanic draws one native control per option flag (checkbox, number, select, textarea for lists
and key/value pairs, date/time/colour pickers; https://learn.mechanic.dev/core/tasks/options).
A browser leaves an unchecked checkbox out of the form, so every checkbox follows a hidden
`false` field of the same name and the last value sent wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from starlette.datastructures import FormData

from ratchet.core.task_export import OptionSpec, option_spec
from ratchet.services.preview import PreviewSource
from ratchet.services.task_drafts import TaskDraft, draft_option_keys

OPTION_FIELD = "option."
# HTML off: task docs are Markdown from exports, and raw HTML in them is shown as text.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def docs_html(docs: str | None) -> str:
    """A task's docs as HTML, with any HTML inside them escaped."""
    return _MARKDOWN.render(docs or "")


@dataclass(frozen=True)
class OptionField:
    """One option's control: which input, its label, and its value as the form shows it."""

    key: str
    label: str
    spec: OptionSpec
    control: str  # checkbox | number | select | multiselect | textarea | date | datetime-local | time | color | text
    text: str
    values: tuple[str, ...]
    error: str | None

    @property
    def field_name(self) -> str:
        return OPTION_FIELD + self.key

    @property
    def field_id(self) -> str:
        return "opt-" + self.key


_CONTROLS = {
    "boolean": "checkbox",
    "number": "number",
    "choice": "select",
    "multiselect": "multiselect",
    "keyval": "textarea",
    "array": "textarea",
    "date": "date",
    "datetime": "datetime-local",
    "time": "time",
    "color": "color",
}


def _text(spec: OptionSpec, value: Any) -> str:
    if value is None:
        return ""
    if spec.kind == "keyval" and isinstance(value, dict):
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def option_fields(
    options: dict[str, Any],
    errors: dict[str, str],
    entered: dict[str, Any] | None = None,
    keys: list[str] | None = None,
) -> list[OptionField]:
    """The controls of these options, in `keys` order when given.

    A value in `entered` (what the user typed, perhaps refused by the flags) is shown over the saved one.
    """
    fields = []
    for key in keys if keys is not None else list(options):
        spec = option_spec(key)
        value = (entered or {}).get(key, options.get(key))
        control = _CONTROLS.get(spec.kind, "text")
        if control == "text" and (spec.picker_array or (isinstance(value, str) and "\n" in value)):
            control = "textarea"
        values = tuple(str(v) for v in value) if isinstance(value, list) else ((str(value),) if value else ())
        fields.append(
            OptionField(
                key=key,
                label=key.split("__", 1)[0].replace("_", " ").capitalize(),
                spec=spec,
                control=control,
                text=_text(spec, value),
                values=values,
                error=errors.get(key),
            )
        )
    return fields


def _last(form: FormData, name: str) -> str | None:
    values = form.getlist(name)
    return str(values[-1]) if values else None


def submitted_options(form: FormData) -> dict[str, Any]:
    """The option values a form sent, by key: text as typed, multiselects as lists, checkboxes true/false."""
    options: dict[str, Any] = {}
    for name in dict.fromkeys(form.keys()):
        if not name.startswith(OPTION_FIELD):
            continue
        key = name[len(OPTION_FIELD) :]
        if option_spec(key).kind == "multiselect":
            options[key] = [str(v) for v in form.getlist(name) if v != ""]
        else:
            options[key] = _last(form, name)
    return options


def draft_of(form: FormData) -> TaskDraft:
    """A task draft from the editor's form: the options always, code and runtime only in Advanced mode."""
    options = submitted_options(form)
    if form.get("mode") != "advanced":
        return TaskDraft(options=options)
    api_version = (_last(form, "shopify_api_version") or "").strip()
    return TaskDraft(
        name=_last(form, "name"),
        script=_text_field(form, "script"),
        subscriptions_template=_text_field(form, "subscriptions_template"),
        docs=_text_field(form, "docs"),
        options=options,
        shopify_api_version=api_version or None,
        perform_action_runs_in_sequence=_last(form, "perform_action_runs_in_sequence") == "true",
        halt_action_run_sequence_on_error=_last(form, "halt_action_run_sequence_on_error") == "true",
    )


def _text_field(form: FormData, name: str) -> str | None:
    value = _last(form, name)
    # Browsers send textarea lines with CRLF; task code is stored with LF as exports carry it.
    return value.replace("\r\n", "\n") if value is not None else None


def draft_keys(current: dict[str, Any], draft: TaskDraft, script: str, template: str) -> list[str]:
    """The options the drafted code has, for the form (new references appear as fields)."""
    return draft_option_keys(
        draft.script if draft.script is not None else script,
        draft.subscriptions_template if draft.subscriptions_template is not None else template,
        current,
    )


def preview_source(value: str | None) -> PreviewSource:
    """The preview picker's value: `preview`, `sample:<topic>` or `event:<id>`."""
    kind, _, rest = (value or "preview").partition(":")
    if kind == "sample" and rest:
        return PreviewSource(kind="sample", topic=rest)
    if kind == "event" and rest:
        return PreviewSource(kind="event", event_id=rest)
    return PreviewSource()
