"""Settings as an operator sets them: the RATCHET_* names, one-line errors, and the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ratchet.config import SettingsError, environment_variables, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"
TABLE = re.compile(r"<!-- environment-variables -->\n(.*?)<!-- /environment-variables -->", re.DOTALL)


def environment_table() -> str:
    lines = ["| variable | default | what |", "|---|---|---|"]
    for variable in environment_variables():
        default = f"`{variable.default}`" if variable.default else ""
        lines.append(f"| `{variable.name}` | {default} | {variable.description} |")
    return "\n".join(lines) + "\n"


def test_readme_lists_every_environment_variable() -> None:
    found = TABLE.search(README.read_text())
    assert found, "README.md lacks the <!-- environment-variables --> table"
    expected = environment_table()
    assert found.group(1) == expected, f"README.md's environment variables differ from ratchet/config.py:\n{expected}"


def test_variables_keep_their_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATCHET_TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("RATCHET_TASK_QUEUE", "orders")
    monkeypatch.setenv("RATCHET_TEMPORAL_TLS", "1")
    monkeypatch.setenv("RATCHET_HTTP_PORT", "9090")
    monkeypatch.setenv("RATCHET_PUBLIC_URL", "")  # empty means unset, as it always has
    monkeypatch.setenv("RATCHET_TIME_SCALE", "0.5")

    settings = load_settings()

    assert settings.effective_temporal_address == "temporal.internal:7233"
    assert settings.temporal.task_queue == "orders" and settings.temporal.tls is True
    assert settings.ingress.base_url == "http://127.0.0.1:9090"
    assert settings.scaled(30).total_seconds() == 15


def test_mail_settings_are_read_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RATCHET_SMTP_HOST", raising=False)
    monkeypatch.setenv("RATCHET_SMTP_TLS", "ssl")
    settings = load_settings()  # a malformed mail setting does not stop the engine ...
    with pytest.raises(SettingsError, match=r"^RATCHET_SMTP_TLS: .*got 'ssl'$"):
        _ = settings.smtp  # ... it fails what sends mail

    monkeypatch.setenv("RATCHET_SMTP_TLS", " TLS ")
    monkeypatch.setenv("RATCHET_SMTP_HOST", "mail.example.com")
    assert (settings.smtp.host, settings.smtp.tls, settings.smtp.port) == ("mail.example.com", "tls", 465)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RATCHET_TIME_SCALE", "0"), ("RATCHET_HTTP_PORT", "eighty"), ("RATCHET_TEMPORAL_TLS", "maybe")],
)
def test_a_bad_value_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{variable}: ") and message.endswith(f"got {value!r}") and "\n" not in message


def test_a_stale_setting_name_is_refused_not_ignored() -> None:
    settings = load_settings()
    assert settings.updated(temporal={"task_queue": "q"}).temporal.task_queue == "q"
    with pytest.raises(TypeError, match="task_queue"):
        settings.updated(task_queue="q")  # lives in the temporal section now
