"""The slack and airtable actions against local fakes of their documented Web APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ratchet.actions.base import ActionOptionsError, PermanentActionError, get_handler
from ratchet.services import accounts
from ratchet.store.database import Store
from tests.support.integration_fakes import IntegrationFakes


def slack(url_path: str, body: dict[str, Any], account: str = "workspace") -> dict[str, Any]:
    return {
        "account": account,
        "method": "POST",
        "url_path": url_path,
        "headers": {"Content-Type": "application/json"},
        "body": body,
    }


async def test_slack_posts_updates_and_deletes_a_message_as_the_bot(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes
) -> None:
    posted = await perform("slack", slack("/chat.postMessage", {"channel": "C123", "text": "hello"}))
    assert posted["status"] == 200 and posted["body"]["ok"] is True
    ts = posted["body"]["ts"]
    assert integration_fakes.slack_messages[("C123", ts)]["text"] == "hello"

    updated = await perform("slack", slack("/chat.update", {"channel": "C123", "ts": ts, "text": "edited"}))
    assert updated["body"]["text"] == "edited"
    assert integration_fakes.slack_messages[("C123", ts)]["text"] == "edited"

    await perform("slack", slack("/chat.delete", {"channel": "C123", "ts": ts}))
    assert ("C123", ts) not in integration_fakes.slack_messages


async def test_slack_errors_fail_the_run_with_slacks_error_code(perform: Callable[..., Any]) -> None:
    # Slack answers HTTP 200 with ok: false; the run must not look successful.
    with pytest.raises(PermanentActionError, match=r"chat\.postMessage failed: channel_not_found") as failure:
        await perform("slack", slack("/chat.postMessage", {"channel": "nowhere", "text": "x"}))
    assert failure.value.result == {"status": 200, "body": {"ok": False, "error": "channel_not_found"}}


def test_slack_refuses_methods_mechanic_does_not_support() -> None:
    with pytest.raises(ActionOptionsError, match=r"url_path.*not supported"):
        get_handler("slack").validate(slack("/conversations.list", {}))


async def test_an_unknown_account_fails_naming_how_to_connect_it(perform: Callable[..., Any]) -> None:
    with pytest.raises(PermanentActionError, match="ratchet accounts add slack elsewhere"):
        await perform("slack", slack("/chat.postMessage", {"channel": "C1", "text": "x"}, account="elsewhere"))


async def test_airtable_creates_and_lists_records(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes
) -> None:
    created = await perform(
        "airtable",
        {
            "account": "base",
            "method": "POST",
            "url_path": "/v0/appBASE/Orders",
            "headers": {"Content-Type": "application/json"},
            "body": {"records": [{"fields": {"Order": "#1001", "Total": 42.5}}]},
        },
    )
    assert created["status"] == 200
    assert created["body"]["records"][0]["fields"] == {"Order": "#1001", "Total": 42.5}
    listed = await perform("airtable", {"account": "base", "method": "GET", "url_path": "/v0/appBASE/Orders"})
    assert [r["fields"]["Order"] for r in listed["body"]["records"]] == ["#1001"]


async def test_airtable_errors_stay_in_the_result(
    perform: Callable[..., Any], sqlite_store: Store, connected_shop: str
) -> None:
    accounts.add_account(sqlite_store, connected_shop, "airtable", "stale", "patREVOKED.token")
    result = await perform("airtable", {"account": "stale", "method": "GET", "url_path": "/v0/appBASE/Orders"})
    assert result == {
        "status": 401,
        "body": {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}},
    }
