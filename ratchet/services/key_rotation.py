"""Key rotation: re-encrypt every stored secret with the first key of RATCHET_SECRET_KEY."""

from __future__ import annotations

from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import SQLModel, select

from ratchet.store.database import Store
from ratchet.store.tables import ConnectedAccount, MechanicWebhook, Shop, ShopifyGrant, ShopifyInstallState, ShopSecret

# Every encrypted column (ratchet.store.secrets.EncryptedString), by table.
SECRET_COLUMNS: tuple[tuple[type[SQLModel], tuple[str, ...]], ...] = (
    (Shop, ("access_token", "webhook_secret", "previous_webhook_secret")),
    (ShopifyGrant, ("refresh_token",)),
    (ShopifyInstallState, ("client_secret",)),
    (MechanicWebhook, ("secret",)),
    (ShopSecret, ("value",)),
    (ConnectedAccount, ("credential",)),
)


def rotate_secrets(store: Store) -> int:
    """Re-encrypt every stored secret with the first key; returns how many were re-encrypted.

    Reading opens them with any configured key (old ones included), writing seals them with
    the first; one transaction, so a failure leaves every secret as it was.
    """
    rotated = 0
    with store.session() as session:
        for model, columns in SECRET_COLUMNS:
            for row in session.exec(select(model)):
                for column in columns:
                    if getattr(row, column) is not None:
                        flag_modified(row, column)
                        rotated += 1
                session.add(row)
    return rotated
