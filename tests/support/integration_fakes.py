"""Local fakes of Slack, Airtable and Google (OAuth token endpoint, Drive v3, Sheets v4).

One uvicorn server on 127.0.0.1 in a background thread, so the integration actions run over the
network exactly as against the real services. Each fake reproduces the documented requests and
responses the actions rely on:

* Slack Web API (https://docs.slack.dev/apis/web-api/): `POST /slack/api/chat.postMessage`,
  `chat.update`, `chat.delete` with `Authorization: Bearer <bot token>` and a JSON body; every
  answer is HTTP 200 with `ok`, failures `{"ok": false, "error": "invalid_auth" |
  "channel_not_found" | "message_not_found" | "no_text"}`
  (https://docs.slack.dev/reference/methods/chat.postmessage, …/chat.update, …/chat.delete).
* Airtable (https://airtable.com/developers/web/api/introduction): `POST|GET /airtable/v0/{base}/{table}`
  (create / list records: `{"records": [{"id": "rec…", "createdTime", "fields"}]}`,
  https://airtable.com/developers/web/api/create-records) and `POST /airtable/v0/meta/bases/{base}/tables`
  (https://airtable.com/developers/web/api/create-table); a wrong token answers 401
  `{"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}`
  (https://airtable.com/developers/web/api/errors).
* Google OAuth 2.0 `POST /google/token`: the JWT bearer grant, whose RS256 signature is checked
  with the service account's public key and whose `aud` must be this URL
  (https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests),
  and the refresh-token grant (https://developers.google.com/identity/protocols/oauth2/web-server#offline);
  errors are RFC 6749 `{"error": "invalid_grant", "error_description"}` with HTTP 400.
* Drive v3 under `/google` (https://developers.google.com/workspace/drive/api/reference/rest/v3/files):
  `files.list` with the `q` clauses the actions send (`name = '…'`, `name contains '…'`,
  `'<id>' in parents`, `mimeType = / != '…'`, `trashed = false`;
  https://developers.google.com/workspace/drive/api/guides/search-files), `files.create`
  (metadata only, `uploadType=media`, `uploadType=multipart` with a multipart/related body,
  https://developers.google.com/workspace/drive/api/guides/manage-uploads), `files.update`
  (addParents / removeParents, or new media), `files.get`, `files.export` (CSV of the first sheet;
  other types a stand-in body of the requested MIME type).
* Sheets v4 under `/sheets` (https://developers.google.com/workspace/sheets/api/reference/rest):
  `spreadsheets.create|get|batchUpdate` (addSheet, updateSheetProperties, deleteSheet,
  deleteDimension) and `spreadsheets.values.get|update|append|clear` over A1 ranges.
  Google errors are `{"error": {"code", "message", "status"}}` (https://cloud.google.com/apis/design/errors).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, unquote

import uvicorn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

FOLDER = "application/vnd.google-apps.folder"
SPREADSHEET = "application/vnd.google-apps.spreadsheet"


def google_error(code: int, message: str, status: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    content: bytes = b""

    def resource(self) -> dict[str, Any]:
        return {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": self.parents,
            "webViewLink": f"https://drive.google.com/file/d/{self.id}/view",
        }


@dataclass
class Sheet:
    sheet_id: int
    title: str
    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class IntegrationFakes:
    slack_token: str = "xoxb-fake-bot-token"
    airtable_token: str = "patFAKE.token"
    # Registered Google identities: service-account emails → public keys, OAuth clients → refresh tokens.
    service_accounts: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    oauth_clients: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    slack_messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    airtable_records: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    drive: dict[str, DriveFile] = field(default_factory=dict)
    spreadsheets: dict[str, list[Sheet]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_grants: int = 0
    base_url: str = ""

    def __post_init__(self) -> None:
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None

    # -- test helpers ------------------------------------------------------------------------------

    def new_service_account(self, email: str) -> dict[str, Any]:
        """A service-account key JSON whose public half this fake trusts."""
        from cryptography.hazmat.primitives import serialization

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.service_accounts[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": "ratchet-tests",
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": email,
            "token_uri": "https://oauth2.googleapis.com/token",
        }

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def sheet_rows(self, spreadsheet_id: str, title: str | None = None) -> list[list[Any]]:
        sheets = self.spreadsheets[spreadsheet_id]
        return next(s for s in sheets if title is None or s.title == title).rows

    def files_named(self, name: str) -> list[DriveFile]:
        return [f for f in self.drive.values() if f.name == name]

    def path_of(self, file: DriveFile) -> str:
        parts = [file.name]
        parent = file.parents[0] if file.parents else "root"
        while parent != "root":
            folder = self.drive[parent]
            parts.append(folder.name)
            parent = folder.parents[0] if folder.parents else "root"
        return "/".join(reversed(parts))

    # -- server ------------------------------------------------------------------------------------

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False))
        thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("integration fakes did not start")
            time.sleep(0.01)
        self._thread = thread
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def integration_settings(self) -> dict[str, str]:
        """`Settings.updated(integrations=…)` pointing every integration at these fakes."""
        return {
            "slack_api_url": f"{self.base_url}/slack/api",
            "airtable_api_url": f"{self.base_url}/airtable",
            "google_api_url": f"{self.base_url}/google",
            "google_sheets_api_url": f"{self.base_url}/sheets",
            "google_token_url": f"{self.base_url}/google/token",
        }

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            self.requests.append((request.method, request.url.path))
            response: Response = await call_next(request)
            return response

        @app.post("/slack/api/{method}")
        async def slack(method: str, request: Request) -> JSONResponse:
            return JSONResponse(self._slack(method, request.headers.get("authorization"), await request.json()))

        @app.api_route("/airtable/{path:path}", methods=["GET", "POST"])
        async def airtable(path: str, request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {self.airtable_token}":
                error = {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}
                return JSONResponse({"error": error}, status_code=401)
            body = await request.json() if request.method == "POST" else None
            return self._airtable(request.method, path, body)

        @app.post("/google/token")
        async def token(request: Request) -> JSONResponse:
            form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
            return self._token(form, str(request.url))

        @app.api_route("/google/{path:path}", methods=["GET", "POST", "PATCH"])
        async def drive(path: str, request: Request) -> Response:
            if not self._authorised(request):
                return google_error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
            return await self._drive(request.method, path, request)

        @app.api_route("/sheets/v4/spreadsheets{path:path}", methods=["GET", "POST", "PUT"])
        async def sheets(path: str, request: Request) -> Response:
            if not self._authorised(request):
                return google_error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
            body = await request.json() if request.method != "GET" else None
            return self._sheets(request.method, unquote(path), dict(request.query_params), body)

        return app

    # -- Slack -------------------------------------------------------------------------------------

    def _slack(self, method: str, authorization: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if authorization != f"Bearer {self.slack_token}":
            return {"ok": False, "error": "invalid_auth"}
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel.startswith("C"):
            return {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            if not body.get("text") and not body.get("blocks"):
                return {"ok": False, "error": "no_text"}
            ts = f"{time.time():.6f}"
            message = {"type": "message", "text": body.get("text", ""), "ts": ts, "bot_id": "B0FAKE"}
            self.slack_messages[(channel, ts)] = {**message, "blocks": body.get("blocks")}
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        ts = str(body.get("ts"))
        if (channel, ts) not in self.slack_messages:
            return {"ok": False, "error": "message_not_found"}
        if method == "chat.update":
            self.slack_messages[(channel, ts)]["text"] = body.get("text", "")
            return {"ok": True, "channel": channel, "ts": ts, "text": body.get("text", "")}
        if method == "chat.delete":
            del self.slack_messages[(channel, ts)]
            return {"ok": True, "channel": channel, "ts": ts}
        return {"ok": False, "error": "unknown_method"}

    # -- Airtable ----------------------------------------------------------------------------------

    def _airtable(self, method: str, path: str, body: Any) -> JSONResponse:
        parts = path.split("/")
        if parts[:2] == ["v0", "meta"] and method == "POST":
            table = {"id": f"tbl{uuid.uuid4().hex[:14]}", "name": body.get("name"), "fields": body.get("fields", [])}
            return JSONResponse(table)
        if len(parts) != 3 or parts[0] != "v0":
            error = {"type": "NOT_FOUND", "message": "Could not find what you are looking for"}
            return JSONResponse({"error": error}, status_code=404)
        records = self.airtable_records.setdefault((parts[1], parts[2]), [])
        if method == "GET":
            return JSONResponse({"records": records})
        created = [
            {"id": f"rec{uuid.uuid4().hex[:14]}", "createdTime": "2026-12-07T02:00:00.000Z", "fields": r["fields"]}
            for r in body.get("records", [])
        ]
        records.extend(created)
        return JSONResponse({"records": created})

    # -- Google OAuth ------------------------------------------------------------------------------

    def _token(self, form: dict[str, Any], url: str) -> JSONResponse:
        def refuse(description: str) -> JSONResponse:
            return JSONResponse({"error": "invalid_grant", "error_description": description}, status_code=400)

        if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                header, claims, signature = str(form.get("assertion")).split(".")
                payload = json.loads(_b64url_decode(claims))
                key = self.service_accounts[payload["iss"]]
                key.verify(
                    _b64url_decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
                )
            except Exception:
                return refuse("Invalid JWT Signature.")
            if payload.get("aud") != url or payload.get("exp", 0) <= time.time() or not payload.get("scope"):
                return refuse("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
        elif form.get("grant_type") == "refresh_token":
            expected = self.oauth_clients.get((str(form.get("client_id")), str(form.get("client_secret"))))
            if expected is None or expected != form.get("refresh_token"):
                return refuse("Token has been expired or revoked.")
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = f"ya29.{uuid.uuid4().hex}"
        self.tokens.add(token)
        self.token_grants += 1
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.tokens

    # -- Drive -------------------------------------------------------------------------------------

    def _matches(self, file: DriveFile, query: str) -> bool:
        for clause in re.split(r"\s+and\s+", query.strip()):
            clause = clause.strip()
            if clause in ("", "trashed = false"):
                continue
            if m := re.fullmatch(r"name (=|contains) '((?:[^'\\]|\\.)*)'", clause):
                value = re.sub(r"\\(.)", r"\1", m.group(2))
                if (file.name != value) if m.group(1) == "=" else (value not in file.name):
                    return False
            elif m := re.fullmatch(r"'([^']*)' in parents", clause):
                if m.group(1) not in (file.parents or ["root"]):
                    return False
            elif m := re.fullmatch(r"mimeType (=|!=) '([^']*)'", clause):
                if (file.mime_type == m.group(2)) != (m.group(1) == "="):
                    return False
            else:
                raise ValueError(f"unsupported q clause {clause!r}")
        return True

    def _new_file(self, name: str, mime_type: str, parents: list[str] | None, content: bytes = b"") -> DriveFile:
        file = DriveFile(uuid.uuid4().hex, name, mime_type, parents or ["root"], content)
        self.drive[file.id] = file
        return file

    async def _drive(self, method: str, path: str, request: Request) -> Response:
        params = dict(request.query_params)
        parts = path.split("/")
        if parts[:3] == ["upload", "drive", "v3"]:
            return await self._upload(method, parts[4] if len(parts) > 4 else None, params, request)
        if parts[:3] != ["drive", "v3", "files"]:
            return google_error(404, "Not Found", "NOT_FOUND")
        file_id = parts[3] if len(parts) > 3 else None
        if file_id is None and method == "GET":
            try:
                found = [f.resource() for f in self.drive.values() if self._matches(f, params.get("q", ""))]
            except ValueError as exc:
                return google_error(400, f"Invalid Value: {exc}", "INVALID_ARGUMENT")
            return JSONResponse({"kind": "drive#fileList", "files": found[: int(params.get("pageSize", 100))]})
        if file_id is None and method == "POST":
            body = await request.json()
            return JSONResponse(self._new_file(body["name"], body.get("mimeType", ""), body.get("parents")).resource())
        file = self.drive.get(str(file_id))
        if file is None:
            return google_error(404, f"File not found: {file_id}.", "NOT_FOUND")
        if method == "PATCH":
            if params.get("addParents"):
                file.parents = [p for p in file.parents if p != params.get("removeParents")] + [params["addParents"]]
            return JSONResponse(file.resource())
        if len(parts) > 4 and parts[4] == "export":
            return self._export(file, params.get("mimeType", ""))
        return JSONResponse(file.resource())

    def _export(self, file: DriveFile, mime_type: str) -> Response:
        if file.mime_type != SPREADSHEET:
            return google_error(403, "Export only supports Docs Editors files.", "PERMISSION_DENIED")
        if mime_type == "text/csv":
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(self.spreadsheets[file.id][0].rows)
            return Response(out.getvalue().encode(), media_type="text/csv")
        return Response(f"{mime_type} export of {file.name}".encode(), media_type=mime_type)

    async def _upload(self, method: str, file_id: str | None, params: dict[str, str], request: Request) -> Response:
        raw = await request.body()
        if params.get("uploadType") == "multipart":
            head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + raw)
            metadata_part, media_part = list(message.iter_parts())
            metadata = json.loads(metadata_part.get_content())
            payload = media_part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
        elif params.get("uploadType") == "media":
            metadata, content = {"name": "Untitled", "mimeType": request.headers.get("content-type")}, raw
        else:
            return google_error(400, "Invalid uploadType", "INVALID_ARGUMENT")
        if file_id is None:
            name, mime = metadata.get("name", "Untitled"), metadata.get("mimeType") or "application/octet-stream"
            return JSONResponse(self._new_file(name, mime, metadata.get("parents"), content).resource())
        file = self.drive.get(file_id)
        if file is None:
            return google_error(404, f"File not found: {file_id}.", "NOT_FOUND")
        file.content = content
        file.mime_type = metadata.get("mimeType") or file.mime_type
        return JSONResponse(file.resource())

    # -- Sheets ------------------------------------------------------------------------------------

    @staticmethod
    def _a1(a1: str) -> tuple[str, int, int, int | None, int | None]:
        """(sheet title, first row, first column, last row, last column), 0-based, None = open-ended."""
        sheet, _, cells = a1.rpartition("!") if "!" in a1 else (a1, "", "")
        if sheet.startswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
        if not cells:
            return sheet, 0, 0, None, None

        def cell(text: str) -> tuple[int, int | None]:
            m = re.fullmatch(r"([A-Z]+)(\d*)", text)
            assert m, f"bad cell {text!r}"
            column = 0
            for letter in m.group(1):
                column = column * 26 + ord(letter) - 64
            return column - 1, (int(m.group(2)) - 1 if m.group(2) else None)

        start, _, end = cells.partition(":")
        c1, r1 = cell(start)
        c2, r2 = cell(end) if end else (c1, r1)
        return sheet, r1 or 0, c1, r2, c2

    def _sheet(self, spreadsheet_id: str, title: str) -> Sheet | None:
        return next((s for s in self.spreadsheets.get(spreadsheet_id, []) if s.title == title), None)

    def _sheets(self, method: str, path: str, params: dict[str, str], body: Any) -> Response:
        if path == "" and method == "POST":
            return self._create(body)
        m = re.fullmatch(r"/([^/:]+)(?::batchUpdate|/values/(.+?)(?::(append|clear))?)?", path)
        if m is None or m.group(1) not in self.spreadsheets:
            return google_error(404, "Requested entity was not found.", "NOT_FOUND")
        spreadsheet_id, a1, verb = m.groups()
        sheets = self.spreadsheets[spreadsheet_id]
        if path.endswith(":batchUpdate"):
            return self._batch(spreadsheet_id, body["requests"])
        if a1 is None:
            return JSONResponse(
                {"spreadsheetId": spreadsheet_id, "sheets": [{"properties": self._props(s)} for s in sheets]}
            )
        title, r1, c1, r2, c2 = self._a1(a1)
        sheet = self._sheet(spreadsheet_id, title)
        if sheet is None:
            return google_error(400, f"Unable to parse range: {a1}", "INVALID_ARGUMENT")
        return self._values(sheet, method, verb, a1, (r1, c1, r2, c2), body)

    def _values(
        self, sheet: Sheet, method: str, verb: str | None, a1: str, box: tuple[Any, ...], body: Any
    ) -> JSONResponse:
        r1, c1, r2, c2 = box
        if method == "GET":
            rows = [row[c1 : None if c2 is None else c2 + 1] for row in sheet.rows[r1 : None if r2 is None else r2 + 1]]
            while rows and not any(cell not in ("", None) for cell in rows[-1]):
                rows.pop()
            return JSONResponse({"range": a1, "majorDimension": "ROWS", "values": rows})
        if verb == "clear":
            for row in sheet.rows[r1 : None if r2 is None else r2 + 1]:
                for index in range(c1, len(row) if c2 is None else min(c2 + 1, len(row))):
                    row[index] = ""
            return JSONResponse({"clearedRange": a1})
        values = body["values"]
        start = len([row for row in sheet.rows if any(cell not in ("", None) for cell in row)]) if verb else r1
        for offset, values_row in enumerate(values):
            while len(sheet.rows) <= start + offset:
                sheet.rows.append([])
            row = sheet.rows[start + offset]
            while len(row) < c1 + len(values_row):
                row.append("")
            row[c1 : c1 + len(values_row)] = values_row
        width = max((len(row) for row in values), default=0)
        updated = {
            "updatedRange": f"'{sheet.title}'!A{start + 1}",
            "updatedRows": len(values),
            "updatedColumns": width,
            "updatedCells": sum(len(row) for row in values),
        }
        return JSONResponse({"updates": updated} if verb == "append" else updated)

    @staticmethod
    def _props(sheet: Sheet) -> dict[str, Any]:
        return {"sheetId": sheet.sheet_id, "title": sheet.title, "index": 0, "sheetType": "GRID"}

    def _create(self, body: dict[str, Any]) -> JSONResponse:
        spreadsheet_id = uuid.uuid4().hex
        titles = [s["properties"]["title"] for s in body.get("sheets", [])] or ["Sheet1"]
        self.spreadsheets[spreadsheet_id] = [Sheet(index * 1000, title) for index, title in enumerate(titles)]
        title = body.get("properties", {}).get("title", "Untitled spreadsheet")
        self.drive[spreadsheet_id] = DriveFile(spreadsheet_id, title, SPREADSHEET, ["root"])
        return JSONResponse(
            {
                "spreadsheetId": spreadsheet_id,
                "properties": {"title": title},
                "sheets": [{"properties": self._props(s)} for s in self.spreadsheets[spreadsheet_id]],
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit",
            }
        )

    def _batch(self, spreadsheet_id: str, requests: list[dict[str, Any]]) -> JSONResponse:
        sheets = self.spreadsheets[spreadsheet_id]
        replies: list[dict[str, Any]] = []
        for request in requests:
            [(kind, spec)] = request.items()
            if kind == "addSheet":
                title = spec["properties"]["title"]
                if self._sheet(spreadsheet_id, title):
                    message = f'A sheet with the name "{title}" already exists.'
                    return google_error(400, message, "INVALID_ARGUMENT")
                added = Sheet(max(s.sheet_id for s in sheets) + 1, title)
                sheets.append(added)
                replies.append({"addSheet": {"properties": self._props(added)}})
                continue
            sheet_id = spec.get(
                "sheetId", spec.get("properties", {}).get("sheetId", spec.get("range", {}).get("sheetId"))
            )
            sheet = next((s for s in sheets if s.sheet_id == sheet_id), None)
            if sheet is None:
                return google_error(400, f"No grid with id: {sheet_id}", "INVALID_ARGUMENT")
            if kind == "updateSheetProperties":
                sheet.title = spec["properties"]["title"]
            elif kind == "deleteSheet":
                sheets.remove(sheet)
            elif kind == "deleteDimension":
                del sheet.rows[spec["range"]["startIndex"] : spec["range"]["endIndex"]]
            replies.append({})
        return JSONResponse({"spreadsheetId": spreadsheet_id, "replies": replies})
