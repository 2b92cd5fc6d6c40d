"""The ten Google Sheets operations behind the `google_sheets` action.

One method each, over Sheets API v4 and Drive v3; see ratchet/actions/google_sheets.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from ratchet.actions.base import ActionOptionsError, PermanentActionError
from ratchet.actions.google_auth import GoogleSession
from ratchet.actions.google_drive import Drive

# Drive's export MIME types for Google Sheets
# (https://developers.google.com/workspace/drive/api/guides/ref-export-formats).
EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
    "html": "application/zip",
    "ods": "application/x-vnd.oasis.opendocument.spreadsheet",
    "tsv": "text/tab-separated-values",
}
VALUE_RENDER = {"formatted_value": "FORMATTED_VALUE", "unformatted_value": "UNFORMATTED_VALUE", "formula": "FORMULA"}
MAX_VALUES_BYTES = 20 * 1024 * 1024  # get_values results are capped at 20 MB


def spreadsheet_url(spreadsheet_id: str) -> str:
    return f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}"


def a1_sheet(name: str) -> str:
    """A sheet name as A1 notation needs it: quoted, single quotes doubled."""
    return "'" + name.replace("'", "''") + "'"


class Sheets:
    """One operation's requests; `options` are the action's validated options."""

    def __init__(self, session: GoogleSession, base_url: str, options: dict[str, Any]) -> None:
        self.session = session
        self.options = options
        self.id = str(options.get("spreadsheet_id") or "")
        self.base = f"{base_url}/v4/spreadsheets"

    # -- helpers -----------------------------------------------------------------------------------

    @property
    def input_option(self) -> str:
        return "USER_ENTERED" if self.options.get("value_input_option") == "user_entered" else "RAW"

    def _url(self, suffix: str = "") -> str:
        return f"{self.base}/{quote(self.id, safe='')}{suffix}"

    async def _sheets(self) -> list[dict[str, Any]]:
        """Every sheet's properties, in order: `spreadsheets.get` limited by a field mask."""
        answer = await self.session.request("GET", self._url(), params={"fields": "sheets.properties(sheetId,title)"})
        return [sheet["properties"] for sheet in answer.get("sheets", [])]

    async def _sheet(self, name: str) -> dict[str, Any]:
        for properties in await self._sheets():
            if properties.get("title") == name:
                return properties
        raise PermanentActionError(f"spreadsheet {self.id} has no sheet named {name!r}")

    async def _range(self) -> str:
        """`sheet_range` combined with `sheet_name`, or the named (else first) sheet as a whole."""
        name = self.options.get("sheet_name")
        sheet_range = self.options.get("sheet_range")
        if sheet_range and "!" in sheet_range:
            qualifier = sheet_range.rsplit("!", 1)[0]
            unquoted = qualifier[1:-1].replace("''", "'") if qualifier.startswith("'") else qualifier
            if name and unquoted != name:
                raise ActionOptionsError("sheet_range", f"names sheet {unquoted!r}, but sheet_name is {name!r}")
            return str(sheet_range)
        if not name:
            sheets = await self._sheets()
            if not sheets:
                raise PermanentActionError(f"spreadsheet {self.id} has no sheets")
            name = sheets[0]["title"]
        return a1_sheet(name) + (f"!{sheet_range}" if sheet_range else "")

    async def _write(self, a1: str, rows: list[list[Any]], *, retry: bool = True) -> dict[str, Any]:
        """`values.update` of `rows` at `a1`; Google's UpdateValuesResponse."""
        answer: dict[str, Any] = await self.session.request(
            "PUT",
            self._url(f"/values/{quote(a1, safe='')}"),
            params={"valueInputOption": self.input_option},
            json={"range": a1, "majorDimension": "ROWS", "values": rows},
            retry_transient=retry,
        )
        return answer

    async def _batch(self, request: dict[str, Any], *, retry: bool) -> dict[str, Any]:
        answer: dict[str, Any] = await self.session.request(
            "POST", self._url(":batchUpdate"), json={"requests": [request]}, retry_transient=retry
        )
        return answer

    def _done(self, **fields: Any) -> dict[str, Any]:
        return {"spreadsheet_id": self.id, **fields, "spreadsheet_url": spreadsheet_url(self.id)}

    # -- operations --------------------------------------------------------------------------------

    async def create_spreadsheet(self, drive: Drive) -> dict[str, Any]:
        title = self.options.get("title") or "New Spreadsheet"
        named = self.options.get("sheets")
        if named is not None and self.options.get("rows") is not None:
            raise ActionOptionsError("sheets", "cannot be given with rows")
        body: dict[str, Any] = {"properties": {"title": title}}
        if named:
            body["sheets"] = [{"properties": {"title": str(sheet.get("name"))}} for sheet in named]
        created = await self.session.request("POST", self.base, json=body, retry_transient=False)
        self.id = str(created["spreadsheetId"])
        sheets = [sheet["properties"] for sheet in created.get("sheets", [])]
        folder_path = (self.options.get("folder_path") or "").strip("/") or None
        if folder_path:
            folder = await drive.folder(tuple(folder_path.split("/")))
            await drive.move(self.id, folder)
        writes = [(sheet.get("name"), sheet.get("rows")) for sheet in named] if named else []
        if not named and self.options.get("rows"):
            writes = [(sheets[0]["title"], self.options["rows"])]
        for name, rows in writes:
            if rows:
                await self._write(a1_sheet(str(name)), rows, retry=False)
        result = self._done(title=title, folder_path=folder_path)
        if named:
            result["sheets"] = [{"name": p["title"], "sheet_id": p["sheetId"]} for p in sheets]
        return result

    async def append_rows(self, drive: Drive) -> dict[str, Any]:
        a1 = await self._range()
        answer = await self.session.request(
            "POST",
            self._url(f"/values/{quote(a1, safe='')}:append"),
            params={"valueInputOption": self.input_option, "insertDataOption": "INSERT_ROWS"},
            json={"range": a1, "majorDimension": "ROWS", "values": self.options["rows"]},
            retry_transient=self.options.get("retry_on_transient_errors") is True,
        )
        updates = answer.get("updates", {})
        return self._done(
            updated_range=updates.get("updatedRange"),
            updated_rows=updates.get("updatedRows", 0),
            updated_columns=updates.get("updatedColumns", 0),
        )

    async def update_rows(self, drive: Drive) -> dict[str, Any]:
        answer = await self._write(await self._range(), self.options["rows"])
        return self._done(
            updated_range=answer.get("updatedRange"),
            updated_rows=answer.get("updatedRows", 0),
            updated_columns=answer.get("updatedColumns", 0),
            updated_cells=answer.get("updatedCells", 0),
        )

    async def clear_values(self, drive: Drive) -> dict[str, Any]:
        a1 = await self._range()
        answer = await self.session.request("POST", self._url(f"/values/{quote(a1, safe='')}:clear"), json={})
        return self._done(cleared_range=answer.get("clearedRange", a1))

    async def get_values(self, drive: Drive) -> dict[str, Any]:
        a1 = await self._range()
        render = VALUE_RENDER[self.options.get("value_render_option") or "formatted_value"]
        answer = await self.session.request(
            "GET", self._url(f"/values/{quote(a1, safe='')}"), params={"valueRenderOption": render}
        )
        values = answer.get("values", [])
        if len(json.dumps(values)) > MAX_VALUES_BYTES:
            raise PermanentActionError(f"the values of {a1} exceed 20 MB; read a narrower sheet_range")
        return self._done(range=answer.get("range", a1), values=values, row_count=len(values))

    async def delete_rows(self, drive: Drive) -> dict[str, Any]:
        name = self.options["sheet_name"]
        start = self.options["start_row"]
        end = self.options.get("end_row") or start
        if end < start:
            raise ActionOptionsError("end_row", f"must not be before start_row ({start})")
        sheet = await self._sheet(name)
        dimension = {"sheetId": sheet["sheetId"], "dimension": "ROWS", "startIndex": start - 1, "endIndex": end}
        await self._batch({"deleteDimension": {"range": dimension}}, retry=False)
        return self._done(sheet_name=name, start_row=start, end_row=end, deleted_rows=end - start + 1)

    async def add_sheet(self, drive: Drive) -> dict[str, Any]:
        name = self.options["sheet_name"]
        answer = await self._batch({"addSheet": {"properties": {"title": name}}}, retry=False)
        sheet_id = answer["replies"][0]["addSheet"]["properties"]["sheetId"]
        result = self._done(sheet_id=sheet_id, sheet_name=name)
        if self.options.get("rows"):
            written = await self._write(a1_sheet(name), self.options["rows"], retry=False)
            result.update(updated_rows=written.get("updatedRows", 0), updated_columns=written.get("updatedColumns", 0))
        return result

    async def rename_sheet(self, drive: Drive) -> dict[str, Any]:
        name, new_name = self.options["sheet_name"], self.options["new_sheet_name"]
        sheet = await self._sheet(name)
        properties = {"sheetId": sheet["sheetId"], "title": new_name}
        await self._batch({"updateSheetProperties": {"properties": properties, "fields": "title"}}, retry=True)
        return self._done(sheet_id=sheet["sheetId"], previous_sheet_name=name, sheet_name=new_name)

    async def delete_sheet(self, drive: Drive) -> dict[str, Any]:
        name = self.options["sheet_name"]
        sheets = await self._sheets()
        sheet = next((p for p in sheets if p.get("title") == name), None)
        if sheet is None:
            raise PermanentActionError(f"spreadsheet {self.id} has no sheet named {name!r}")
        if len(sheets) == 1:
            raise PermanentActionError(f"sheet {name!r} is the spreadsheet's last sheet and cannot be deleted")
        await self._batch({"deleteSheet": {"sheetId": sheet["sheetId"]}}, retry=False)
        return self._done(sheet_id=sheet["sheetId"], sheet_name=name)

    async def export_spreadsheet(self, drive: Drive) -> dict[str, Any]:
        file_type = self.options.get("file_type") or "xlsx"
        name, content = await drive.export(self.id, EXPORT_TYPES[file_type])
        return {
            "spreadsheet_id": self.id,
            "name": name,
            "size": len(content),
            "file_type": file_type,
            "data_base64": base64.b64encode(content).decode("ascii"),
        }
