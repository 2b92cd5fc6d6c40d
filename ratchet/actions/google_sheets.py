"""google_sheets: ten spreadsheet operations as a connected Google account.

Spec 7.9, https://learn.mechanic.dev/core/actions/integrations/google-sheets.

Options: `account` and `operation` always; `spreadsheet_id` for all but `create_spreadsheet`;
`sheet_name` / `sheet_range` target a sheet (the first one when neither is given, looked up by
name so localised defaults work); `value_input_option` `raw` (default) or `user_entered`.
Results follow Mechanic's documented shapes, each with `spreadsheet_url`.

Sheets API v4 calls (https://developers.google.com/workspace/sheets/api/reference/rest):
`spreadsheets.create`, `spreadsheets.get` (sheet properties), `spreadsheets.batchUpdate`
(addSheet, updateSheetProperties, deleteSheet, deleteDimension), `spreadsheets.values.update`,
`.append`, `.clear`, `.get`. Drive v3 moves a new spreadsheet into `folder_path` (`files.update`
with addParents/removeParents) and exports it (`files.export`).

Retries as documented: reads and idempotent writes (get_values, update_rows, clear_values,
rename_sheet, export) are retried on transient errors; ambiguous writes (append_rows unless
`retry_on_transient_errors`, create_spreadsheet, add_sheet, delete_rows, delete_sheet) fail
instead, since Google may have applied them; 429 is always retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, register, string_option
from ratchet.actions.google_auth import GoogleSession, google_client
from ratchet.actions.google_drive import INVALID_NAME, Drive
from ratchet.actions.integration_request import account_option
from ratchet.actions.sheets_operations import EXPORT_TYPES, VALUE_RENDER, Sheets

OPERATIONS = (
    "create_spreadsheet",
    "append_rows",
    "update_rows",
    "clear_values",
    "get_values",
    "delete_rows",
    "add_sheet",
    "rename_sheet",
    "delete_sheet",
    "export_spreadsheet",
)


@dataclass(frozen=True)
class SheetsRequest:
    operation: str
    account: str
    options: dict[str, Any] = field(default_factory=dict)


def _rows(options: dict[str, Any], *, required: bool) -> list[list[Any]] | None:
    rows = options.get("rows")
    if rows is None and not required:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ActionOptionsError("rows", "must be an array of arrays")
    return rows


def _check(op: str, options: dict[str, Any]) -> None:
    """Per-operation required options, so a malformed action fails before any request."""
    if op != "create_spreadsheet":
        string_option(options, "spreadsheet_id", required=True)
    if op in ("append_rows", "update_rows"):
        _rows(options, required=True)
    if op in ("update_rows", "clear_values") and not (options.get("sheet_range") or options.get("sheet_name")):
        raise ActionOptionsError("sheet_range", "or sheet_name is required")
    if op in ("delete_rows", "add_sheet", "rename_sheet", "delete_sheet"):
        string_option(options, "sheet_name", required=True)
    if op == "rename_sheet":
        string_option(options, "new_sheet_name", required=True)
    if op == "delete_rows":
        for name in ("start_row", "end_row"):
            value = options.get(name)
            if (value is not None or name == "start_row") and (not isinstance(value, int) or value < 1):
                raise ActionOptionsError(name, f"must be a row number (1 or more), got {value!r}")
    if op == "export_spreadsheet" and (options.get("file_type") or "xlsx") not in EXPORT_TYPES:
        raise ActionOptionsError("file_type", f"must be one of {', '.join(EXPORT_TYPES)}")
    if (options.get("value_input_option") or "raw") not in ("raw", "user_entered"):
        raise ActionOptionsError("value_input_option", "must be raw or user_entered")
    if (options.get("value_render_option") or "formatted_value") not in VALUE_RENDER:
        raise ActionOptionsError("value_render_option", f"must be one of {', '.join(VALUE_RENDER)}")
    if op == "create_spreadsheet":
        _rows(options, required=False)
        folder = string_option(options, "folder_path") or ""
        if any(INVALID_NAME.search(part) or not part.strip() for part in folder.strip("/").split("/") if folder):
            raise ActionOptionsError("folder_path", 'folder names may not be empty or contain < > : " \\ | ? *')


class GoogleSheetsAction:
    type: ClassVar[str] = "google_sheets"

    def validate(self, options: Any) -> SheetsRequest:
        account = account_option(options)
        operation = options.get("operation")
        if operation not in OPERATIONS:
            raise ActionOptionsError("operation", f"must be one of {', '.join(OPERATIONS)}, got {operation!r}")
        _check(operation, options)
        return SheetsRequest(operation, account, options)

    async def perform(self, options: SheetsRequest, ctx: ActionContext) -> dict[str, Any]:
        async with google_client() as client:
            session = await GoogleSession.open(ctx, options.account, client)
            sheets = Sheets(session, ctx.settings.integrations.google_sheets_api_url, options.options)
            drive = Drive(session, ctx.settings.integrations.google_api_url)
            result: dict[str, Any] = await getattr(sheets, options.operation)(drive)
        return result


register(GoogleSheetsAction())
