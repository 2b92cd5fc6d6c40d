"""The installed `ratchet` entry point, run as users run it, against the test store and Temporal server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from ratchet.config import Settings

REPO = Path(__file__).resolve().parents[2]


async def ratchet(
    settings: Settings, shop: str, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a real process; off the event loop, because the test's worker shares it.

    `env` adds variables (secrets are passed this way, never as arguments); `stdin` answers prompts.
    """
    return await asyncio.to_thread(_run_cli, settings, shop, args, env or {}, stdin)


def _run_cli(
    settings: Settings, shop: str, args: tuple[str, ...], extra_env: dict[str, str], stdin: str | None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **extra_env,
        "RATCHET_HOME": str(settings.home),
        "RATCHET_DATABASE_URL": settings.effective_database_url,
        "RATCHET_TEMPORAL_ADDRESS": settings.effective_temporal_address,
        "RATCHET_TASK_QUEUE": settings.temporal.task_queue,
        "RATCHET_TIME_SCALE": str(settings.time_scale),
        "RATCHET_SHOP": shop,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "ratchet"), *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(result: subprocess.CompletedProcess[str], contains: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert contains in lines[0]
    assert "Traceback" not in result.stderr
