"""The files a Google Drive upload sends.

A string (plaintext) or `{"base64": …}` until the file-generator package (issue 26,
`ratchet.files`) lands; then its parse/generate pair replaces this module.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from dataclasses import dataclass
from typing import Any

from ratchet.actions.base import ActionOptionsError, PermanentActionError

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class DriveFile:
    content: bytes
    text: bool


def parse_upload(field_name: str, generator: Any) -> DriveFile:
    if isinstance(generator, str):
        return DriveFile(generator.encode("utf-8"), True)
    if isinstance(generator, dict) and set(generator) == {"base64"} and isinstance(generator["base64"], str):
        try:
            return DriveFile(base64.b64decode(generator["base64"], validate=True), False)
        except binascii.Error as error:
            raise ActionOptionsError(field_name, f"invalid base64: {error}") from error
    raise ActionOptionsError(field_name, "must be a string or a base64 file generator")


async def generate_upload(path: str, file: DriveFile) -> tuple[bytes, str]:
    if len(file.content) > MAX_FILE_BYTES:
        raise PermanentActionError(f"file {path!r} is larger than {MAX_FILE_BYTES:,} bytes")
    mime_type = mimetypes.guess_type(path)[0] or ("text/plain" if file.text else "application/octet-stream")
    return file.content, mime_type
