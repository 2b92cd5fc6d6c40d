"""Links into the Temporal Web UI.

A workflow's page is `/namespaces/{namespace}/workflows/{workflow id}`; the id is encoded whole
(ours have slashes), and without a run id the UI opens the latest run (temporalio/ui:
routes/(app)/namespaces/[namespace]/workflows/[workflow]).
"""

from __future__ import annotations

from urllib.parse import quote


def workflow_url(ui_url: str | None, namespace: str, workflow_id: str) -> str | None:
    """The workflow's page in the Web UI at `ui_url`; None when no UI is configured."""
    if not ui_url:
        return None
    return f"{ui_url}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
