"""Files the `files` action keeps in an S3-compatible object store, served by presigned URLs.

Set `RATCHET_FILES_STORE=s3://bucket/prefix` (query parameters `endpoint_url` for another
S3-compatible service, `region`); credentials come from the AWS environment as boto3 reads them
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance role), never from Ratchet.
Workers then need no shared RATCHET_HOME for files, and the ingress does not serve them: each
file's URL is a presigned GetObject URL that expires with the file
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html), asking
for the file as an attachment under its name (`response-content-disposition`).

Keys are `<prefix>/files/<expiry, epoch seconds, 12 digits>/<token>/<name>`: a listing comes
back in key order (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html), so
the retention pass reads expired keys first and stops at the first one still valid, deleting in
batches of up to 1,000 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
A presigned URL lives at most 7 days (SigV4), so RATCHET_FILES_TTL_HOURS may not exceed 168 here.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ratchet.errors import InvalidInput
from ratchet.files.generate import GeneratedFile
from ratchet.files.storage import TOKEN_BYTES, StoredFile

# SigV4 presigned URLs expire after at most 604,800 seconds.
MAX_URL_SECONDS = 7 * 24 * 3600
_DELETE_BATCH = 1000


class ObjectStorage:
    """The object store behind RATCHET_FILES_STORE (blocking calls; callers use threads)."""

    def __init__(self, store_url: str) -> None:
        parts = urlsplit(store_url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = sorted(set(query) - {"endpoint_url", "region"})
        if parts.scheme != "s3" or not parts.netloc or unknown:
            raise InvalidInput(
                f"RATCHET_FILES_STORE must be s3://bucket/prefix[?endpoint_url=…&region=…], got {store_url!r}"
            )
        try:
            import boto3
            from botocore.config import Config
        except ImportError as error:
            raise InvalidInput("RATCHET_FILES_STORE needs boto3: uv sync --extra s3") from error
        self.bucket = parts.netloc
        self.prefix = "/".join(part for part in (parts.path.strip("/"), "files") if part)
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=query.get("endpoint_url"),
            region_name=query.get("region"),
            # SigV4 everywhere: botocore would presign with the legacy SigV2 for some endpoints.
            config=Config(signature_version="s3v4"),
        )

    def save(self, shop_id: str, file: GeneratedFile, now: datetime, expires_at: datetime) -> StoredFile:
        seconds = int((expires_at - now).total_seconds())
        if seconds > MAX_URL_SECONDS:
            raise InvalidInput(
                "RATCHET_FILES_TTL_HOURS is above 168: an object store's presigned URLs live at most 7 days"
            )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        basename = file.name.rpartition("/")[2]
        key = f"{self.prefix}/{int(expires_at.timestamp()):012d}/{token}/{basename}"
        self._client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=file.content,
            ContentType=file.mime_type,
            Metadata={"shop-id": shop_id, "expires-at": expires_at.isoformat()},
        )
        url = self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(basename)}",
                "ResponseContentType": file.mime_type,
            },
            ExpiresIn=max(1, seconds),
        )
        return StoredFile.of(token, shop_id, file, now, expires_at, url)

    def purge_expired(self, now: datetime) -> int:
        """Delete the objects whose expiry has passed; how many went."""
        cutoff = f"{self.prefix}/{int(now.timestamp()):012d}/"
        expired: list[str] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/")
        for page in pages:
            keys = [item["Key"] for item in page.get("Contents", [])]
            expired += [key for key in keys if key < cutoff]
            if any(key >= cutoff for key in keys):
                break  # key order is expiry order: the rest are still valid
        for start in range(0, len(expired), _DELETE_BATCH):
            batch = [{"Key": key} for key in expired[start : start + _DELETE_BATCH]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(expired)
