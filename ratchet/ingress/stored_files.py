"""GET /files/{token}/{name}: a file the `files` action kept, until it expires (ratchet.files.storage).

The token alone decides which file is served (the name in the URL is for people and browsers);
an unknown, malformed or expired token is a plain 404, so the answer never tells which tokens
existed. Files are served as attachments with `nosniff`, so a generated HTML file cannot run
script in the ingress's origin.
"""

from __future__ import annotations

import asyncio

from starlette.responses import FileResponse, PlainTextResponse, Response

from ratchet.core.clock import utcnow
from ratchet.files.storage import FileStorage


async def stored_file_response(storage: FileStorage, token: str) -> Response:
    found = await asyncio.to_thread(storage.find, token, utcnow())
    if found is None:
        return PlainTextResponse("not found", status_code=404)
    stored, path = found
    return FileResponse(
        path,
        media_type=stored.mime_type,
        filename=stored.name.rpartition("/")[2],
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
