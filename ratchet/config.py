"""Engine settings, read once from the environment.

Every duration the engine waits on or expires by goes through `Settings.scaled`, so tests can
run Mechanic's real schedule (30 s, 76 s, ...) twenty times faster with RATCHET_TIME_SCALE=0.05.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

DEFAULT_SHOP = "default"
DEFAULT_TASK_QUEUE = "ratchet"
DEFAULT_NAMESPACE = "default"
DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_UI_PORT = 8233


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(_env("RATCHET_HOME", ".ratchet")).resolve())
    database_url: str | None = field(default_factory=lambda: _env("RATCHET_DATABASE_URL"))
    temporal_address: str | None = field(default_factory=lambda: _env("RATCHET_TEMPORAL_ADDRESS"))
    namespace: str = field(default_factory=lambda: _env("RATCHET_NAMESPACE", DEFAULT_NAMESPACE))
    task_queue: str = field(default_factory=lambda: _env("RATCHET_TASK_QUEUE", DEFAULT_TASK_QUEUE))
    time_scale: float = field(default_factory=lambda: float(_env("RATCHET_TIME_SCALE", "1")))
    shop: str = field(default_factory=lambda: _env("RATCHET_SHOP", DEFAULT_SHOP))
    # An event workflow continues as new (while idle) once its history passes this many events.
    history_limit: int = field(default_factory=lambda: int(_env("RATCHET_HISTORY_LIMIT", "4000")))
    temporal_api_key: str | None = field(default_factory=lambda: _env("RATCHET_TEMPORAL_API_KEY"))
    temporal_tls: bool = field(default_factory=lambda: _env("RATCHET_TEMPORAL_TLS", "0") in ("1", "true", "yes"))
    # Where Shopify reaches this deployment's ingress (https://ratchet.example.com); without it
    # no Shopify webhook can be registered.
    public_url: str | None = field(default_factory=lambda: (_env("RATCHET_PUBLIC_URL") or "").rstrip("/") or None)

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"RATCHET_TIME_SCALE must be a positive number, got {self.time_scale}")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'ratchet.db'}"

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"localhost:{DEFAULT_TEMPORAL_PORT}"

    def scaled(self, seconds: float) -> timedelta:
        """A real-world duration as the engine waits it (scaled for tests)."""
        return timedelta(seconds=seconds * self.time_scale)


def load_settings(**overrides: object) -> Settings:
    settings = Settings()
    if overrides:
        from dataclasses import replace

        settings = replace(settings, **overrides)  # type: ignore[arg-type]
    return settings
