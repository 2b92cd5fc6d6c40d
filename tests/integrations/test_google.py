"""The google, google_drive and google_sheets actions against local fakes of Google's documented APIs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from ratchet.actions.base import ActionOptionsError, PermanentActionError, get_handler
from ratchet.services import accounts
from ratchet.store.database import Store
from tests.integrations.conftest import GOOGLE_ACCOUNT
from tests.support.integration_fakes import IntegrationFakes


def google(method: str, url_path: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    return {"account": GOOGLE_ACCOUNT, "method": method, "url_path": url_path, "body": body, **extra}


def sheets(operation: str, **options: Any) -> dict[str, Any]:
    return {"account": GOOGLE_ACCOUNT, "operation": operation, **options}


async def test_google_wraps_drive_and_sheets_calls_with_a_service_account_token(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes
) -> None:
    grants = integration_fakes.token_grants
    created = await perform(
        "google",
        google(
            "POST",
            "/upload/drive/v3/files?uploadType=media",
            "Hello world!",
            headers={"Content-Type": "text/plain"},
        ),
    )
    assert created["status"] == 200 and integration_fakes.drive[created["body"]["id"]].content == b"Hello world!"

    # The library's demo lists files with a GET whose body carries the query parameters.
    listed = await perform(
        "google", google("GET", "/drive/v3/files", {"q": "name contains 'Untitled'", "pageSize": 10})
    )
    assert created["body"]["id"] in [f["id"] for f in listed["body"]["files"]]

    sheet = await perform("google", google("POST", "/sheets/v4/spreadsheets", {"properties": {"title": "Demo"}}))
    assert sheet["status"] == 200 and sheet["body"]["spreadsheetId"] in integration_fakes.spreadsheets
    assert integration_fakes.token_grants == grants + 1  # one token, kept for the later calls


async def test_google_oauth_client_credentials_are_refreshed_into_a_token(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes, sqlite_store: Store, connected_shop: str
) -> None:
    integration_fakes.oauth_clients[("client-1", "shh")] = "refresh-1"
    credential = {
        "type": "authorized_user",
        "client_id": "client-1",
        "client_secret": "shh",
        "refresh_token": "refresh-1",
    }
    accounts.add_account(sqlite_store, connected_shop, "google", "oauth@example.com", json.dumps(credential))
    listed = await perform("google", {**google("GET", "/drive/v3/files"), "account": "oauth@example.com"})
    assert listed["status"] == 200

    credential["refresh_token"] = "revoked"
    accounts.add_account(sqlite_store, connected_shop, "google", "oauth@example.com", json.dumps(credential))
    with pytest.raises(PermanentActionError, match="Google refused the account's credential: Token has been expired"):
        await perform("google", {**google("GET", "/drive/v3/files"), "account": "oauth@example.com"})


async def test_a_revoked_token_is_replaced_once(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes
) -> None:
    await perform("google_drive", {"account": GOOGLE_ACCOUNT, "uploads": {"a.txt": "a"}})
    integration_fakes.revoke_tokens()
    result = await perform("google_drive", {"account": GOOGLE_ACCOUNT, "uploads": {"b.txt": "b"}})
    assert result["uploads"]["b.txt"]["name"] == "b.txt"


async def test_drive_uploads_create_folders_once_and_overwrite_on_request(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes
) -> None:
    options = {
        "account": GOOGLE_ACCOUNT,
        "uploads": {
            "reports/monthly/sales.csv": "Date,Value\n2024-01-01,100",
            "reports/monthly/logo.bin": {"base64": base64.b64encode(b"\x00\x01").decode()},
        },
    }
    first = await perform("google_drive", options)
    upload = first["uploads"]["reports/monthly/sales.csv"]
    assert upload["name"] == "sales.csv" and upload["path"] == "reports/monthly"
    assert upload["mime_type"] == "text/csv" and upload["web_view_link"].endswith(f"/d/{upload['id']}/view")
    stored = integration_fakes.drive[upload["id"]]
    assert integration_fakes.path_of(stored) == "reports/monthly/sales.csv"
    assert integration_fakes.drive[first["uploads"]["reports/monthly/logo.bin"]["id"]].content == b"\x00\x01"

    again = {"account": GOOGLE_ACCOUNT, "uploads": {"overwrite": True, "reports/monthly/sales.csv": "new"}}
    second = await perform("google_drive", again)
    assert second["uploads"]["reports/monthly/sales.csv"]["id"] == upload["id"]  # replaced, not duplicated
    assert stored.content == b"new"
    assert len([f for f in integration_fakes.files_named("monthly")]) >= 1
    monthly = {integration_fakes.path_of(f) for f in integration_fakes.files_named("monthly")}
    assert monthly == {"reports/monthly"}  # the folder was found again, not created twice


@pytest.mark.parametrize("path", ["bad:name.txt", "dir/what?.txt", "a//b.txt", 'q"uote.txt'])
def test_drive_refuses_invalid_names(path: str) -> None:
    with pytest.raises(ActionOptionsError, match="uploads"):
        get_handler("google_drive").validate({"account": GOOGLE_ACCOUNT, "uploads": {path: "x"}})


async def test_sheets_create_append_update_read_clear(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes
) -> None:
    created = await perform(
        "google_sheets",
        sheets("create_spreadsheet", title="Orders", folder_path="reports/2026", rows=[["Order", "Total"]]),
    )
    spreadsheet_id = created["spreadsheet_id"]
    assert created["spreadsheet_url"] == f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}"
    assert created["folder_path"] == "reports/2026"
    assert integration_fakes.path_of(integration_fakes.drive[spreadsheet_id]) == "reports/2026/Orders"

    appended = await perform(
        "google_sheets", sheets("append_rows", spreadsheet_id=spreadsheet_id, rows=[["#1", "9.99"], ["#2", "5"]])
    )
    assert appended["updated_rows"] == 2
    updated = await perform(
        "google_sheets",
        sheets("update_rows", spreadsheet_id=spreadsheet_id, sheet_range="Sheet1!A3:B3", rows=[["#2", "6"]]),
    )
    assert updated["updated_cells"] == 2
    read = await perform("google_sheets", sheets("get_values", spreadsheet_id=spreadsheet_id))
    assert read["values"] == [["Order", "Total"], ["#1", "9.99"], ["#2", "6"]] and read["row_count"] == 3

    cleared = await perform("google_sheets", sheets("clear_values", spreadsheet_id=spreadsheet_id, sheet_range="A2:B2"))
    assert cleared["cleared_range"] == "'Sheet1'!A2:B2"
    assert integration_fakes.sheet_rows(spreadsheet_id)[1] == ["", ""]


async def test_sheets_manage_tabs_delete_rows_and_export(
    perform: Callable[..., Any], integration_fakes: IntegrationFakes
) -> None:
    created = await perform(
        "google_sheets",
        sheets("create_spreadsheet", title="Tabs", sheets=[{"name": "Orders", "rows": [["a"], ["b"], ["c"], ["d"]]}]),
    )
    spreadsheet_id = created["spreadsheet_id"]
    assert [s["name"] for s in created["sheets"]] == ["Orders"]

    added = await perform(
        "google_sheets", sheets("add_sheet", spreadsheet_id=spreadsheet_id, sheet_name="Q3", rows=[["x", "y"]])
    )
    assert added["sheet_name"] == "Q3" and added["updated_columns"] == 2
    renamed = await perform(
        "google_sheets",
        sheets("rename_sheet", spreadsheet_id=spreadsheet_id, sheet_name="Q3", new_sheet_name="Q3 Archive"),
    )
    assert renamed["previous_sheet_name"] == "Q3" and renamed["sheet_id"] == added["sheet_id"]

    deleted = await perform(
        "google_sheets",
        sheets("delete_rows", spreadsheet_id=spreadsheet_id, sheet_name="Orders", start_row=2, end_row=3),
    )
    assert deleted["deleted_rows"] == 2
    assert integration_fakes.sheet_rows(spreadsheet_id, "Orders") == [["a"], ["d"]]

    await perform("google_sheets", sheets("delete_sheet", spreadsheet_id=spreadsheet_id, sheet_name="Q3 Archive"))
    with pytest.raises(PermanentActionError, match="last sheet"):
        await perform("google_sheets", sheets("delete_sheet", spreadsheet_id=spreadsheet_id, sheet_name="Orders"))

    exported = await perform(
        "google_sheets", sheets("export_spreadsheet", spreadsheet_id=spreadsheet_id, file_type="csv")
    )
    assert exported["name"] == "Tabs" and exported["file_type"] == "csv"
    assert base64.b64decode(exported["data_base64"]) == b"a\nd\n"


def test_sheets_options_are_checked_before_any_request() -> None:
    handler = get_handler("google_sheets")
    with pytest.raises(ActionOptionsError, match="operation"):
        handler.validate(sheets("sort_rows", spreadsheet_id="x"))
    with pytest.raises(ActionOptionsError, match="spreadsheet_id"):
        handler.validate(sheets("append_rows", rows=[["a"]]))
    with pytest.raises(ActionOptionsError, match="rows"):
        handler.validate(sheets("append_rows", spreadsheet_id="x", rows="a,b"))
    with pytest.raises(ActionOptionsError, match="start_row"):
        handler.validate(sheets("delete_rows", spreadsheet_id="x", sheet_name="S", start_row=0))


async def test_a_range_naming_another_sheet_than_sheet_name_is_refused(perform: Callable[..., Any]) -> None:
    created = await perform("google_sheets", sheets("create_spreadsheet", title="Conflict"))
    with pytest.raises(ActionOptionsError, match="sheet_range"):
        await perform(
            "google_sheets",
            sheets(
                "get_values", spreadsheet_id=created["spreadsheet_id"], sheet_name="Sheet1", sheet_range="Other!A1:B2"
            ),
        )
