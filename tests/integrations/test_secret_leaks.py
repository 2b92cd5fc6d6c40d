"""A secret used by an http action never appears anywhere it could leak.

Issue 26, globals-and-secrets.md: not in the ledger's database file, the Temporal history (`temporal workflow show` and the dev server's
database), the logs or `ratchet runs show`, while the request itself carried the value.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
from pathlib import Path

import pytest

from ratchet.config import Settings
from ratchet.core.runs import RunKind, RunState
from ratchet.core.secret_refs import REDACTED
from ratchet.engine.devserver import DevServer, temporal_binary
from ratchet.store import ledger
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs, wait_until_idle

SCRIPT = """
{% if event.topic == "user/secrets/go" %}
  {% assign auth = "Bearer " | append: options.api_token__secret_required %}
  {% action "http" %}
    {
      "method": "post",
      "url": {{ event.data.base | append: "/echo?key=" | append: secrets.api_token | json }},
      "headers": {"Authorization": {{ auth | json }}},
      "body": {"password": {{ secrets.api_token | json }}, "user": {{ globals.account.user | json }}}
    }
  {% endaction %}
  {% action "http" %}
    {"method": "get", "url": {{ event.data.base | append: "/loop?key=" | append: secrets.api_token | json }}}
  {% endaction %}
  {% action "echo" token: secrets.api_token %}
  {% log secret: secrets.api_token, missing: secrets.nothing %}
{% elsif event.topic == "mechanic/actions/perform" %}
  {% log performed: action.run.result %}
{% endif %}
"""


def found_in_files(value: str, *paths: Path) -> list[str]:
    needle = value.encode()
    return [str(p) for p in paths if p.exists() and needle in p.read_bytes()]


async def test_a_secret_reaches_the_request_and_nothing_else(
    api: Ratchet,
    base_settings: Settings,
    dev_server: DevServer,
    http_server: str,
    tmp_home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    value = f"s3cr3t-{secrets.token_hex(12)}"
    await api.secrets.set("api_token", value)
    await api.globals.set("account", {"user": "matt"})
    await add_task(
        api,
        "Uses a secret",
        SCRIPT,
        ["user/secrets/go", "mechanic/actions/perform"],
        options={"api_token__secret_required": "api_token"},
    )
    event_id = await api.events.send("user/secrets/go", {"base": http_server})
    await wait_for_runs(api, event_id, settled(3))
    await wait_until_idle(api, event_id)

    runs = await api.runs.list(event_id=event_id)
    sent, loop, echo = of_kind(runs, RunKind.action)
    sent_detail = await api.runs.get(sent.id)
    assert sent.state == RunState.succeeded
    # The request carried the value everywhere the task put it (the echo server reflects it) …
    echoed = sent_detail.result["body"]
    assert echoed["headers"]["authorization"] == f"Bearer {REDACTED}"
    assert echoed["query"] == f"key={REDACTED}"
    assert json.loads(echoed["body"]) == {"password": REDACTED, "user": "matt"}
    assert sent_detail.result["body_base64"] == REDACTED
    # … while stored options keep the reference, and other action types only ever see it.
    assert "__ratchet_secret:api_token:" in json.dumps(sent_detail.action_options)
    echo_detail = await api.runs.get(echo.id)
    assert echo_detail.result["token"].startswith("__ratchet_secret:api_token:")
    loop_detail = await api.runs.get(loop.id)
    assert loop.state == RunState.failed and REDACTED in (loop_detail.error or "")

    shown = [json.dumps((await api.runs.get(run.id)).model_dump(mode="json")) for run in runs]
    assert not [text for text in shown if value in text], "runs show"

    workflow_id = ledger.event_workflow_id(api.settings.shop, event_id)
    show = ["workflow", "show", "--workflow-id", workflow_id, "--address", dev_server.address, "--output", "json"]
    history = subprocess.run(
        [temporal_binary(), *show],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert workflow_id in history and value not in history, "Temporal history"

    database = Path(base_settings.effective_database_url.removeprefix("sqlite:///"))
    stored = [database, database.with_name(database.name + "-wal"), tmp_home / "temporal.db"]
    stored.append(tmp_home / "temporal.db-wal")
    assert not found_in_files(value, *stored), "database files"

    logged = [caplog.handler.format(record) for record in caplog.records]
    assert logged and not [line for line in logged if value in line], "logs"
