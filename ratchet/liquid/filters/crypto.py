"""Digest, HMAC and base64 filters (Shopify's and Mechanic's, incl. deprecated ones)."""

from __future__ import annotations

import base64
import binascii
import gzip as gzip_module
import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from liquid import Environment
from liquid.exceptions import FilterArgumentError

from ratchet.core.secret_refs import has_references

from ..ruby import BinaryString, to_bytes


def _text_from(data: bytes, force_utf8: object) -> str:
    """Mechanic's `force_utf8` (default true): invalid UTF-8 is repaired, else kept as bytes."""
    if force_utf8 is False:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return BinaryString(data.decode("latin-1"))
    return data.decode("utf-8", errors="replace")


def _digest(algorithm: str) -> Callable[[object], str]:
    def digest(value: object) -> str:
        return hashlib.new(algorithm, to_bytes(value)).hexdigest()

    digest.__name__ = algorithm
    return digest


def _refuse_secret_reference(name: str, key: object) -> None:
    """Signing with a shop secret's reference would silently sign with the wrong key.

    Mechanic resolves secrets in signing filters; Ratchet resolves them only inside the action
    activity (http and ftp fields), so a rendered signature can never hold material derived in a
    render, and says so instead.
    """
    if isinstance(key, str) and has_references(key):
        raise FilterArgumentError(
            f"{name}: shop secrets cannot be used as signing keys in Ratchet (they are resolved only by "
            "http and ftp actions); store this key as a global or an option",
            token=None,
        )


def _hmac(algorithm: str) -> Callable[[object, object], str]:
    def sign(value: object, secret: object) -> str:
        _refuse_secret_reference(f"hmac_{algorithm}", secret)
        return hmac.new(to_bytes(secret), to_bytes(value), algorithm).hexdigest()

    sign.__name__ = f"hmac_{algorithm}"
    return sign


@lru_cache(maxsize=32)
def _rsa_key(pem: bytes) -> rsa.RSAPrivateKey | None:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key if isinstance(key, rsa.RSAPrivateKey) else None


def _rsa(algorithm: str, digest: Callable[[], hashes.HashAlgorithm]) -> Callable[..., str]:
    """RSASSA-PKCS1-v1_5 (JWS `RS256`/`RS512`); hex like the hmac filters, raw bytes with `binary: true`."""

    def sign(value: object, private_key_pem: object, *, binary: object = False) -> str:
        _refuse_secret_reference(f"rsa_{algorithm}", private_key_pem)
        key = _rsa_key(to_bytes(private_key_pem).strip())
        if key is None:
            raise FilterArgumentError(
                f"rsa_{algorithm}: the key is not an unencrypted RSA private key in PEM form", token=None
            )
        signature = key.sign(to_bytes(value), padding.PKCS1v15(), digest())
        return BinaryString(signature.decode("latin-1")) if binary is True else signature.hex()

    sign.__name__ = f"rsa_{algorithm}"
    return sign


def base64_encode(value: object) -> str:
    return base64.b64encode(to_bytes(value)).decode("ascii")


def base64url_encode(value: object) -> str:
    return base64.urlsafe_b64encode(to_bytes(value)).decode("ascii")


def _decode(value: object, decoder: Callable[[bytes], bytes], name: str, force_utf8: object) -> str:
    raw = to_bytes(value).strip()
    raw += b"=" * (-len(raw) % 4)
    try:
        data = decoder(raw)
    except (binascii.Error, ValueError) as err:
        raise FilterArgumentError(f"{name}: invalid base64 input", token=None) from err
    return _text_from(data, force_utf8)


def decode_base64(value: object, *, force_utf8: object = True) -> str:
    return _decode(value, base64.b64decode, "decode_base64", force_utf8)


def decode_base64url(value: object, *, force_utf8: object = True) -> str:
    return _decode(value, base64.urlsafe_b64decode, "decode_base64url", force_utf8)


def gzip(value: object) -> str:
    """Gzip-compressed bytes (binary; pipe through `base64` to put them in JSON)."""
    return BinaryString(gzip_module.compress(to_bytes(value)).decode("latin-1"))


def gunzip(value: object, *, force_utf8: object = True) -> str:
    try:
        data = gzip_module.decompress(to_bytes(value))
    except (OSError, EOFError) as err:
        raise FilterArgumentError("gunzip: input is not gzip data", token=None) from err
    return _text_from(data, force_utf8)


def register(env: Environment) -> None:
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        env.add_filter(algorithm, _digest(algorithm))
    for algorithm in ("sha1", "sha256", "sha512"):
        env.add_filter(f"hmac_{algorithm}", _hmac(algorithm))
    env.add_filter("rsa_sha256", _rsa("sha256", hashes.SHA256))
    env.add_filter("rsa_sha512", _rsa("sha512", hashes.SHA512))
    env.add_filter("base64", base64_encode)
    env.add_filter("decode_base64", decode_base64)
    env.add_filter("base64url", base64url_encode)
    env.add_filter("decode_base64url", decode_base64url)
    env.add_filter("gzip", gzip)
    env.add_filter("gunzip", gunzip)
