"""Mechanic task exports: parsing, options, subscriptions.

Parsing, option flags (validation and coercion), and rendering `subscriptions_template`
into subscriptions (spec 1.2, 1.3, 3).

    defn = parse_export(Path("task.json").read_bytes())
    defn = configure_options(defn, {"tag__required": "vip"})   # CLI strings are fine

A task whose required options are empty still imports; `missing_required_options`
names them so the caller can keep the task disabled until they are filled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ratchet.core.api_versions import UnknownApiVersion, check_api_version
from ratchet.core.clock import utcnow
from ratchet.core.subscriptions import SUBSCRIPTION_RE as SUBSCRIPTION
from ratchet.errors import InvalidInput
from ratchet.liquid.errors import TaskRenderError
from ratchet.liquid.render import parse_template, render_template

OPTION_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_OPTION_REF = re.compile(r"""options(?:\.([a-z][a-z0-9_]*)|\[\s*["']([a-z][a-z0-9_]*)["']\s*\])""")


class TaskImportError(InvalidInput):
    """An export or option value is invalid; `field` names the offending field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class OptionSpec:
    """What an option key's flags say about its value."""

    key: str
    # string | boolean | number | keyval | array | multiselect | picker | choice | date | datetime | time | color
    # | global | secret (the configured value names a shop global or secret; spec 1.3)
    kind: str
    required: bool = False
    userform: bool = False
    email: bool = False
    element: str = "string"  # element kind for array/keyval: string | number
    choices: tuple[str, ...] = ()
    picker_array: bool = False
    minimum: float | None = None
    maximum: float | None = None


# Flags that choose a value's kind, in precedence order: a structured input type wins over `global`
# and `secret` (https://learn.mechanic.dev/core/tasks/options).
_STRUCTURED_KINDS = ("keyval", "array", "picker", "boolean", "number", "datetime", "date", "time", "color")
_VALUE_KINDS = (*_STRUCTURED_KINDS, "global", "secret")


@lru_cache(maxsize=4096)
def option_spec(key: str) -> OptionSpec:
    """Read the flags of `<name>__<flags>[__<flags>…]` (spec 1.3).

    Choice values (`select_o1_a_b_o2_c`) run to the end of their `__` segment, or
    continue into following segments that start with `oN`; a trailing `_required`
    closes them.
    """
    segments = key.split("__")[1:]
    flags: set[str] = set()
    choices: list[str] = []
    choice_kind: str | None = None
    picker_array = False
    bounds: dict[str, float] = {}
    for segment in segments:
        tokens = [t for t in segment.split("_") if t]
        # `__multiselect__o1_a_o2_b`: the choices continue in the next segment.
        continuing = choice_kind is not None and bool(tokens) and re.fullmatch(r"o\d+", tokens[0])
        i = _read_choices(tokens, 0, choices, flags) if continuing else 0
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("select", "choice", "multiselect"):
                choice_kind = "multiselect" if tok == "multiselect" else "choice"
                i = _read_choices(tokens, i + 1, choices, flags)
                continue
            if tok == "picker":
                flags.add("picker")
                if i + 2 < len(tokens) and tokens[i + 2] == "array":
                    picker_array = True
                    i += 1
                i += 2
                continue
            if tok == "range":
                flags.add("number")
                i = _read_range(tokens, i + 1, bounds)
                continue
            flags.add(tok)
            i += 1
    return OptionSpec(
        key=key,
        kind=choice_kind or _option_kind(flags),
        required="required" in flags,
        userform="userform" in flags,
        email="email" in flags,
        element="number" if "number" in flags else "string",
        choices=tuple(choices),
        picker_array=picker_array,
        minimum=bounds.get("min"),
        maximum=bounds.get("max"),
    )


def _read_range(tokens: list[str], i: int, bounds: dict[str, float]) -> int:
    """Collect a range's `minN` / `maxN` (and skip `stepN`) from `tokens[i:]`; return the index after them."""
    while i < len(tokens) and (m := re.fullmatch(r"(min|max|step)(-?\d+)", tokens[i])):
        if m.group(1) != "step":
            bounds[m.group(1)] = float(m.group(2))
        i += 1
    return i


def _option_kind(flags: set[str]) -> str:
    """The kind of a non-choice option: its first kind flag in this order of precedence, else a string."""
    for candidate in _VALUE_KINDS:
        if candidate in flags:
            return candidate
    return "string"


def _read_choices(tokens: list[str], i: int, choices: list[str], flags: set[str]) -> int:
    """Collect `oN value…` choices from `tokens[i:]`; return the index after them."""
    end = len(tokens)
    while end > i and tokens[end - 1] in ("required", "userform"):
        end -= 1
        flags.add(tokens[end])
    current: list[str] | None = None
    for tok in tokens[i:end]:
        if re.fullmatch(r"o\d+", tok):
            if current:
                choices.append("_".join(current))
            current = []
        elif current is not None:
            current.append(tok)
    if current:
        choices.append("_".join(current))
    return len(tokens)


def _is_empty(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, (str, list, dict)) and not value)
        or (isinstance(value, str) and not value.strip())
    )


def _has_liquid(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _number(value: Any, field_name: str) -> int | float | None:
    if isinstance(value, bool):
        raise TaskImportError(field_name, f"expected a number, got {json.dumps(value)}")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                pass
    raise TaskImportError(field_name, f"expected a number, got {json.dumps(value)}")


def _string(value: Any, spec: OptionSpec, field_name: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TaskImportError(field_name, f"expected text, got {json.dumps(value)}")
    text = str(value)
    if spec.email and text.strip() and not _has_liquid(text):
        for address in (a.strip() for a in text.split(",")):
            if address and not EMAIL.match(address):
                raise TaskImportError(field_name, f"expected an email address, got {address!r}")
    return text


def _element(value: Any, spec: OptionSpec, field_name: str) -> Any:
    if spec.element == "number":
        return _number(value, field_name)
    return _string(value, spec, field_name)


def _structured(value: Any, expected: type, field_name: str) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{")):
            try:
                value = json.loads(text)
            except ValueError as err:
                raise TaskImportError(field_name, f"invalid JSON: {err}") from err
        elif expected is list:
            # CLI convenience: `--option tags__array=a,b` or one item per line.
            return [p.strip() for p in re.split(r"[\n,]", text) if p.strip()]
    if not isinstance(value, expected):
        name = "an array" if expected is list else "an object of key/value pairs"
        raise TaskImportError(field_name, f"expected {name}, got {json.dumps(value)}")
    return value


def _shop_value_name(value: Any, spec: OptionSpec, field_name: str) -> str:
    """A `global`/`secret` option holds the name of the shop value it selects."""
    if not isinstance(value, str) or not OPTION_KEY.match(value.strip()):
        raise TaskImportError(field_name, f"expected the name of a shop {spec.kind}, got {json.dumps(value)}")
    return value.strip()


_PATTERNS = {
    "date": (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "YYYY-MM-DD"),
    "datetime": (re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$"), "YYYY-MM-DDTHH:MM"),
    "time": (re.compile(r"^\d{2}:\d{2}$"), "HH:MM"),
    "color": (re.compile(r"^#[0-9A-Fa-f]{6}$"), "#RRGGBB"),
}


def coerce_option(key: str, value: Any) -> Any:
    """Validate and coerce one option value by its key's flags; empty values are nil."""
    spec = option_spec(key)
    field_name = f"options.{key}"
    if spec.kind == "secret" and spec.userform:
        # A run form would put the choice of secret in the hands of whoever runs the task.
        raise TaskImportError(field_name, "a secret option cannot be a userform option (globals-and-secrets.md)")
    if value is None or value == "":
        # Mechanic stores an empty field as nil: library tasks test `{% if options.x %}`.
        return None
    if _has_liquid(value) and spec.kind not in ("keyval", "array", "multiselect"):
        return value  # rendered per run (spec 1.3); validated after rendering by the task
    kind = spec.kind
    if kind in ("global", "secret"):
        return _shop_value_name(value, spec, field_name)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", ""):
            return False
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise TaskImportError(field_name, f"expected true or false, got {json.dumps(value)}")
    if kind == "number":
        number = _number(value, field_name)
        if number is not None and spec.minimum is not None and number < spec.minimum:
            raise TaskImportError(field_name, f"must be at least {spec.minimum:g}")
        if number is not None and spec.maximum is not None and number > spec.maximum:
            raise TaskImportError(field_name, f"must be at most {spec.maximum:g}")
        return number
    if kind == "keyval":
        if isinstance(value, str) and not value.strip():
            return None
        mapping = _structured(value, dict, field_name)
        return {str(k): _element(v, spec, f"{field_name}.{k}") for k, v in mapping.items()}
    if kind in ("array", "multiselect") or (kind == "picker" and spec.picker_array):
        if isinstance(value, str) and not value.strip():
            return None
        items = _structured(value, list, field_name)
        out = [_element(v, spec, f"{field_name}[{i}]") for i, v in enumerate(items)]
        if kind == "multiselect" and spec.choices:
            for item in out:
                if item not in spec.choices:
                    raise TaskImportError(field_name, f"{item!r} is not one of {', '.join(spec.choices)}")
        return out
    text = _string(value, spec, field_name)
    if text is not None and not text.strip() and kind != "string":
        return None
    if kind in _PATTERNS and text is not None:
        pattern, shape = _PATTERNS[kind]
        if not pattern.match(text):
            raise TaskImportError(field_name, f"expected {shape}, got {text!r}")
    return text


def coerce_options(options: dict[str, Any]) -> dict[str, Any]:
    return {key: coerce_option(key, value) for key, value in options.items()}


def missing_required(options: dict[str, Any]) -> list[str]:
    return [k for k, v in options.items() if option_spec(k).required and _is_empty(v)]


def render_subscriptions(template: str, options: dict, shop: dict | None = None) -> list[str]:
    """Render a subscriptions template into subscriptions.

    One subscription per non-blank trimmed line, identical lines kept once in first-seen order
    (spec 3.1, 3.3).
    """
    try:
        text = render_template(template, {"options": options, "shop": shop or {}})
    except TaskRenderError as err:
        raise TaskImportError("subscriptions_template", str(err)) from err
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line in lines:
            continue
        if not SUBSCRIPTION.match(line):
            raise TaskImportError(
                "subscriptions_template",
                f"rendered an invalid subscription {line!r} (expected topic or topic+N.unit)",
            )
        lines.append(line)
    return lines


@dataclass
class TaskDefinition:
    """A parsed, validated Mechanic export."""

    name: str
    script: str
    options: dict[str, Any]
    subscriptions_template: str
    subscriptions: list[str]
    exported_subscriptions: list[str]
    docs: str | None = None
    shopify_api_version: str | None = None
    perform_action_runs_in_sequence: bool = False
    halt_action_run_sequence_on_error: bool = False
    preview_event_definitions: list[dict] = field(default_factory=list)
    online_store_javascript: str | None = None
    order_status_javascript: str | None = None
    tags: list[str] = field(default_factory=list)
    missing_required_options: list[str] = field(default_factory=list)

    @property
    def subscriptions_stale(self) -> bool:
        """True when the export's list differs from the rendered template (as sets)."""
        return set(self.subscriptions) != set(self.exported_subscriptions)


def _field(
    data: dict[str, Any], name: str, types: type | tuple[type, ...], *, required: bool = False, default: Any = None
) -> Any:
    if name not in data or data[name] is None:
        if required:
            raise TaskImportError(name, "is required")
        return default
    value = data[name]
    if not isinstance(value, types) or (
        isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,))
    ):
        expected = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise TaskImportError(name, f"expected {expected}, got {type(value).__name__}")
    return value


def _preview_definitions(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TaskImportError("preview_event_definitions", "expected a list")
    for i, item in enumerate(value):
        where = f"preview_event_definitions[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("event_attributes"), dict):
            raise TaskImportError(where, "expected {description, event_attributes: {topic, data}}")
        topic = item["event_attributes"].get("topic")
        if not isinstance(topic, str) or not SUBSCRIPTION.match(topic) or "+" in topic:
            raise TaskImportError(f"{where}.event_attributes.topic", f"invalid topic {topic!r}")
    return value


def parse_export(data: dict | str | bytes) -> TaskDefinition:
    """Parse and validate a Mechanic task export; raise `TaskImportError` naming the field."""
    data = _json_object(data)
    name = _field(data, "name", str, required=True)
    if not name.strip():
        raise TaskImportError("name", "must not be empty")
    # The library schema requires a script (it may be empty, for storefront-JavaScript-only tasks).
    script = _field(data, "script", str, required=True)
    raw_options = _field(data, "options", dict, default={})
    for key in raw_options:
        if not OPTION_KEY.match(key):
            raise TaskImportError(f"options.{key}", "option keys must match ^[a-z][a-z0-9_]*$")
    options = coerce_options(raw_options)
    template, exported = _subscription_fields(data)
    api_version = _field(data, "shopify_api_version", str, default=None)
    if api_version is not None:
        try:
            check_api_version(api_version, today=utcnow().date())
        except UnknownApiVersion as exc:
            raise TaskImportError("shopify_api_version", exc.message) from exc
    tags = _field(data, "tags", list, default=[])
    if not all(isinstance(t, str) for t in tags):
        raise TaskImportError("tags", "expected a list of strings")
    for field_name, source in (("script", script), ("subscriptions_template", template)):
        try:
            parse_template(source)
        except TaskRenderError as err:
            raise TaskImportError(field_name, str(err)) from err

    return TaskDefinition(
        name=name,
        script=script,
        options=options,
        subscriptions_template=template,
        subscriptions=render_subscriptions(template, options),
        exported_subscriptions=[s.strip() for s in exported],
        docs=_field(data, "docs", str, default=None),
        shopify_api_version=api_version,
        perform_action_runs_in_sequence=_field(data, "perform_action_runs_in_sequence", bool, default=False),
        halt_action_run_sequence_on_error=_field(data, "halt_action_run_sequence_on_error", bool, default=False),
        preview_event_definitions=_preview_definitions(data.get("preview_event_definitions")),
        online_store_javascript=_field(data, "online_store_javascript", str, default=None),
        order_status_javascript=_field(data, "order_status_javascript", str, default=None),
        tags=tags,
        missing_required_options=missing_required(options),
    )


def _json_object(data: dict | str | bytes) -> dict:
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as err:
            raise TaskImportError("(file)", f"not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise TaskImportError("(file)", "expected a JSON object")
    return data


def _subscription_fields(data: dict) -> tuple[str, list[str]]:
    """The export's subscriptions template and its exported subscriptions, validated."""
    template = _field(data, "subscriptions_template", str, default=None)
    exported = _field(data, "subscriptions", list, default=[])
    for i, line in enumerate(exported):
        if not isinstance(line, str) or not SUBSCRIPTION.match(line.strip()):
            raise TaskImportError(f"subscriptions[{i}]", f"invalid subscription {line!r}")
    if template is None:
        # Older exports carry only the list; it is then its own template.
        template = "\n".join(exported)
    return template, exported


def export_definition(defn: TaskDefinition) -> dict[str, Any]:
    """The Mechanic export of a definition: what `parse_export` reads back into the same task.

    Fields in the library's order; `shopify_api_version` only when the task names one (Mechanic's
    library exports never carry it).
    """
    exported: dict[str, Any] = {
        "name": defn.name,
        "docs": defn.docs or "",
        "halt_action_run_sequence_on_error": defn.halt_action_run_sequence_on_error,
        "online_store_javascript": defn.online_store_javascript,
        "options": dict(defn.options),
        "order_status_javascript": defn.order_status_javascript,
        "perform_action_runs_in_sequence": defn.perform_action_runs_in_sequence,
        "preview_event_definitions": list(defn.preview_event_definitions),
        "script": defn.script,
        "subscriptions": list(defn.subscriptions),
        "subscriptions_template": defn.subscriptions_template,
        "tags": list(defn.tags),
    }
    if defn.shopify_api_version is not None:
        exported["shopify_api_version"] = defn.shopify_api_version
    return exported


def referenced_options(script: str) -> list[str]:
    """Option keys the script reads, in order of first reference (spec 1.3)."""
    seen: dict[str, None] = {}
    for m in _OPTION_REF.finditer(script):
        seen.setdefault(m.group(1) or m.group(2), None)
    return list(seen)


def configure_options(defn: TaskDefinition, updates: dict[str, Any]) -> TaskDefinition:
    """Set option values (validated and coerced) and re-render the subscriptions."""
    known = set(defn.options) | set(referenced_options(defn.script))
    options = dict(defn.options)
    for key, value in updates.items():
        if not OPTION_KEY.match(key):
            raise TaskImportError(f"options.{key}", "option keys must match ^[a-z][a-z0-9_]*$")
        if key not in known:
            raise TaskImportError(f"options.{key}", "unknown option (not used by this task)")
        options[key] = coerce_option(key, value)
    return replace(
        defn,
        options=options,
        subscriptions=render_subscriptions(defn.subscriptions_template, options),
        missing_required_options=missing_required(options),
    )


def keep_user_options(defn: TaskDefinition, previous: dict[str, Any]) -> tuple[TaskDefinition, list[str]]:
    """Re-import over an existing task: the user's values win for options both versions have.

    Returns the definition with those values (subscriptions re-rendered with them) and one
    line per option-level change the user should know about. An option key carries its
    flags, so a kept value was validated against the same kind of option.
    """
    kept = {key: value for key, value in previous.items() if key in defn.options}
    changes: list[str] = []
    if added := [key for key in defn.options if key not in previous]:
        changes.append("new options: " + ", ".join(added))
    if removed := [key for key in previous if key not in defn.options]:
        changes.append("removed options: " + ", ".join(removed))
    if differing := [key for key, value in kept.items() if value != defn.options[key]]:
        changes.append("kept your values (the export's differ) for: " + ", ".join(differing))
    return configure_options(defn, kept), changes
