"""What in a Mechanic task will not work on this installation, per task and with the reason.

`ratchet task check` and `ratchet task import` report these as warnings; each kind has a
stable `code` that `--json` output carries and `--strict` turns into a failing exit:

| code                    | meaning                                                                  |
|-------------------------|--------------------------------------------------------------------------|
| `unsupported_action`    | an action type Ratchet does not implement (`files`, `ftp`, `slack`, …)   |
| `file_generator`        | a file generator that cannot run as written (a Pdfcrowd option or a script WeasyPrint lacks) |
| `storefront_javascript` | `online_store_javascript` / `order_status_javascript` is never served    |
| `unproduced_topic`      | a subscription to a topic nothing on this installation produces          |
| `bulk_operation`        | half a bulk operation: results nobody subscribes to, or a subscription nothing starts |

Detection is both static (the script's text, subscriptions, the export's fields), so branches a
preview does not take are still seen, and dynamic (the actions that preview renders emit), so
types and generators computed at render time are seen too. Duplicates are reported once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.actions.base import UNSUPPORTED_TYPES, registered_types
from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC, script_starts_bulk_operation
from ratchet.core.subscriptions import BUTTON_TOPICS, ERROR_TOPICS, RESOURCE_TOPICS
from ratchet.core.task_export import TaskDefinition
from ratchet.engine.schedules import SCHEDULER_TOPICS
from ratchet.files import FileOptionsError, parse_files, scripted_pdfs
from ratchet.liquid.output import ActionObject
from ratchet.shopify.webhook_topics import SHOPIFY_WEBHOOK_TOPICS

UNSUPPORTED_ACTION = "unsupported_action"
FILE_GENERATOR = "file_generator"
STOREFRONT_JAVASCRIPT = "storefront_javascript"
UNPRODUCED_TOPIC = "unproduced_topic"
BULK_OPERATION = "bulk_operation"

# `{% action "type" … %}` and the `{% liquid %}` line form `action "type" …`.
_ACTION_TAG_TYPE = re.compile(r"""\baction\s+["']([a-z0-9_]+)["']""")
# The untyped block form `{"type": "ftp", "options": …}`; only names Mechanic documents as
# action types are taken from it, since "type" is a common key in GraphQL and JSON bodies.
_ACTION_JSON_TYPE = re.compile(r""""type"\s*:\s*"([a-z0-9_]+)\"""")
# Where each action type takes files: option name → file generators (spec 7.7).
_FILE_OPTIONS = {"email": "attachments", "files": None, "ftp": "uploads", "http": "files", "google_drive": "uploads"}


# Why a documented action type stays unsupported, when the reason is not just "not yet".
UNSUPPORTED_REASONS = {
    # Mechanic documents only the action's options; the requests it sends to Report Toaster
    # (Cloudlab) are a private partner integration with no public API to implement against.
    "report_toaster": "Report Toaster's API is private to Mechanic's partner integration, so Ratchet cannot call it",
}


@dataclass(frozen=True)
class CompatibilityWarning:
    """Something in a task that will not work on this installation."""

    code: str
    """One of the stable codes in the table above."""
    subject: str
    """What the warning is about (an action type, a generator, a topic, a field), for dedup and tools."""
    message: str
    """One line for people: what will not work, and why."""

    def to_dict(self) -> dict[str, str]:
        """The warning as `--json` output carries it."""
        return {"code": self.code, "subject": self.subject, "message": self.message}


def topic_problem(topic: str) -> str | None:
    """Why nothing here produces `topic`, or None when something does."""
    domain = topic.split("/", 1)[0]
    if domain == "shopify":
        if topic.removeprefix("shopify/") in SHOPIFY_WEBHOOK_TOPICS:
            return None
        return "Shopify has no webhook for it that Ratchet registers"
    if domain == "user":
        return None  # the `event` action and Mechanic webhooks
    if topic in SCHEDULER_TOPICS or topic in BUTTON_TOPICS or topic in ERROR_TOPICS:
        return None
    if topic == "mechanic/actions/perform":
        return None
    if topic == BULK_OPERATION_TOPIC:
        return None  # reported as `bulk_operation`
    if topic in RESOURCE_TOPICS:
        return None  # run links: the console's run pages, `ratchet task run --resource`
    if topic.startswith("mechanic/scheduler/"):
        return (
            f"not a scheduler topic Ratchet runs (it runs {', '.join(t.rsplit('/', 1)[1] for t in SCHEDULER_TOPICS)})"
        )
    if topic == "mechanic/emails/received":
        return None  # the inbound SMTP listener (RATCHET_INBOUND_SMTP_ADDRESS)
    if domain == "mechanic":
        return "Mechanic produces it; Ratchet does not"
    return f"a {domain!r} integration topic; Ratchet has no {domain} integration"


def _action_type_warning(action_type: str) -> CompatibilityWarning | None:
    if action_type in registered_types():
        return None
    if action_type in UNSUPPORTED_REASONS:
        reason = f"action type {action_type!r}: {UNSUPPORTED_REASONS[action_type]}; its runs fail permanently"
    elif action_type in UNSUPPORTED_TYPES:
        reason = f"action type {action_type!r} is not implemented by Ratchet; its runs fail permanently"
    else:
        reason = f"unknown action type {action_type!r}; its runs fail permanently"
    return CompatibilityWarning(UNSUPPORTED_ACTION, action_type, reason)


def static_warnings(defn: TaskDefinition) -> list[CompatibilityWarning]:
    """Warnings visible without rendering: the script's text, subscriptions and export fields."""
    found: list[CompatibilityWarning] = []
    script = defn.script
    action_types = set(_ACTION_TAG_TYPE.findall(script))
    action_types |= {t for t in _ACTION_JSON_TYPE.findall(script) if t in UNSUPPORTED_TYPES}
    for action_type in sorted(action_types):
        if warning := _action_type_warning(action_type):
            found.append(warning)
    for field_name in ("online_store_javascript", "order_status_javascript"):
        if (getattr(defn, field_name) or "").strip():
            found.append(
                CompatibilityWarning(
                    STOREFRONT_JAVASCRIPT,
                    field_name,
                    f"{field_name} is set but Ratchet serves no storefront JavaScript",
                )
            )
    for topic in sorted({line.split("+", 1)[0] for line in defn.subscriptions}):
        if problem := topic_problem(topic):
            found.append(CompatibilityWarning(UNPRODUCED_TOPIC, topic, f"nothing here produces {topic}: {problem}"))
    if warning := _bulk_operation_warning(defn):
        found.append(warning)
    return found


def _bulk_operation_warning(defn: TaskDefinition) -> CompatibilityWarning | None:
    subscribes = BULK_OPERATION_TOPIC in {line.split("+", 1)[0] for line in defn.subscriptions}
    starts = script_starts_bulk_operation(defn.script)
    if subscribes and not starts:
        message = (
            f"subscribes to {BULK_OPERATION_TOPIC} but never starts a bulk operation "
            "(bulkOperationRunQuery or bulkOperationRunMutation): that subscription never fires"
        )
    elif starts and not subscribes:
        message = (
            f"starts a bulk operation but does not subscribe to {BULK_OPERATION_TOPIC}: "
            "its results will not come back to this task"
        )
    else:
        return None
    return CompatibilityWarning(BULK_OPERATION, BULK_OPERATION_TOPIC, message)


def action_warnings(actions: Iterable[ActionObject], pdf_browser: Path | None = None) -> list[CompatibilityWarning]:
    """Warnings about actions a (preview) render emitted.

    Args:
        actions: The actions the render emitted.
        pdf_browser: RATCHET_PDF_BROWSER: with one, a PDF's scripts run and are no warning.
    """
    found: list[CompatibilityWarning] = []
    for action in actions:
        if warning := _action_type_warning(action.type):
            found.append(warning)
            continue
        if action.type in _FILE_OPTIONS and isinstance(action.options, dict):
            name = _FILE_OPTIONS[action.type]
            files = action.options if name is None else action.options.get(name)
            field_name = action.type if name is None else f"{action.type}.{name}"
            if warning := _generator_warning(field_name, files, pdf_browser):
                found.append(warning)
    return found


def _generator_warning(field_name: str, files: Any, pdf_browser: Path | None) -> CompatibilityWarning | None:
    if isinstance(files, dict):
        # google_drive's `overwrite` flag sits among its uploads.
        files = {name: generator for name, generator in files.items() if name != "overwrite"}
    try:
        specs = parse_files(field_name, files)
    except FileOptionsError as error:
        return CompatibilityWarning(FILE_GENERATOR, error.field_name, str(error))
    if pdf_browser is None and (scripted := scripted_pdfs(specs)):
        return CompatibilityWarning(
            FILE_GENERATOR,
            f"{field_name}.{scripted[0]}",
            f"the PDF {scripted[0]!r} has <script> elements, which run only with RATCHET_PDF_BROWSER set "
            "(a Chromium binary); without it Ratchet's PDF renderer (WeasyPrint) runs no JavaScript",
        )
    return None


def unique(warnings: Iterable[CompatibilityWarning]) -> list[CompatibilityWarning]:
    """One warning per (code, subject), the first reason kept."""
    seen: dict[tuple[str, str], CompatibilityWarning] = {}
    for warning in warnings:
        seen.setdefault((warning.code, warning.subject), warning)
    return list(seen.values())
