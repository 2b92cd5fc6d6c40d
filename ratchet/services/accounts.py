"""Connected accounts (spec 7.9): the third-party credentials integration actions name by `account`.

Each shop connects accounts per provider under a name of its choosing (Mechanic names Google
accounts by their email address; tasks pass that name as `account`). The credential is stored
encrypted and never shown again:

| provider   | credential                                                                            |
|------------|---------------------------------------------------------------------------------------|
| `slack`    | a bot token (`xoxb-…`) of a Slack app with `chat:write`                               |
| `airtable` | a personal access token (`pat…`)                                                      |
| `google`   | a service-account key JSON (`"type": "service_account"`), or OAuth client credentials |
|            | with a refresh token (`"type": "authorized_user"`: client_id, client_secret, refresh_token) |
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlmodel import col, select

from ratchet.core.clock import utcnow
from ratchet.errors import InvalidInput, NotFound
from ratchet.services.shops import require_shop
from ratchet.store.database import Store
from ratchet.store.tables import ConnectedAccount

PROVIDERS = ("slack", "google", "airtable")
_TOKEN = re.compile(r"^[A-Za-z0-9._\-]+$")


@dataclass(frozen=True)
class AccountInfo:
    """What may be shown of an account: never its credential."""

    provider: str
    name: str
    kind: str
    updated_at: datetime | None


@dataclass(frozen=True)
class Credential:
    """An account's credential as an action uses it; `kind` says how to read `secret`."""

    kind: str
    secret: str


def check_provider(provider: str) -> str:
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise InvalidInput(f"unknown provider {provider!r}: one of {', '.join(PROVIDERS)}")
    return provider


def credential_kind(provider: str, credential: str) -> str:
    """Check a credential's shape before it is stored; return its kind."""
    if provider in ("slack", "airtable"):
        if not _TOKEN.match(credential):
            raise InvalidInput(f"a {provider} credential is one token (letters, digits, '.', '_', '-'), got other text")
        return "bot_token" if provider == "slack" else "personal_access_token"
    try:
        data = json.loads(credential)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"a google credential is JSON: {exc.msg} at line {exc.lineno}") from exc
    kind = data.get("type") if isinstance(data, dict) else None
    required = {
        "service_account": ("client_email", "private_key"),
        "authorized_user": ("client_id", "client_secret", "refresh_token"),
    }.get(str(kind))
    if required is None:
        raise InvalidInput(
            'a google credential has "type": "service_account" (a key JSON) or "authorized_user" '
            "(client_id, client_secret, refresh_token)"
        )
    missing = [name for name in required if not isinstance(data.get(name), str) or not data[name]]
    if missing:
        raise InvalidInput(f"the google {kind} credential lacks {', '.join(missing)}")
    if kind == "service_account":
        service_account_key(data["private_key"])
    return str(kind)


def service_account_key(pem: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(pem.encode("utf-8"), password=None)
    except ValueError as exc:
        raise InvalidInput("the service account's private_key is not a PEM private key") from exc
    if not isinstance(key, RSAPrivateKey):
        raise InvalidInput("the service account's private_key is not an RSA key (RS256 needs one)")
    return key


def add_account(store: Store, shop_id: str, provider: str, name: str, credential: str) -> bool:
    """Connect an account, or replace the credential of the one with this name; True when replaced."""
    provider = check_provider(provider)
    name = name.strip()
    if not name or len(name) > 255:
        raise InvalidInput("an account name must be 1 to 255 characters")
    credential = credential.strip()
    if not credential:
        raise InvalidInput("no credential was given on standard input")
    kind = credential_kind(provider, credential)
    now = utcnow()
    with store.session() as session:
        require_shop(session, shop_id)
        row = session.get(ConnectedAccount, (shop_id, provider, name))
        replaced = row is not None
        row = row or ConnectedAccount(
            shop_id=shop_id, provider=provider, name=name, credential=credential, kind=kind, created_at=now
        )
        row.credential, row.kind, row.updated_at = credential, kind, now
        session.add(row)
    return replaced


def list_accounts(store: Store, shop_id: str) -> list[AccountInfo]:
    with store.session() as session:
        require_shop(session, shop_id)
        query = (
            select(ConnectedAccount)
            .where(ConnectedAccount.shop_id == shop_id)
            .order_by(col(ConnectedAccount.provider), col(ConnectedAccount.name))
        )
        return [AccountInfo(row.provider, row.name, row.kind, row.updated_at) for row in session.exec(query)]


def remove_account(store: Store, shop_id: str, provider: str, name: str) -> None:
    provider = check_provider(provider)
    with store.session() as session:
        require_shop(session, shop_id)
        row = session.get(ConnectedAccount, (shop_id, provider, name.strip()))
        if row is None:
            raise NotFound(f"no {provider} account named {name!r} in shop {shop_id!r}")
        session.delete(row)


def account_credential(store: Store, shop_id: str, provider: str, name: str) -> Credential:
    """The credential an action uses; NotFound names the account and how to connect it."""
    with store.session() as session:
        row = session.get(ConnectedAccount, (shop_id, provider, name))
        if row is None:
            raise NotFound(
                f"no {provider} account named {name!r} is connected to shop {shop_id!r} "
                f"(connect one with `ratchet accounts add {provider} {name}`)"
            )
        return Credential(row.kind, row.credential)
