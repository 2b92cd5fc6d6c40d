"""Building Mechanic task exports for tests."""

from __future__ import annotations

from typing import Any

from ratchet.store.tables import Task
from starter.api import Ratchet


def export(name: str, script: str, subscriptions: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "script": script,
        "options": fields.pop("options", {}),
        "subscriptions": subscriptions,
        "subscriptions_template": "\n".join(subscriptions),
        "docs": "",
        "halt_action_run_sequence_on_error": fields.pop("halt_action_run_sequence_on_error", False),
        "perform_action_runs_in_sequence": fields.pop("perform_action_runs_in_sequence", False),
        "online_store_javascript": None,
        "order_status_javascript": None,
        "tags": [],
        **fields,
    }


async def add_task(api: Ratchet, name: str, script: str, subscriptions: list[str], **fields: Any) -> Task:
    imported = await api.tasks.import_(export(name, script, subscriptions, **fields))
    assert not imported.missing_required_options
    return imported.task
