"""`ratchet key generate|rotate`: the key that encrypts stored secrets (ratchet/store/secrets.py)."""

from __future__ import annotations

import typer

from starter.api import Key
from starter.cli.common import connect, run

app = typer.Typer(
    no_args_is_help=True, help="The key that encrypts shop tokens, webhook secrets, shop secrets and accounts."
)


@app.command("generate")
def key_generate() -> None:
    """Print a new key for RATCHET_SECRET_KEY."""
    print(Key.generate())


@app.command("rotate")
def key_rotate() -> None:
    """Re-encrypt every stored secret with the first key of RATCHET_SECRET_KEY=NEW,OLD."""

    async def go() -> None:
        api = await connect(temporal=False)
        rotated = await api.key.rotate()
        print(f"re-encrypted {rotated} secret(s) with the first key; the other keys can now be dropped")

    run(go())
