"""`ratchet task check FILE.json… [--json]`: offline validation of Mechanic exports.

For each file: parse and validate the export, render `subscriptions_template` and
compare it with the exported `subscriptions` (as sets), then render one preview per
preview event — the export's `preview_event_definitions`, plus a synthesized event
from `ratchet.core.samples` for every subscribed topic without a definition.

A file FAILS when it does not parse or a preview render raises a Liquid/output
error. Stale exported subscriptions, empty required options and error objects
emitted by a preview are reported as warnings only: Mechanic itself re-renders
subscriptions on save, and library tasks deliberately ship with empty required
options (previews substitute placeholder values for them, see
`placeholder_option`, since the task cannot be enabled until they are set).

Warnings carry a stable `code`: `stale_subscriptions`, `required_options_empty`,
`preview_error_object`, plus the compatibility codes of `ratchet.services.compatibility`
(features that will not work on this installation). `--strict` fails on the compatibility
warnings that say a feature will not work here (`STRICT_CODES`); the others describe the export
itself, and Mechanic's own library ships every task with some of them (empty required options,
guard error objects in previews).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC
from ratchet.core.samples import sample_event, sample_shop
from ratchet.core.task_export import TaskDefinition, TaskImportError, option_spec, parse_export
from ratchet.liquid import RenderRequest, RenderResult, TaskRenderError, render_task
from ratchet.services.compatibility import (
    FILE_GENERATOR,
    STOREFRONT_JAVASCRIPT,
    UNPRODUCED_TOPIC,
    UNSUPPORTED_ACTION,
    CompatibilityWarning,
    action_warnings,
    static_warnings,
    unique,
)
from ratchet.shopify.bulk_results import InMemoryResults

# What --strict fails on: features that will not work here. `bulk_operation` stays a warning: a
# task may collect bulk results another way, so half a bulk operation is not proof it cannot work.
STRICT_CODES = frozenset({UNSUPPORTED_ACTION, FILE_GENERATOR, STOREFRONT_JAVASCRIPT, UNPRODUCED_TOPIC})

PREVIEW_TASK_ID = "00000000-0000-4000-8000-0000000000aa"


@dataclass
class CheckReport:
    """What `ratchet task check` found in one export."""

    file: str
    parsed: bool = False
    subscriptions: list[str] = field(default_factory=list)
    subscriptions_match: bool = False
    previews: int = 0
    previews_ok: int = 0
    action_types: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """The export did not parse, or a preview render failed."""
        return not self.parsed or self.previews_ok < self.previews

    @property
    def incompatible(self) -> bool:
        """Whether a warning says part of the task will not work on this installation."""
        return any(warning["code"] in STRICT_CODES for warning in self.warnings)

    def warn(self, code: str, subject: str, message: str) -> None:
        """Record a warning (see `CompatibilityWarning`)."""
        self.warnings.append(CompatibilityWarning(code, subject, message).to_dict())


def preview_events(defn: TaskDefinition) -> list[tuple[str, dict[str, Any]]]:
    """(description, event) pairs to preview, definitions first (spec 6.5)."""
    events: list[tuple[str, dict[str, Any]]] = []
    defined: set[str] = set()
    for definition in defn.preview_event_definitions:
        attrs = definition["event_attributes"]
        event = sample_event(attrs["topic"])
        event["data"] = attrs.get("data")
        defined.add(attrs["topic"])
        events.append((str(definition.get("description") or attrs["topic"]), event))
    for line in defn.subscriptions:
        topic = line.split("+", 1)[0]
        if topic not in defined:
            defined.add(topic)
            events.append((f"{topic} (sample)", sample_event(topic)))
    for _, event in events:
        data = event["data"]
        if event["topic"] == BULK_OPERATION_TOPIC and isinstance(data, dict):
            # As in a live run, `object.__parent` resolves `__parentId` among the objects.
            event["data"] = {**data, "objects": InMemoryResults(list(data.get("objects") or [])).objects}
    return events


def placeholder_option(key: str) -> Any:
    """A stand-in for an empty required option, shaped by its flags.

    Library exports leave required options empty; such a task cannot run until they
    are configured, so previews exercise its code with plausible values instead of
    failing on the missing input. Numeric-looking strings keep JSON that task code
    builds from them (`"id": {{ option.first.first }}`) valid.
    """
    spec = option_spec(key)
    if spec.kind == "boolean":
        return True
    if spec.kind == "number":
        return spec.minimum if spec.minimum is not None else 1
    element: Any = 1 if spec.element == "number" else ("preview@example.com" if spec.email else "1234567890")
    if spec.kind == "keyval":
        return {"1234567890": element}
    if spec.kind in ("array", "multiselect") or spec.picker_array:
        return [spec.choices[0] if spec.choices else element]
    if spec.kind == "picker":
        return "gid://shopify/Product/1234567890"
    if spec.kind == "choice" and spec.choices:
        return spec.choices[0]
    if spec.email:
        return "preview@example.com"
    return {"date": "2024-01-10", "datetime": "2024-01-10T09:00", "time": "09:00", "color": "#000000"}.get(
        spec.kind, "example"
    )


def preview_options(defn: TaskDefinition) -> dict[str, Any]:
    options = dict(defn.options)
    for key in defn.missing_required_options:
        options[key] = placeholder_option(key)
    return options


def preview_request(
    defn: TaskDefinition, event: dict[str, Any], *, shop: dict[str, Any] | None = None, task_id: str = PREVIEW_TASK_ID
) -> RenderRequest:
    """A preview render of the definition for `event`: no cache, no Shopify (spec 6.5).

    Args:
        defn: the task definition to render.
        event: the Liquid `event` object to render it for.
        shop: the Liquid `shop` object; the platform sample when None (an export checked offline).
        task_id: the installed task's id when previewing one.
    """
    shop = shop if shop is not None else sample_shop()
    options = preview_options(defn)
    return RenderRequest(
        script=defn.script,
        options=options,
        event=event,
        task={
            "id": task_id,
            "name": defn.name,
            "options": options,
            "subscriptions": defn.subscriptions,
            "subscriptions_template": defn.subscriptions_template,
            "shopify_api_version": defn.shopify_api_version,
        },
        shop=shop,
        cache=None,
        shopify=None,
        timezone=shop.get("iana_timezone") or "UTC",
        preview=True,
    )


def run_previews(defn: TaskDefinition) -> list[tuple[str, dict[str, Any], RenderResult | TaskRenderError]]:
    """(description, event, result or the render's error) for each preview event."""
    outcomes: list[tuple[str, dict[str, Any], RenderResult | TaskRenderError]] = []
    for description, event in preview_events(defn):
        try:
            outcomes.append((description, event, render_task(preview_request(defn, event))))
        except TaskRenderError as err:
            outcomes.append((description, event, err))
    return outcomes


def compatibility_warnings(defn: TaskDefinition, pdf_browser: Path | None = None) -> list[CompatibilityWarning]:
    """What will not work on this installation (whose RATCHET_PDF_BROWSER is `pdf_browser`), from the task's text and its preview renders."""
    emitted = [
        warning
        for _, _, outcome in run_previews(defn)
        if not isinstance(outcome, TaskRenderError)
        for warning in action_warnings(outcome.actions, pdf_browser)
    ]
    return unique(emitted + static_warnings(defn))


def check_file(path: Path, pdf_browser: Path | None = None) -> CheckReport:
    report = CheckReport(file=str(path))
    try:
        defn = parse_export(path.read_bytes())
    except OSError as err:
        report.errors.append({"stage": "read", "message": str(err)})
        return report
    except TaskImportError as err:
        report.errors.append({"stage": "parse", "field": err.field, "message": str(err)})
        return report
    report.parsed = True
    report.subscriptions = defn.subscriptions
    report.subscriptions_match = set(defn.subscriptions) == set(defn.exported_subscriptions)
    if not report.subscriptions_match:
        report.warn(
            "stale_subscriptions",
            "subscriptions",
            "exported subscriptions are stale: "
            f"export has {sorted(set(defn.exported_subscriptions))}, template renders {sorted(set(defn.subscriptions))}",
        )
    if defn.missing_required_options:
        report.warn(
            "required_options_empty",
            "options",
            "required options are empty (previews use placeholder values): " + ", ".join(defn.missing_required_options),
        )

    action_types: set[str] = set()
    compatibility: list[CompatibilityWarning] = []
    for description, event, outcome in run_previews(defn):
        report.previews += 1
        if isinstance(outcome, TaskRenderError):
            report.errors.append(
                {"stage": "preview", "preview": description, "topic": event["topic"], **outcome.to_dict()}
            )
            continue
        report.previews_ok += 1
        action_types.update(a.type for a in outcome.actions)
        compatibility += action_warnings(outcome.actions, pdf_browser)
        for value in outcome.errors:
            report.warn(
                "preview_error_object",
                description,
                f"preview {description!r} emitted an error object: {json.dumps(value)[:200]}",
            )
    report.action_types = sorted(action_types)
    # Preview findings first: they name the file or action involved, the static ones only the kind.
    report.warnings += [w.to_dict() for w in unique(compatibility + static_warnings(defn))]
    return report


def run_check(files: list[Path], as_json: bool, strict: bool = False, pdf_browser: Path | None = None) -> int:
    """Check every file; print a report to stdout; return the process exit code.

    Args:
        files: Mechanic task exports (JSON).
        as_json: Print one JSON report instead of the human-readable one.
        strict: Fail on warnings that a feature will not work here (STRICT_CODES) too, not only when
            a file does not parse or a preview fails.
        pdf_browser: RATCHET_PDF_BROWSER, which decides whether a PDF's scripts can run here.
    """
    from rich.console import Console
    from rich.progress import Progress

    reports: list[CheckReport] = []
    progress_console = Console(stderr=True)
    # A bar helps a person waiting at a terminal; piped into CI logs it is only noise.
    if len(files) > 5 and progress_console.is_terminal:
        with Progress(console=progress_console, transient=True) as progress:
            bar = progress.add_task("checking tasks", total=len(files))
            for path in files:
                reports.append(check_file(path, pdf_browser))
                progress.advance(bar)
    else:
        reports = [check_file(path, pdf_browser) for path in files]

    if as_json:
        out = []
        for r in reports:
            data = asdict(r)
            out.append(data)
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(reports)
    return 1 if any(r.failed or (strict and r.incompatible) for r in reports) else 0


def _print_text(reports: list[CheckReport]) -> None:
    for r in reports:
        status = "FAIL" if r.failed else "ok"
        subs = "subscriptions match" if r.subscriptions_match else "subscriptions STALE"
        print(
            f"{status:4} {r.file}: previews {r.previews_ok}/{r.previews}, {subs}"
            + (f", actions: {', '.join(r.action_types)}" if r.action_types else "")
        )
        for err in r.errors:
            where = f" (line {err['line']}, column {err['column']})" if err.get("line") else ""
            context = f" [{err['preview']}]" if err.get("preview") else ""
            print(f"     error{context}: {err['message']}{where}")
        for warning in r.warnings:
            print(f"     warning [{warning['code']}]: {warning['message']}")
    failed = sum(r.failed for r in reports)
    print(f"{len(reports) - failed}/{len(reports)} task(s) passed")
