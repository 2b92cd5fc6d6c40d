"""files: generate files and keep them at temporary random URLs (spec 7.7).

Options are `{filename: file generator}`; the result has the same keys, each
`{expires_at (ISO 8601), mime_type, name, size, url}`. Files live under RATCHET_HOME/files
(ratchet.files.storage), the ingress serves them at `RATCHET_PUBLIC_URL/files/<token>/<name>`
until RATCHET_FILES_TTL_HOURS pass, and the retention pass deletes them after that; with
RATCHET_FILES_STORE an object store keeps them, at presigned URLs (ratchet/files/object_storage.py).
https://learn.mechanic.dev/core/actions/files
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, register
from ratchet.core.clock import utcnow
from ratchet.files import FileSpec, generate_files, parse_files
from ratchet.files.storage import file_store


class FilesAction:
    type: ClassVar[str] = "files"

    def validate(self, options: Any) -> dict[str, FileSpec]:
        if not isinstance(options, dict) or not options:
            raise ActionOptionsError("options", "must be a hash of filename to file generator")
        return parse_files("files", options)

    async def perform(self, options: dict[str, FileSpec], ctx: ActionContext) -> dict[str, Any]:
        files = await generate_files(options, ctx.settings.pdf_browser)
        # Off the event loop: the first use of an object store builds its client (boto3 loads for ~0.5 s).
        storage = await asyncio.to_thread(file_store, ctx.settings)
        now = utcnow()
        expires_at = now + ctx.settings.scaled(ctx.settings.files_ttl_hours * 3600)
        result: dict[str, Any] = {}
        for name, file in files.items():
            stored = await asyncio.to_thread(storage.save, ctx.shop.id, file, now, expires_at)
            result[name] = {
                "expires_at": stored.expires_at,
                "mime_type": stored.mime_type,
                "name": name,
                "size": stored.size,
                "url": stored.url,
            }
        return result


register(FilesAction())
