"""`ratchet secrets generate-key|rotate`: the key that encrypts stored secrets (ratchet/store/secrets.py)."""

from __future__ import annotations

import typer

from starter.api import Secrets
from starter.cli.common import connect, run

app = typer.Typer(no_args_is_help=True, help="The key that encrypts shop tokens and webhook secrets.")


@app.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new key for RATCHET_SECRET_KEY."""
    print(Secrets.generate_key())


@app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret with the first key of RATCHET_SECRET_KEY=NEW,OLD."""

    async def go() -> None:
        api = await connect(temporal=False)
        rotated = await api.secrets.rotate()
        print(f"re-encrypted {rotated} secret(s) with the first key; the other keys can now be dropped")

    run(go())
