"""A bulk operation's JSONL result file: downloaded as a stream, indexed, read lazily by the render.

Result files can be hundreds of MB, so no step holds one whole:

* `download_results` streams the file from Shopify's signed URL into `results.jsonl.part`,
  appending to what an interrupted attempt already wrote (HTTP Range), and renames it
  `results.jsonl` when complete.
* `build_index` makes `index.sqlite` beside it in one pass: the byte offset of every object
  line, and the `id` of objects that have one, so `object.__parent` is a lookup, not a scan.
* `BulkResults.objects` is a read-only sequence over the file for Liquid: `for` loops and
  filters iterate it line by line; indexing and `__parent` seek to one line.

Only the directory's path travels in events and workflow payloads (Temporal limits payloads to
a few MB).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, overload

import httpx

from ratchet.liquid.lazy import LazySequence

RESULTS_FILE = "results.jsonl"
PARTIAL_FILE = "results.jsonl.part"
INDEX_FILE = "index.sqlite"
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
INDEX_BATCH_ROWS = 5000
# Parents are looked up once per child (`line_item.__parent.__parent`); a bounded cache keeps
# repeated parents cheap without growing with the file.
PARENT_CACHE_SIZE = 4096


class ResultsUnavailable(RuntimeError):
    """The result file is gone (retention) or was never downloaded on this machine."""


async def download_results(
    url: str,
    directory: Path,
    *,
    on_progress: Callable[[int], Awaitable[None] | None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Stream `url` into `directory/results.jsonl`, resuming a partial download; returns the file.

    The URL is a signed storage URL: it must not carry the shop's access token, so this is a
    plain HTTP client, not the Shopify one.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / RESULTS_FILE
    if final.exists():
        return final
    partial = directory / PARTIAL_FILE
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=True) as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code == 416 and offset:
            # Everything was already written before the interruption.
            partial.rename(final)
            return final
        response.raise_for_status()
        # A server that ignores Range sends the whole file again: start over.
        mode = "ab" if response.status_code == 206 else "wb"
        written = offset if mode == "ab" else 0
        with partial.open(mode) as out:
            async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK_BYTES):
                out.write(chunk)
                written += len(chunk)
                if on_progress is not None:
                    pending = on_progress(written)
                    if pending is not None:
                        await pending
            out.flush()
            os.fsync(out.fileno())
    partial.rename(final)
    return final


def build_index(directory: Path) -> int:
    """Index `results.jsonl` (idempotent); returns the number of objects (non-blank lines)."""
    index = directory / INDEX_FILE
    if index.exists():
        with _connect(index) as db:
            return int(db.execute("SELECT value FROM meta WHERE key = 'count'").fetchone()[0])
    building = directory / f"{INDEX_FILE}.building"
    building.unlink(missing_ok=True)
    count = 0
    db = sqlite3.connect(building)
    try:
        db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE lines (n INTEGER PRIMARY KEY, offset INTEGER NOT NULL, id TEXT);"
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        )
        batch: list[tuple[int, int, str | None]] = []
        results = directory / RESULTS_FILE
        with results.open("rb") as lines:
            offset = 0
            for raw in lines:
                if raw.strip():
                    obj = json.loads(raw)
                    object_id = obj.get("id") if isinstance(obj, dict) else None
                    batch.append((count, offset, object_id if isinstance(object_id, str) else None))
                    count += 1
                    if len(batch) >= INDEX_BATCH_ROWS:
                        db.executemany("INSERT INTO lines VALUES (?, ?, ?)", batch)
                        batch.clear()
                offset += len(raw)
        db.executemany("INSERT INTO lines VALUES (?, ?, ?)", batch)
        db.execute("CREATE INDEX lines_id ON lines (id)")
        db.execute("INSERT INTO meta VALUES ('count', ?)", (str(count),))
        db.commit()
    finally:
        db.close()
    # The rename is the commit point: an index file that exists is complete.
    building.rename(index)
    return count


def delete_results(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def _connect(path: Path) -> sqlite3.Connection:
    # Read-only, and usable from the render thread that the activity hands the render to.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


class BulkObject(dict[str, Any]):
    """One result object; `object.__parent` resolves `__parentId` to the parent object (Mechanic)."""

    __slots__ = ("_results",)

    def __init__(self, values: dict[str, Any], results: BulkResults | InMemoryResults) -> None:
        super().__init__(values)
        self._results = results

    def __missing__(self, key: str) -> Any:
        parent_id = dict.get(self, "__parentId")
        if key == "__parent" and isinstance(parent_id, str):
            parent = self._results.find(parent_id)
            if parent is not None:
                return parent
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class InMemoryResults:
    """Objects given as a list (previews, hand-written events): `__parent` resolves among them."""

    def __init__(self, items: list[Any]) -> None:
        self.objects = [BulkObject(item, self) if isinstance(item, dict) else item for item in items]
        self._by_id: dict[str, BulkObject] = {}
        for obj in self.objects:
            if isinstance(obj, BulkObject) and isinstance(obj.get("id"), str):
                self._by_id.setdefault(obj["id"], obj)

    def find(self, object_id: str) -> BulkObject | None:
        return self._by_id.get(object_id)


class BulkResults:
    """An indexed result file, open for reading. Use as a context manager; `objects` is lazy."""

    def __init__(self, directory: Path) -> None:
        index = directory / INDEX_FILE
        results = directory / RESULTS_FILE
        if not index.exists() or not results.exists():
            raise ResultsUnavailable(f"bulk operation results are not available in {directory}")
        self._db = _connect(index)
        self._file = results.open("rb")
        self._path = results
        self.count = int(self._db.execute("SELECT value FROM meta WHERE key = 'count'").fetchone()[0])
        self._parents: OrderedDict[str, BulkObject | None] = OrderedDict()
        self.objects = BulkObjects(self)

    def __enter__(self) -> BulkResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._db.close()

    def _read_at(self, offset: int) -> BulkObject:
        self._file.seek(offset)
        return BulkObject(json.loads(self._file.readline()), self)

    def at(self, position: int) -> BulkObject:
        row = self._db.execute("SELECT offset FROM lines WHERE n = ?", (position,)).fetchone()
        if row is None:
            raise IndexError(position)
        return self._read_at(int(row[0]))

    def find(self, object_id: str) -> BulkObject | None:
        """The first object with this `id`, or None."""
        if object_id in self._parents:
            self._parents.move_to_end(object_id)
            return self._parents[object_id]
        row = self._db.execute("SELECT offset FROM lines WHERE id = ? ORDER BY n LIMIT 1", (object_id,)).fetchone()
        found = self._read_at(int(row[0])) if row is not None else None
        self._parents[object_id] = found
        if len(self._parents) > PARENT_CACHE_SIZE:
            self._parents.popitem(last=False)
        return found

    def iterate(self) -> Iterator[BulkObject]:
        # Its own file handle, so nested loops over the same objects do not disturb each other.
        with self._path.open("rb") as lines:
            for raw in lines:
                if raw.strip():
                    yield BulkObject(json.loads(raw), self)


class BulkObjects(LazySequence):
    """`bulkOperation.objects`: every line in file order, read on demand."""

    def __init__(self, results: BulkResults) -> None:
        self._results = results

    def __len__(self) -> int:
        return self._results.count

    def __iter__(self) -> Iterator[BulkObject]:
        return self._results.iterate()

    @overload
    def __getitem__(self, index: int) -> BulkObject: ...

    @overload
    def __getitem__(self, index: slice) -> list[BulkObject]: ...

    def __getitem__(self, index: int | slice) -> BulkObject | list[BulkObject]:
        if isinstance(index, slice):
            return [self._results.at(i) for i in range(*index.indices(len(self)))]
        if not isinstance(index, int) or isinstance(index, bool):
            # Liquid asks `objects["size"]` before falling back to len(); TypeError means "no such key".
            raise TypeError(f"bulk operation objects are indexed by position, not {index!r}")
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(index)
        return self._results.at(position)

    def to_liquid_json(self) -> list[BulkObject]:
        """For the `json` filter: the whole list, which the task asked for explicitly."""
        return list(self)

    def __repr__(self) -> str:
        return f"<bulk operation objects: {len(self)}>"
