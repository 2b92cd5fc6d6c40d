"""What every command group shares: the common options, reaching the Python API, printing.

Command groups import this module and `starter.api`, never each other.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ratchet.config import Settings, load_settings
from ratchet.errors import InvalidInput
from starter.api import Ratchet

out = Console(highlight=False, soft_wrap=True)

ShopOpt = Annotated[str, typer.Option("--shop", envvar="RATCHET_SHOP", help="Shop to act on.")]
AddressOpt = Annotated[
    str | None,
    # No envvar=: without the option, RATCHET_TEMPORAL_ADDRESS reaches Settings like every variable.
    typer.Option("--temporal-address", help="Use this Temporal cluster (host:port; default RATCHET_TEMPORAL_ADDRESS)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def settings_for(address: str | None = None, shop: str | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if address:
        overrides["temporal"] = {"address": address}
    if shop:
        overrides["shop"] = shop
    return load_settings(**overrides)


async def connect(address: str | None = None, shop: str | None = None, *, temporal: bool = True) -> Ratchet:
    """The Python API for one command; `temporal=False` for commands the store answers alone."""
    return await Ratchet.connect(settings_for(address, shop), temporal=temporal, source="cli")


def run(coro: Coroutine[Any, Any, Any], *, uvloop_loop: bool = False) -> Any:
    """Run a command's coroutine; `uvloop_loop` for `ratchet serve`, whose HTTP I/O is its cost.

    Processes that run a Temporal worker keep asyncio's own loop: the worker is what the SDK
    is tested on, and its cost is not the loop's.
    """
    if not uvloop_loop:
        return asyncio.run(coro)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=lambda v: iso(v) if isinstance(v, datetime) else str(v)))


def read_argument(value: str) -> str:
    """Text as given, or the contents of the file named by `@path`."""
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc


def read_json_argument(value: str) -> Any:
    """JSON text, or @path to a JSON file (`--data`, `--options`)."""
    text = read_argument(value)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def read_hidden(prompt: str) -> str:
    """A value from standard input: a prompt that does not echo on a terminal, else the whole stream.

    Never a command-line argument, which shell history and process lists would keep. One trailing
    line break (what `echo` and a pasted line add) is dropped; other spaces may be part of it.
    """
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    text = sys.stdin.read()
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
