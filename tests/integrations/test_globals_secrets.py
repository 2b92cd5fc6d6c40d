"""Globals and secrets: storage, the Liquid objects and option flags, resolution and redaction."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ratchet.actions.base import PermanentActionError, TransientActionError
from ratchet.core.secret_refs import REDACTED, reference
from ratchet.core.task_export import TaskImportError, coerce_option
from ratchet.errors import InvalidInput, NotFound
from ratchet.liquid import RenderRequest, render_task
from ratchet.services import globals as shop_globals
from ratchet.services import secrets as shop_secrets
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopSecret


@pytest.fixture
def shop_id(db_store: Store) -> str:
    shop_id = f"values-{uuid.uuid4().hex[:10]}"
    with db_store.session() as session:
        session.add(Shop(id=shop_id, timezone="UTC"))
    return shop_id


def render(script: str, options: dict[str, Any] | None = None, **shop_values: Any) -> list[Any]:
    request = RenderRequest(
        script=script, options=options or {}, event={"topic": "user/a/b", "data": None}, task={}, shop={}, **shop_values
    )
    return [action.options for action in render_task(request).actions]


def test_globals_and_secrets_in_liquid_and_in_options() -> None:
    ref = reference("api_token", "0123456789abcdef")
    script = """{% action "echo" user: globals.account.user, token: secrets.api_token, missing: secrets.nope,
        chosen: options.login__global_required, key: options.key__secret, flat: globals.flat %}"""
    [options] = render(
        script,
        {"login__global_required": "account", "key__secret": "api_token"},
        globals={"account": {"user": "matt"}, "flat": 3},
        secrets={"api_token": ref},
    )
    assert options == {"user": "matt", "token": ref, "missing": None, "chosen": {"user": "matt"}, "key": ref, "flat": 3}


def test_option_flags_for_globals_and_secrets_are_checked() -> None:
    assert coerce_option("token__secret_required", " api_token ") == "api_token"
    with pytest.raises(TaskImportError, match="cannot be a userform option"):
        coerce_option("token__secret_userform", "api_token")
    with pytest.raises(TaskImportError, match="name of a shop global"):
        coerce_option("login__global", "Not A Name")
    # A structured input type wins: this is a select whose choices are the words.
    assert coerce_option("mode__select_o1_global_o2_secret", "secret") == "secret"


def test_values_are_stored_listed_and_deleted(db_store: Store, shop_id: str) -> None:
    assert shop_globals.set_global(db_store, shop_id, "rules", {"regions": ["EU"]}) is False
    assert shop_globals.set_global(db_store, shop_id, "rules", [1, 2]) is True
    assert [(g.name, g.value) for g in shop_globals.list_globals(db_store, shop_id)] == [("rules", [1, 2])]
    with pytest.raises(InvalidInput, match="invalid global name"):
        shop_globals.set_global(db_store, shop_id, "Rules!", 1)

    assert shop_secrets.set_secret(db_store, shop_id, "api_token", "v1") is False
    with db_store.session() as session:
        row = session.get(ShopSecret, (shop_id, "api_token"))
        assert row is not None
        tag = row.tag
    assert shop_secrets.set_secret(db_store, shop_id, "api_token", "v2") is True
    assert [s.name for s in shop_secrets.list_secrets(db_store, shop_id)] == ["api_token"]
    ref = reference("api_token", tag)  # replacing kept the reference: queued runs get the new value
    assert shop_secrets.resolve(db_store, shop_id, {"url": ref}, ["url"]).options == {"url": "v2"}
    shop_secrets.delete_secret(db_store, shop_id, "api_token")
    with pytest.raises(NotFound):
        shop_secrets.delete_secret(db_store, shop_id, "api_token")
    with pytest.raises(shop_secrets.UnknownSecret, match="api_token"):
        shop_secrets.resolve(db_store, shop_id, {"url": ref}, ["url"])


def test_secrets_are_encrypted_at_rest(db_store: Store, shop_id: str) -> None:
    from sqlalchemy import text

    shop_secrets.set_secret(db_store, shop_id, "api_token", "plain-value-123")
    with db_store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT value FROM shop_secrets WHERE shop_id = :shop"), {"shop": shop_id}
        ).scalar_one()
    assert stored.startswith("fernet:") and "plain-value-123" not in stored


def test_only_listed_fields_resolve_and_a_forged_tag_does_not(db_store: Store, shop_id: str) -> None:
    shop_secrets.set_secret(db_store, shop_id, "api_token", "the-value")
    with db_store.engine.connect() as conn:
        ref = shop_secrets.secret_references(conn, shop_id)["api_token"]
    options = {"url": f"https://x.test/?k={ref}", "headers": {"A": ref}, "files": {"f.txt": ref}}
    resolved = shop_secrets.resolve(db_store, shop_id, options, ["url", "headers"])
    assert resolved.options == {
        "url": "https://x.test/?k=the-value",
        "headers": {"A": "the-value"},
        "files": {"f.txt": ref},
    }
    assert resolved.values == {"the-value"}
    with pytest.raises(shop_secrets.UnknownSecret):
        shop_secrets.resolve(db_store, shop_id, {"url": reference("api_token", "f" * 16)}, ["url"])


def test_redaction_covers_results_encodings_and_errors() -> None:
    resolved = shop_secrets.Resolved(None, frozenset({"p@ss word"}))
    result = {"body": {"echo": "p@ss word", "url": "k=p%40ss%20word", "form": "k=p%40ss+word"}, "body_base64": "cA=="}
    assert resolved.redact(result) == {
        "body": {"echo": REDACTED, "url": f"k={REDACTED}", "form": f"k={REDACTED}"},
        "body_base64": REDACTED,
    }
    scrubbed = resolved.scrub(PermanentActionError("GET https://x/?k=p@ss word failed", result=result))
    assert isinstance(scrubbed, PermanentActionError) and "p@ss word" not in str(scrubbed)
    assert scrubbed.result["body"]["echo"] == REDACTED and scrubbed.__cause__ is None
    bug = resolved.scrub(ValueError("p@ss word"))
    assert isinstance(bug, TransientActionError) and str(bug) == f"ValueError: {REDACTED}"


def test_accounts_check_credentials_before_storing_and_never_show_them(db_store: Store, shop_id: str) -> None:
    from ratchet.services import accounts

    with pytest.raises(InvalidInput, match="unknown provider 'dropbox'"):
        accounts.add_account(db_store, shop_id, "dropbox", "x", "t")
    with pytest.raises(InvalidInput, match="one token"):
        accounts.add_account(db_store, shop_id, "slack", "x", "two words")
    with pytest.raises(InvalidInput, match="not a PEM private key"):
        key = {"type": "service_account", "client_email": "a@b.c", "private_key": "nope"}
        accounts.add_account(db_store, shop_id, "google", "a@b.c", json.dumps(key))
    assert accounts.add_account(db_store, shop_id, "airtable", "base", "patSECRET.x") is False
    assert accounts.add_account(db_store, shop_id, "airtable", "base", "patSECRET.y") is True
    listed = accounts.list_accounts(db_store, shop_id)
    assert [(a.provider, a.name, a.kind) for a in listed] == [("airtable", "base", "personal_access_token")]
    assert "patSECRET" not in repr(listed)
    accounts.remove_account(db_store, shop_id, "airtable", "base")
    with pytest.raises(NotFound):
        accounts.remove_account(db_store, shop_id, "airtable", "base")


def test_signing_filters_refuse_a_secret_reference_instead_of_signing_with_it() -> None:
    from ratchet.liquid import TaskRenderError

    ref = reference("signing_key", "0123456789abcdef")
    with pytest.raises(TaskRenderError, match="hmac_sha256: shop secrets cannot be used as signing keys"):
        render('{% assign s = "body" | hmac_sha256: secrets.signing_key %}', secrets={"signing_key": ref})
    assert render('{% action "echo", s: "body" | hmac_sha256: "k" %}')[0]["s"]
