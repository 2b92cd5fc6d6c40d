"""Files the `files` action keeps, served by the ingress at temporary random URLs until they expire.

Layout under RATCHET_HOME/files: one directory per file, named by its unguessable token, holding
`content` and `meta.json` ({shop_id, name, mime_type, size, created_at, expires_at, url}). A
directory appears whole (written aside, then renamed) so the ingress never serves half a file.
The worker that stores and the ingress that serves must see the same RATCHET_HOME (one host, or a
shared volume); with RATCHET_FILES_STORE set, an object store keeps them instead
(ratchet/files/object_storage.py) and `file_store` picks it.

Expired files are refused at once and deleted by the hourly retention pass.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from ratchet.files.generate import GeneratedFile

if TYPE_CHECKING:
    from ratchet.config import Settings

TOKEN_BYTES = 24  # 192 random bits: a URL nobody guesses
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class StoredFile:
    token: str
    shop_id: str
    name: str
    mime_type: str
    size: int
    created_at: str
    expires_at: str
    # Where the file is served until it expires (absent in the meta.json of older versions).
    url: str = ""

    @classmethod
    def of(
        cls, token: str, shop_id: str, file: GeneratedFile, now: datetime, expires_at: datetime, url: str
    ) -> StoredFile:
        """The record of `file`, kept under `token` from `now` until `expires_at` and served at `url`."""
        return cls(
            token=token,
            shop_id=shop_id,
            name=file.name,
            mime_type=file.mime_type,
            size=file.size,
            created_at=now.isoformat(),
            expires_at=expires_at.isoformat(),
            url=url,
        )


class FileStore(Protocol):
    """Keeps generated files until they expire: FileStorage or ObjectStorage."""

    def save(self, shop_id: str, file: GeneratedFile, now: datetime, expires_at: datetime) -> StoredFile:
        """Keep `file` until `expires_at`; the result says where it is served."""
        ...

    def purge_expired(self, now: datetime) -> int:
        """Delete the files whose time has passed; how many went."""
        ...


def file_store(settings: Settings) -> FileStore:
    """Where the `files` action keeps files: RATCHET_FILES_STORE's object store, else RATCHET_HOME/files."""
    if settings.files_store:
        return _object_storage(settings.files_store)
    return FileStorage.under(settings.home, settings.ingress.base_url)


@functools.cache
def _object_storage(store_url: str) -> FileStore:
    """One client per store and process: building a boto3 client takes ~6 ms, the first ~0.5 s (boto3's import)."""
    # Imported only when configured: boto3 is an optional dependency (extra `s3`).
    from ratchet.files.object_storage import ObjectStorage

    return ObjectStorage(store_url)


class FileStorage:
    def __init__(self, root: Path, base_url: str = "") -> None:
        self.root = root
        # The ingress's public URL, which the saved files' URLs start with.
        self.base_url = base_url

    @classmethod
    def under(cls, home: Path, base_url: str = "") -> FileStorage:
        return cls(home / "files", base_url)

    def save(self, shop_id: str, file: GeneratedFile, now: datetime, expires_at: datetime) -> StoredFile:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        url = f"{self.base_url}/files/{token}/{quote(file.name.rpartition('/')[2])}"
        stored = StoredFile.of(token, shop_id, file, now, expires_at, url)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".{stored.token}.partial"
        staging.mkdir()
        (staging / "content").write_bytes(file.content)
        (staging / "meta.json").write_text(json.dumps(asdict(stored)))
        os.replace(staging, self.root / stored.token)
        return stored

    def find(self, token: str, now: datetime) -> tuple[StoredFile, Path] | None:
        """The unexpired file named by `token` and the path of its content, or None."""
        if not token or not set(token) <= _TOKEN_CHARS:
            return None  # also keeps "..", "/" and hidden staging names out of the path
        directory = self.root / token
        try:
            stored = StoredFile(**json.loads((directory / "meta.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if datetime.fromisoformat(stored.expires_at) <= now:
            return None
        return stored, directory / "content"

    def purge_expired(self, now: datetime) -> int:
        """Delete expired files (and staging left by a crash); how many files went."""
        if not self.root.is_dir():
            return 0
        purged = 0
        for directory in self.root.iterdir():
            if directory.name.startswith("."):
                if directory.stat().st_mtime < now.timestamp() - 3600:  # an hour-old write is abandoned
                    shutil.rmtree(directory, ignore_errors=True)
                continue
            try:
                expires_at = datetime.fromisoformat(json.loads((directory / "meta.json").read_text())["expires_at"])
            except (OSError, ValueError, KeyError):
                continue  # not ours, or being written
            if expires_at <= now:
                shutil.rmtree(directory, ignore_errors=True)
                purged += 1
        return purged
