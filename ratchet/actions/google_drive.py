r"""google_drive: upload generated files to Google Drive.

Spec 7.9, https://learn.mechanic.dev/core/actions/integrations/google-drive.

Options `{account, uploads: {overwrite?: bool, "dir/sub/file.ext": generator}}`. Folders in a
path are found or created under the Drive root, one level at a time; with `drive.file` access
only folders this integration created are visible, as Mechanic documents. Names may not contain
`< > : " / \\ | ? *`. `overwrite: true` replaces the content of a same-named file in the folder;
otherwise a new file is created (Drive allows equal names).

Drive calls (https://developers.google.com/workspace/drive/api/reference/rest/v3/files):
`files.list` with a `q` search (guides/search-files), `files.create` for a folder
(mimeType `application/vnd.google-apps.folder`, guides/folder), and a multipart upload
(`uploadType=multipart`, guides/manage-uploads#multipart) to create or update a file.

Result `{uploads: {path: {id, name, mime_type, web_view_link, path}}}`. Uploads are not retried
after a 5xx or timeout (Drive may have stored the file); 429 is.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, register
from ratchet.actions.google_auth import GoogleSession, google_client
from ratchet.actions.integration_request import account_option
from ratchet.files import FileSpec, generate_files, parse_files

FOLDER_MIME_TYPE = "application/vnd.google-apps.folder"
INVALID_NAME = re.compile(r'[<>:"\\|?*]')
FILE_FIELDS = "id,name,mimeType,webViewLink"


@dataclass(frozen=True)
class Upload:
    """One file to upload: its path as the task wrote it, split into folders and a name."""

    path: str
    folders: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class DriveUploads:
    """Validated options: the account, the overwrite flag, the uploads and their file generators."""

    account: str
    overwrite: bool
    uploads: tuple[Upload, ...]
    files: dict[str, FileSpec]


def _split_path(path: str) -> tuple[tuple[str, ...], str]:
    parts = path.split("/")
    for part in parts:
        if not part.strip():
            raise ActionOptionsError(f"uploads.{path}", "has an empty folder or file name")
        if INVALID_NAME.search(part):
            raise ActionOptionsError(f"uploads.{path}", 'names may not contain < > : " / \\ | ? *')
    return tuple(parts[:-1]), parts[-1]


def _quoted(value: str) -> str:
    """A string literal of Drive's query language: backslash and single quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def multipart_related(metadata: dict[str, Any], content: bytes, mime_type: str) -> tuple[bytes, str]:
    """The body and Content-Type of a Drive multipart upload: JSON metadata part, then the media part."""
    boundary = f"ratchet-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(metadata)}\r\n"
        f"--{boundary}\r\nContent-Type: {mime_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--".encode(), f"multipart/related; boundary={boundary}"


class GoogleDriveAction:
    type: ClassVar[str] = "google_drive"

    def validate(self, options: Any) -> DriveUploads:
        account = account_option(options)
        uploads = options.get("uploads")
        if not isinstance(uploads, dict) or not [key for key in uploads if key != "overwrite"]:
            raise ActionOptionsError("uploads", "must be a hash of file path to file generator")
        overwrite = uploads.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise ActionOptionsError("uploads.overwrite", f"must be true or false, got {overwrite!r}")
        generators = {path: generator for path, generator in uploads.items() if path != "overwrite"}
        parsed = tuple(Upload(path, *_split_path(path)) for path in generators)
        return DriveUploads(account, overwrite, parsed, parse_files("uploads", generators))

    async def perform(self, options: DriveUploads, ctx: ActionContext) -> dict[str, Any]:
        results: dict[str, Any] = {}
        # Every file is generated before the first upload: a failing generator uploads nothing.
        files = await generate_files(options.files, ctx.settings.pdf_browser)
        async with google_client() as client:
            session = await GoogleSession.open(ctx, options.account, client)
            drive = Drive(session, ctx.settings.integrations.google_api_url)
            for upload in options.uploads:
                file = files[upload.path]
                parent = await drive.folder(upload.folders)
                existing = await drive.find(upload.name, parent) if options.overwrite else None
                stored = await drive.upload(upload.name, parent, file.content, file.mime_type, existing)
                results[upload.path] = {
                    "id": stored.get("id"),
                    "name": stored.get("name"),
                    "mime_type": stored.get("mimeType"),
                    "web_view_link": stored.get("webViewLink"),
                    "path": "/".join(upload.folders),
                }
        return {"uploads": results}


class Drive:
    """Drive v3 folders and uploads of one session; folder ids are remembered for the run."""

    def __init__(self, session: GoogleSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        self.folders: dict[tuple[str, ...], str] = {(): "root"}

    async def find(self, name: str, parent: str, *, folder: bool = False) -> str | None:
        query = f"name = {_quoted(name)} and {_quoted(parent)} in parents and trashed = false"
        query += f" and mimeType {'=' if folder else '!='} {_quoted(FOLDER_MIME_TYPE)}"
        found = await self.session.request(
            "GET", f"{self.base_url}/drive/v3/files", params={"q": query, "fields": "files(id,name)", "pageSize": 1}
        )
        files = found.get("files") if isinstance(found, dict) else None
        return str(files[0]["id"]) if files else None

    async def folder(self, path: tuple[str, ...]) -> str:
        """The id of the folder at `path`, created level by level where missing."""
        if path in self.folders:
            return self.folders[path]
        parent = await self.folder(path[:-1])
        found = await self.find(path[-1], parent, folder=True)
        if found is None:
            created = await self.session.request(
                "POST",
                f"{self.base_url}/drive/v3/files",
                params={"fields": "id"},
                json={"name": path[-1], "mimeType": FOLDER_MIME_TYPE, "parents": [parent]},
                retry_transient=False,
            )
            found = str(created["id"])
        self.folders[path] = found
        return found

    async def move(self, file_id: str, folder: str) -> None:
        """Put a file (a new spreadsheet) into `folder`, out of the Drive root (`files.update`)."""
        await self.session.request(
            "PATCH",
            f"{self.base_url}/drive/v3/files/{file_id}",
            params={"addParents": folder, "removeParents": "root", "fields": "id"},
            json={},
        )

    async def export(self, file_id: str, mime_type: str) -> tuple[str, bytes]:
        """A Google file's name and its content exported as `mime_type` (`files.get`, `files.export`)."""
        metadata = await self.session.request(
            "GET", f"{self.base_url}/drive/v3/files/{file_id}", params={"fields": "name"}
        )
        content = await self.session.request(
            "GET", f"{self.base_url}/drive/v3/files/{file_id}/export", params={"mimeType": mime_type}
        )
        if not isinstance(content, bytes):
            content = json.dumps(content).encode("utf-8")
        return str(metadata.get("name") or file_id), content

    async def upload(self, name: str, parent: str, content: bytes, mime_type: str, existing: str | None) -> Any:
        metadata: dict[str, Any] = {"name": name, "mimeType": mime_type}
        if existing is None:
            metadata["parents"] = [parent]
        body, content_type = multipart_related(metadata, content, mime_type)
        url = f"{self.base_url}/upload/drive/v3/files" + (f"/{existing}" if existing else "")
        return await self.session.request(
            "PATCH" if existing else "POST",
            url,
            params={"uploadType": "multipart", "fields": FILE_FIELDS},
            content=body,
            headers={"Content-Type": content_type},
            retry_transient=existing is not None,  # replacing content is idempotent, creating is not
        )


register(GoogleDriveAction())
