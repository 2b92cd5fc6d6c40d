"""Secrets at rest, encrypted.

Shop access tokens, webhook secrets and Mechanic-webhook HMAC secrets are stored encrypted
with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

Keys come from RATCHET_SECRET_KEY: one Fernet key, or several separated by commas — the first
encrypts, every one decrypts, which is how a key is rotated (`ratchet key rotate`). The
embedded default (no RATCHET_DATABASE_URL) generates a key into RATCHET_HOME/secret.key on first
use; with a database of your own the key is required, because a key lost with a server's disk
would make the database's secrets unreadable.

Stored values are `fernet:` + token. A value without the prefix was written before encryption
existed and is read as it is (`ratchet key rotate` encrypts it). A token that no key opens
raises SecretKeyError: a wrong key never yields garbage.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ratchet.config import Settings, load_settings
from ratchet.errors import RatchetError

PREFIX = "fernet:"
KEY_FILE = "secret.key"


class SecretKeyError(RatchetError):
    """The secret key is missing, malformed, or not the one the stored secrets were encrypted with."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _home_key(home: Path) -> str:
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # Created readable by the owner only, and never overwritten: it is the only copy.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(generate_key() + "\n")
    return path.read_text().strip()


def load_keyring(settings: Settings) -> MultiFernet:
    if settings.secret_key is not None:
        keys = [key.strip() for key in settings.secret_key.get_secret_value().split(",") if key.strip()]
    elif settings.database_url is None:
        keys = [_home_key(settings.home)]
    else:
        raise SecretKeyError(
            "RATCHET_SECRET_KEY is required with RATCHET_DATABASE_URL (it encrypts stored secrets); "
            "create one with `ratchet key generate` and keep it safe"
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise SecretKeyError(
            "RATCHET_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes, comma-separated); "
            "create one with `ratchet key generate`"
        ) from exc


_keyring: MultiFernet | None = None


def keyring() -> MultiFernet:
    """This process's keys, read from its settings on first use."""
    global _keyring
    if _keyring is None:
        _keyring = load_keyring(load_settings())
    return _keyring


def encrypt(plaintext: str) -> str:
    return PREFIX + keyring().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # written before secrets were encrypted
    try:
        return keyring().decrypt(stored.removeprefix(PREFIX).encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretKeyError(
            "cannot decrypt a stored secret: RATCHET_SECRET_KEY does not include the key it was encrypted with "
            "(to change keys, set RATCHET_SECRET_KEY=NEW,OLD and run `ratchet key rotate`)"
        ) from exc


class EncryptedString(TypeDecorator[str]):
    """A string column whose values are encrypted before they reach the database."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        stored = encrypt(value)
        length = getattr(self.impl, "length", None)
        if length is not None and len(stored) > length:
            raise ValueError(f"secret too long to store encrypted ({len(value)} characters)")
        return stored

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(str(value))
