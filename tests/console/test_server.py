"""Where the console's token comes from, and the listener refusing to start without one off loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from ratchet.config import ConsoleSettings
from ratchet.console.server import console_token, is_loopback
from ratchet.errors import InvalidInput
from tests.support.cli import REPO, one_line_error


def test_the_token_is_required_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"RATCHET_CONSOLE_TOKEN is required for a console listening on 0\.0\.0\.0"):
        console_token(ConsoleSettings(address="0.0.0.0:8081"), tmp_path)
    assert not (tmp_path / "console.token").exists()
    given = ConsoleSettings(address="0.0.0.0:8081", token=SecretStr("from-the-environment"))
    assert console_token(given, tmp_path) == "from-the-environment"


def test_on_loopback_a_token_is_made_once_and_kept(tmp_path: Path) -> None:
    first = console_token(ConsoleSettings(address="127.0.0.1:8081"), tmp_path / "home")
    assert len(first) >= 32 and (tmp_path / "home" / "console.token").stat().st_mode & 0o777 == 0o600
    assert console_token(ConsoleSettings(address="[::1]:8081"), tmp_path / "home") == first


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("console.example.com", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def ratchet_console(home: Path, address: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RATCHET_HOME": str(home), "RATCHET_CONSOLE_ADDRESS": address}
    env.pop("RATCHET_CONSOLE_TOKEN", None)
    ratchet = str(Path(sys.executable).parent / "ratchet")
    return subprocess.run([ratchet, "console"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_ratchet_console_refuses_to_listen_openly_without_a_token(tmp_path: Path) -> None:
    result = ratchet_console(tmp_path, "0.0.0.0:8081")
    one_line_error(result, "RATCHET_CONSOLE_TOKEN is required for a console listening on 0.0.0.0 (not loopback)")


def test_a_malformed_address_is_one_line(tmp_path: Path) -> None:
    one_line_error(ratchet_console(tmp_path, "8081"), "RATCHET_CONSOLE_ADDRESS: value error, expected host:port")
