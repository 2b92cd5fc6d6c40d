"""Every setting Ratchet reads from the environment (`RATCHET_*`), in one model.

`Settings` is read once per process, with its sections `temporal` and `ingress`. The `smtp`
section is read again on every use instead: email is optional, so a malformed mail setting fails
the email runs (which can be retried once it is fixed) rather than stopping the engine, and tests
can point the email action at a local server. Each field's environment variable is its
`validation_alias` (or `RATCHET_` + its name); the README's table of them is checked against
`environment_variables()` by tests/test_config.py.

Every duration the engine waits on or expires by goes through `Settings.scaled`, so tests can
run Mechanic's real schedule (30 s, 76 s, ...) twenty times faster with RATCHET_TIME_SCALE=0.05.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from ratchet.core.runs import RETENTION_DAYS
from ratchet.errors import InvalidInput

DEFAULT_SHOP = "default"
DEFAULT_TASK_QUEUE = "ratchet"
DEFAULT_NAMESPACE = "default"
DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_UI_PORT = 8233
DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_CONSOLE_ADDRESS = "127.0.0.1:8081"

SmtpTls = Literal["none", "starttls", "tls"]
_SMTP_DEFAULT_PORTS: dict[SmtpTls, int] = {"none": 25, "starttls": 587, "tls": 465}


class SettingsError(InvalidInput):
    """An environment variable holds a value Ratchet cannot use; the message names it."""


class _Section(BaseSettings):
    # Empty variables count as unset, as they always have; fields are set by name in code and tests.
    model_config = SettingsConfigDict(
        env_prefix="RATCHET_", env_ignore_empty=True, frozen=True, populate_by_name=True, extra="ignore"
    )


def _blank_is_unset(value: Any) -> Any:
    # Mail settings are often pasted with stray spaces; "  " means "not set".
    if isinstance(value, str):
        return value.strip() or None
    return value


_Trimmed = Annotated[str | None, BeforeValidator(_blank_is_unset)]


class TemporalSettings(_Section):
    address: str | None = Field(
        default=None,
        validation_alias="RATCHET_TEMPORAL_ADDRESS",
        description=f"Temporal frontend `host:port`; unset: `localhost:{DEFAULT_TEMPORAL_PORT}` (`ratchet dev` starts it)",
    )
    namespace: str = Field(
        default=DEFAULT_NAMESPACE, validation_alias="RATCHET_NAMESPACE", description="Temporal namespace"
    )
    task_queue: str = Field(
        default=DEFAULT_TASK_QUEUE, validation_alias="RATCHET_TASK_QUEUE", description="task queue workers poll"
    )
    api_key: SecretStr | None = Field(
        default=None, validation_alias="RATCHET_TEMPORAL_API_KEY", description="Temporal Cloud API key"
    )
    tls: bool = Field(
        default=False, validation_alias="RATCHET_TEMPORAL_TLS", description="connect to Temporal over TLS (`1`)"
    )

    @property
    def effective_address(self) -> str:
        return self.address or f"localhost:{DEFAULT_TEMPORAL_PORT}"


class IngressSettings(_Section):
    host: str = Field(
        default=DEFAULT_HTTP_HOST, validation_alias="RATCHET_HTTP_HOST", description="`ratchet serve` listen address"
    )
    port: int = Field(
        default=DEFAULT_HTTP_PORT, validation_alias="RATCHET_HTTP_PORT", description="`ratchet serve` listen port"
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        gt=0,
        validation_alias="RATCHET_MAX_BODY_BYTES",
        description="larger webhook bodies are answered 413",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        validation_alias="RATCHET_FORWARDED_ALLOW_IPS",
        description="proxies whose `X-Forwarded-For`/`-Proto` are believed",
    )
    # Where Shopify reaches this deployment's ingress; without it no Shopify webhook can be registered.
    public_url: str | None = Field(
        default=None,
        validation_alias="RATCHET_PUBLIC_URL",
        description="https address where Shopify and webhook senders reach the ingress (needed to register Shopify webhooks); also the base of printed webhook URLs (unset: `http://HOST:PORT`)",
    )

    @field_validator("public_url")
    @classmethod
    def _without_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") or None if value else None

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


class InboundEmailSettings(_Section):
    """The SMTP listener turning mail to `{shop}@{domain}` into `mechanic/emails/received` events."""

    address: str | None = Field(
        default=None,
        validation_alias="RATCHET_INBOUND_SMTP_ADDRESS",
        description="`host:port` where `ratchet serve`/`ratchet dev` accept inbound email; unset: no listener",
    )
    domain: str | None = Field(
        default=None,
        validation_alias="RATCHET_INBOUND_EMAIL_DOMAIN",
        description="mail is accepted for `{shop}@` this domain only; unset: any domain",
    )
    max_bytes: int = Field(
        default=25 * 1024 * 1024,
        gt=0,
        validation_alias="RATCHET_INBOUND_EMAIL_MAX_BYTES",
        description="larger inbound messages are refused (SMTP 552)",
    )

    @field_validator("address")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("must be host:port")
        return value.strip()

    @property
    def host_and_port(self) -> tuple[str, int]:
        assert self.address is not None
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)


class IntegrationSettings(_Section):
    """Where the integration actions (spec 7.9) send their requests; tests point them at local fakes."""

    slack_api_url: str = Field(
        default="https://slack.com/api",
        validation_alias="RATCHET_SLACK_API_URL",
        description="Slack Web API base; the `slack` action's `url_path` is appended",
    )
    airtable_api_url: str = Field(
        default="https://api.airtable.com",
        validation_alias="RATCHET_AIRTABLE_API_URL",
        description="Airtable Web API base; the `airtable` action's `url_path` is appended",
    )
    google_api_url: str = Field(
        default="https://www.googleapis.com",
        validation_alias="RATCHET_GOOGLE_API_URL",
        description="Google APIs base (Drive `/drive/v3`, `/upload/drive/v3`), `google` action paths appended",
    )
    google_sheets_api_url: str = Field(
        default="https://sheets.googleapis.com",
        validation_alias="RATCHET_GOOGLE_SHEETS_API_URL",
        description="Google Sheets API base (`/v4/spreadsheets`); `google` paths under `/sheets/` go here",
    )
    google_token_url: str = Field(
        default="https://oauth2.googleapis.com/token",
        validation_alias="RATCHET_GOOGLE_TOKEN_URL",
        description="Google OAuth 2.0 token endpoint (service-account JWT grant, refresh tokens)",
    )

    @field_validator("slack_api_url", "airtable_api_url", "google_api_url", "google_sheets_api_url")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class ConsoleSettings(_Section):
    """The web console (ratchet/console): its own listener, never the ingress's."""

    address: str = Field(
        default=DEFAULT_CONSOLE_ADDRESS,
        validation_alias="RATCHET_CONSOLE_ADDRESS",
        description="`host:port` the console listens on (`ratchet console`, `ratchet dev`)",
    )
    token: SecretStr | None = Field(
        default=None,
        validation_alias="RATCHET_CONSOLE_TOKEN",
        description="console login token; required off loopback; unset on loopback: generated once into `RATCHET_HOME/console.token`",
    )
    hosts: str = Field(
        default="",
        validation_alias="RATCHET_CONSOLE_HOSTS",
        description="extra `Host` names the console answers (comma-separated; behind a proxy: its public name)",
    )
    temporal_ui_url: str | None = Field(
        default=None,
        validation_alias="RATCHET_TEMPORAL_UI_URL",
        description="Temporal Web UI base URL for the console's links; unset: the embedded server's under `ratchet dev`, else no links",
    )

    @field_validator("address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("expected host:port")
        return value

    @field_validator("temporal_ui_url")
    @classmethod
    def _ui_without_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") or None if value else None

    @property
    def host(self) -> str:
        """The listen host, without IPv6 brackets."""
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        """The listen port."""
        return int(self.address.rpartition(":")[2])

    @property
    def url(self) -> str:
        """The console's address as a URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class SmtpSettings(_Section):
    """Outgoing mail: optional until an email action runs, and read again each time one does."""

    host: _Trimmed = Field(
        default=None, validation_alias="RATCHET_SMTP_HOST", description="SMTP server; required for email"
    )
    tls: Annotated[SmtpTls, BeforeValidator(lambda value: str(value).strip().lower())] = Field(
        default="starttls",
        validation_alias="RATCHET_SMTP_TLS",
        description="`none`, `starttls` or `tls` (implicit TLS)",
    )
    port: int | None = Field(
        default=None,
        validate_default=True,
        validation_alias="RATCHET_SMTP_PORT",
        description="unset: 25 / 587 / 465 for none / starttls / tls",
    )
    username: _Trimmed = Field(
        default=None, validation_alias="RATCHET_SMTP_USERNAME", description="with the password, enables AUTH"
    )
    # Not trimmed: spaces may be part of a password. Secret: kept out of reprs and logs.
    password: SecretStr | None = Field(
        default=None, validation_alias="RATCHET_SMTP_PASSWORD", description="SMTP password"
    )
    mail_from: _Trimmed = Field(
        default=None,
        validation_alias="RATCHET_MAIL_FROM",
        description="sender, `address` or `Name <address>`; required for email",
    )
    # Per SMTP command; a stalled server becomes a transient failure, not a hung activity.
    timeout: ClassVar[float] = 30.0

    @field_validator("port", mode="before")
    @classmethod
    def _default_port_for_tls(cls, value: Any, info: ValidationInfo) -> Any:
        value = _blank_is_unset(value)
        return _SMTP_DEFAULT_PORTS.get(info.data.get("tls", "starttls"), 25) if value is None else value

    @property
    def from_name(self) -> str:
        return parseaddr(self.mail_from or "")[0]

    @property
    def from_address(self) -> str:
        return parseaddr(self.mail_from or "")[1]


class Settings(_Section):
    home: Path = Field(
        default=Path(".ratchet"),
        validate_default=True,
        description="state of `ratchet dev`: Temporal's and the default SQLite database",
    )
    database_url: str | None = Field(
        default=None, description="`postgresql://user:pass@host/db`; unset: SQLite at `RATCHET_HOME/ratchet.db`"
    )
    shop: str = Field(default=DEFAULT_SHOP, description="the shop CLI commands act on")
    time_scale: float = Field(default=1.0, gt=0, description="multiplies every engine wait (tests: 0.05)")
    # A bulk-operation monitor (a long poll loop) continues as new once its history passes this
    # many events; event workflows close once settled, so theirs stays short.
    history_limit: int = Field(
        default=4000, gt=0, description="history events before a bulk-operation monitor continues as new"
    )
    retention_days: float = Field(
        default=RETENTION_DAYS,
        gt=0,
        description="days events and runs are kept (and retryable) after their last run finished; then deleted",
    )
    files_ttl_hours: float = Field(
        default=168,
        gt=0,
        description="hours a `files` action's download URL works; the retention pass then deletes the file",
    )
    files_store: str | None = Field(
        default=None,
        description="`s3://bucket/prefix[?endpoint_url=…&region=…]`: `files` action files in that object store (AWS credentials from the environment; `uv sync --extra s3`); unset: `RATCHET_HOME/files`",
    )
    pdf_browser: Path | None = Field(
        default=None,
        description="a Chromium binary (`/usr/bin/chromium`) that runs PDF templates' scripts (`uv sync --extra pdf-scripts`), one per worker, closed after 5 idle minutes; unset: none run",
    )
    # Fernet keys, comma-separated; the first encrypts (ratchet/store/secrets.py).
    secret_key: SecretStr | None = Field(
        default=None,
        description="key(s) encrypting stored secrets, `NEW,OLD` while rotating; unset: generated into `RATCHET_HOME/secret.key`, required with `RATCHET_DATABASE_URL`",
    )
    log_format: Annotated[Literal["text", "json"], BeforeValidator(lambda value: str(value).strip().lower())] = Field(
        default="text", description="`text` (key=value pairs) or `json` (one object per line)"
    )
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        BeforeValidator(lambda value: str(value).strip().upper()),
    ] = Field(default="INFO", description="`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`")
    metrics_address: str | None = Field(
        default=None, description="`host:port` serving Prometheus `/metrics` (SDK and Ratchet metrics); unset: none"
    )
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    inbound_email: InboundEmailSettings = Field(default_factory=InboundEmailSettings)
    integrations: IntegrationSettings = Field(default_factory=IntegrationSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Resolved once, so a later chdir (the dev server's subprocess) cannot move it.
        return value.resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'ratchet.db'}"

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal.effective_address

    @property
    def smtp(self) -> SmtpSettings:
        """The mail settings as the environment holds them now; SettingsError names a malformed one."""
        return read_section(SmtpSettings)

    @property
    def retention(self) -> timedelta:
        """How long events and their runs are kept, as the engine waits it."""
        return self.scaled(self.retention_days * 24 * 3600)

    def scaled(self, seconds: float) -> timedelta:
        """A real-world duration as the engine waits it (scaled for tests)."""
        return timedelta(seconds=seconds * self.time_scale)

    def updated(self, **changes: Any) -> Settings:
        """A copy with some settings changed; a section's changes are a dict merged into it.

        `settings.updated(shop="s", temporal={"task_queue": "q"})`. Unknown names raise, so a
        stale name (`task_queue=` from before the sections) cannot be silently ignored.
        """
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise TypeError(f"not settings: {', '.join(unknown)}")
        for name, value in changes.items():
            section = getattr(self, name)
            if isinstance(section, BaseSettings) and isinstance(value, dict):
                changes[name] = section.model_copy(update=value)
        return self.model_copy(update=changes)


_S = TypeVar("_S", bound=BaseSettings)


def read_section(section: type[_S]) -> _S:
    """Read a settings model from the environment now; a bad value is one line naming its variable."""
    try:
        return section()
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else section.__name__
        if not name.startswith("RATCHET_"):
            name = f"RATCHET_{name.upper()}"
        raise SettingsError(f"{name}: {first['msg'][:1].lower()}{first['msg'][1:]}, got {first['input']!r}") from None


def load_settings(**overrides: Any) -> Settings:
    """The environment's settings, with `overrides` applied as `Settings.updated` applies them."""
    return read_section(Settings).updated(**overrides)


@dataclass(frozen=True)
class EnvironmentVariable:
    name: str
    default: str
    description: str


def environment_variables() -> list[EnvironmentVariable]:
    """Every variable Ratchet reads, in declaration order: the README's table."""
    return _variables(Settings) + _variables(SmtpSettings)  # `smtp` is a property, not a field


def _variables(model: type[BaseSettings]) -> list[EnvironmentVariable]:
    found: list[EnvironmentVariable] = []
    for name, field in model.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseSettings):
            found.extend(_variables(section))
        else:
            found.append(EnvironmentVariable(_variable(name, field), _default(field), field.description or ""))
    return found


def _variable(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    return alias if isinstance(alias, str) else f"RATCHET_{name.upper()}"


def _default(field: FieldInfo) -> str:
    if field.default is None:
        return ""
    if isinstance(field.default, bool):
        return str(int(field.default))
    return str(field.default)
