"""Secrets at rest: encrypted in both databases, readable only with the right key, rotatable."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import text

from ratchet.services.key_rotation import rotate_secrets
from ratchet.services.mechanic_webhooks import add_webhook, list_webhooks
from ratchet.store import secrets
from ratchet.store.database import Store
from ratchet.store.secrets import SecretKeyError, generate_key
from ratchet.store.tables import Shop
from tests.support.cli import REPO

TEST_KEY = os.environ["RATCHET_SECRET_KEY"]


@pytest.fixture
def use_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Switch this process's keys; the session's own key is back afterwards."""

    def use(*keys: str) -> None:
        monkeypatch.setattr(secrets, "_keyring", MultiFernet([Fernet(key) for key in keys]))

    yield use


def _shop_with_secrets(store: Store) -> str:
    shop_id = f"shop-{uuid.uuid4().hex[:10]}"
    with store.session() as session:
        session.add(Shop(id=shop_id, access_token="shpat_plain_token", webhook_secret="whsec_plain"))
    add_webhook(store, shop_id, "signed", "user/secret/test", secret="hmac_plain")
    return shop_id


def _raw(store: Store, shop_id: str) -> list[str]:
    with store.session() as session:
        shop = session.execute(
            text("SELECT access_token, webhook_secret FROM shops WHERE id = :id"), {"id": shop_id}
        ).one()
        hook = session.execute(text("SELECT secret FROM mechanic_webhooks WHERE shop_id = :id"), {"id": shop_id}).one()
    return [*shop, *hook]


def test_secrets_are_stored_encrypted_and_read_back_plain(db_store: Store) -> None:
    shop_id = _shop_with_secrets(db_store)
    raw = _raw(db_store, shop_id)
    assert all(value.startswith("fernet:") and "plain" not in value for value in raw)
    with db_store.session() as session:
        shop = session.get(Shop, shop_id)
    assert shop is not None and (shop.access_token, shop.webhook_secret) == ("shpat_plain_token", "whsec_plain")
    assert list_webhooks(db_store, shop_id)[0].secret == "hmac_plain"


def test_a_wrong_key_is_a_clear_error_never_garbage(db_store: Store, use_keys: Callable[..., None]) -> None:
    shop_id = _shop_with_secrets(db_store)
    use_keys(generate_key())
    with (
        pytest.raises(SecretKeyError, match="RATCHET_SECRET_KEY does not include the key"),
        db_store.session() as session,
    ):
        session.get(Shop, shop_id)


def test_rotation_re_encrypts_with_the_new_key(db_store: Store, use_keys: Callable[..., None]) -> None:
    shop_id = _shop_with_secrets(db_store)
    with db_store.session() as session:  # a value stored before encryption existed
        session.execute(text("UPDATE shops SET webhook_secret = 'legacy_plain' WHERE id = :id"), {"id": shop_id})
    new_key = generate_key()
    use_keys(new_key, TEST_KEY)
    try:
        assert rotate_secrets(db_store) >= 3
        use_keys(new_key)  # the old key is no longer needed
        with db_store.session() as session:
            shop = session.get(Shop, shop_id)
        assert shop is not None and (shop.access_token, shop.webhook_secret) == ("shpat_plain_token", "legacy_plain")
        assert all(value.startswith("fernet:") for value in _raw(db_store, shop_id))
    finally:  # the shared store goes back to the session's key
        use_keys(TEST_KEY, new_key)
        rotate_secrets(db_store)


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("RATCHET_SECRET_KEY", "RATCHET_DATABASE_URL")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ratchet"), *args],
        cwd=REPO,
        env={**clean, "RATCHET_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_generates_its_key_and_production_requires_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = _cli(home, "webhook", "add", "signed", "--topic", "user/a/b", "--secret", "hmac_plain")
    assert added.returncode == 0, added.stderr
    key_file = home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with sqlite3.connect(home / "ratchet.db") as db:
        (stored,) = db.execute("SELECT secret FROM mechanic_webhooks").fetchone()
    assert stored.startswith("fernet:") and "hmac_plain" not in stored
    listed = _cli(home, "webhook", "list", "--json")
    assert listed.returncode == 0 and "hmac_plain" not in listed.stdout + listed.stderr

    wrong = _cli(home, "webhook", "list", RATCHET_SECRET_KEY=generate_key())
    assert wrong.returncode != 0 and len(wrong.stderr.strip().splitlines()) == 1
    assert "cannot decrypt a stored secret" in wrong.stderr and "Traceback" not in wrong.stderr

    new_key = generate_key()
    rotated = _cli(home, "key", "rotate", RATCHET_SECRET_KEY=f"{new_key},{key_file.read_text().strip()}")
    assert rotated.returncode == 0 and "re-encrypted 1 secret" in rotated.stdout
    assert _cli(home, "webhook", "list", RATCHET_SECRET_KEY=new_key).returncode == 0

    production = _cli(home, "webhook", "list", RATCHET_DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}")
    assert production.returncode != 0 and "RATCHET_SECRET_KEY is required" in production.stderr
