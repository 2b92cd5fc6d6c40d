"""files action: generated files kept under RATCHET_HOME and served by the real ingress until they expire."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from ratchet.actions.base import ActionContext, ActionOptionsError, get_handler
from ratchet.config import Settings
from ratchet.engine.devserver import free_port
from ratchet.errors import InvalidInput
from ratchet.files import FileGenerationError, GeneratedFile
from ratchet.files.storage import FileStorage, file_store
from tests.support.ingress import Ingress

handler = get_handler("files")
MakeCtx = Callable[..., ActionContext]


@pytest.mark.parametrize("options", [{}, ["a.txt"], None])
def test_options_must_name_files(options: Any) -> None:
    with pytest.raises(ActionOptionsError):
        handler.validate(options)


async def test_files_are_served_at_random_urls_until_they_expire(
    base_settings: Settings, ingress: Ingress, make_ctx: MakeCtx, http: httpx.AsyncClient
) -> None:
    settings = base_settings.updated(ingress={"public_url": ingress.url})
    options: dict[str, Any] = {
        "journal.txt": "hello world!",
        "table.csv": "Title,SKU\nRed T-Shirt,TEE-R",
        "secure.zip": {"zip": {"password": "opensesame", "files": {"confirmations.txt": "zipcrypto"}}},
    }
    started = datetime.now().astimezone()
    result = await handler.perform(handler.validate(options), make_ctx(settings=settings))
    assert set(result) == set(options)
    journal = result["journal.txt"]
    assert journal["name"] == "journal.txt" and journal["size"] == 12 and journal["mime_type"] == "text/plain"
    assert journal["url"].startswith(f"{ingress.url}/files/") and journal["url"].endswith("/journal.txt")
    # Expiry: RATCHET_FILES_TTL_HOURS (a week), scaled like every engine duration.
    expires_at = datetime.fromisoformat(journal["expires_at"])
    ttl = settings.scaled(settings.files_ttl_hours * 3600)
    assert started + ttl - timedelta(minutes=1) < expires_at < started + ttl + timedelta(minutes=1)

    response = await http.get(journal["url"])
    assert response.status_code == 200 and response.content == b"hello world!"
    assert response.headers["content-type"].startswith("text/plain")
    assert 'attachment; filename="journal.txt"' in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"
    archive = zipfile.ZipFile(io.BytesIO((await http.get(result["secure.zip"]["url"])).content))
    assert archive.read("confirmations.txt", pwd=b"opensesame") == b"zipcrypto"

    # Each file has its own unguessable token; a wrong one (or a tampered one) is a plain 404.
    assert len({r["url"].split("/")[-2] for r in result.values()}) == 3
    token = journal["url"].split("/")[-2]
    for path in (f"/files/{token[:-1]}x/journal.txt", "/files/..%2F..%2Fratchet.db/x", "/files/.x.partial/x"):
        assert (await http.get(ingress.url + path)).status_code == 404


def test_expired_files_are_refused_and_purged(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "files")
    now = datetime.fromisoformat("2026-12-01T00:00:00+00:00")
    kept = storage.save("shop", GeneratedFile("a.txt", b"a", "text/plain"), now, now + timedelta(hours=2))
    gone = storage.save("shop", GeneratedFile("b.txt", b"b", "text/plain"), now, now + timedelta(hours=1))
    later = now + timedelta(hours=1, minutes=30)
    assert storage.find(gone.token, now) is not None
    assert storage.find(gone.token, later) is None  # refused the moment it expires
    assert storage.purge_expired(later) == 1
    assert not (tmp_path / "files" / gone.token).exists()
    found = storage.find(kept.token, later)
    assert found is not None and found[1].read_bytes() == b"a"


async def test_a_generator_failure_fails_the_run_naming_the_file(make_ctx: MakeCtx, http_server: str) -> None:
    options = handler.validate({"ok.txt": "fine", "report.pdf": {"url": f"{http_server}/status/404"}})
    with pytest.raises(FileGenerationError, match=r"file 'report.pdf': GET .* returned HTTP 404") as raised:
        await handler.perform(options, make_ctx())
    assert not raised.value.retryable


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """Moto's S3 server: an independent implementation of Amazon S3's REST API, on loopback."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


async def test_an_object_store_keeps_files_at_presigned_urls_and_retention_deletes_them(
    base_settings: Settings,
    make_ctx: MakeCtx,
    http: httpx.AsyncClient,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    bucket = f"ratchet-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    settings = base_settings.updated(files_store=f"s3://{bucket}/shop-files?endpoint_url={s3_endpoint}")
    options = {"report é.csv": "Title,SKU\nRed T-Shirt,TEE-R", "kept.txt": "later"}
    result = await handler.perform(handler.validate(options), make_ctx(settings=settings))
    report = result["report é.csv"]
    assert report["url"].startswith(f"{s3_endpoint}/{bucket}/shop-files/files/") and "X-Amz-Signature=" in report["url"]
    response = await http.get(report["url"])
    assert response.status_code == 200 and response.content == b"Title,SKU\nRed T-Shirt,TEE-R"
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''report%20%C3%A9.csv"

    # The retention pass deletes what has expired and stops at what has not.
    store = file_store(settings)
    assert store.purge_expired(datetime.fromisoformat(report["expires_at"]) - timedelta(minutes=1)) == 0
    assert store.purge_expired(datetime.fromisoformat(report["expires_at"]) + timedelta(seconds=1)) == 2
    listed = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=bucket)
    assert listed.get("KeyCount") == 0


def test_an_object_store_url_is_checked_and_its_urls_live_at_most_a_week(
    base_settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidInput, match=r"RATCHET_FILES_STORE must be s3://bucket/prefix"):
        file_store(base_settings.updated(files_store="gs://bucket"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = file_store(base_settings.updated(files_store=f"s3://b?endpoint_url={s3_endpoint}"))
    now = datetime.fromisoformat("2026-12-01T00:00:00+00:00")
    with pytest.raises(InvalidInput, match="presigned URLs live at most 7 days"):
        store.save("shop", GeneratedFile("a.txt", b"a", "text/plain"), now, now + timedelta(days=8))
