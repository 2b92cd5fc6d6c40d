"""Digest, HMAC and base64 filters (Shopify's and Mechanic's, incl. deprecated ones)."""

from __future__ import annotations

import base64
import binascii
import gzip as gzip_module
import hashlib
import hmac
from collections.abc import Callable

from liquid import Environment
from liquid.exceptions import FilterArgumentError
from liquid.undefined import Undefined


def _bytes(value: object) -> bytes:
    if value is None or isinstance(value, Undefined):
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode("utf-8")


def _digest(algorithm: str) -> Callable[[object], str]:
    def digest(value: object) -> str:
        return hashlib.new(algorithm, _bytes(value)).hexdigest()

    digest.__name__ = algorithm
    return digest


def _hmac(algorithm: str) -> Callable[[object, object], str]:
    def sign(value: object, secret: object) -> str:
        return hmac.new(_bytes(secret), _bytes(value), algorithm).hexdigest()

    sign.__name__ = f"hmac_{algorithm}"
    return sign


def base64_encode(value: object) -> str:
    return base64.b64encode(_bytes(value)).decode("ascii")


def base64url_encode(value: object) -> str:
    return base64.urlsafe_b64encode(_bytes(value)).decode("ascii")


def _decode(value: object, decoder: Callable[[bytes], bytes], name: str) -> str:
    raw = _bytes(value).strip()
    raw += b"=" * (-len(raw) % 4)
    try:
        data = decoder(raw)
    except (binascii.Error, ValueError) as err:
        raise FilterArgumentError(f"{name}: invalid base64 input", token=None) from err
    # Binary payloads are kept byte-for-byte as latin-1 code points.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_base64(value: object) -> str:
    return _decode(value, base64.b64decode, "decode_base64")


def decode_base64url(value: object) -> str:
    return _decode(value, base64.urlsafe_b64decode, "decode_base64url")


def gzip(value: object) -> str:
    """Gzip then base64 (Liquid strings cannot carry raw bytes)."""
    return base64.b64encode(gzip_module.compress(_bytes(value), mtime=0)).decode("ascii")


def gunzip(value: object) -> str:
    try:
        return gzip_module.decompress(base64.b64decode(_bytes(value))).decode("utf-8")
    except (OSError, binascii.Error, UnicodeDecodeError) as err:
        raise FilterArgumentError("gunzip: input is not base64-encoded gzip data", token=None) from err


def register(env: Environment) -> None:
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        env.add_filter(algorithm, _digest(algorithm))
    for algorithm in ("sha1", "sha256", "sha512"):
        env.add_filter(f"hmac_{algorithm}", _hmac(algorithm))
    env.add_filter("base64", base64_encode)
    env.add_filter("decode_base64", decode_base64)
    env.add_filter("base64url", base64url_encode)
    env.add_filter("decode_base64url", decode_base64url)
    env.add_filter("gzip", gzip)
    env.add_filter("gunzip", gunzip)
