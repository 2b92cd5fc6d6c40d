"""Outgoing-mail (SMTP) settings as the email action needs them, read whenever mail is sent.

Reading at send time (`Settings.smtp` reads the environment on every use) means a malformed or
missing mail setting fails email runs, retryable once fixed, instead of stopping the engine, and
lets tests point at a local server. The variables are the fields of `ratchet.config.SmtpSettings`.
"""

from __future__ import annotations

from ratchet.config import Settings, SettingsError, SmtpSettings
from ratchet.errors import InvalidInput


class MailConfigError(InvalidInput):
    """The SMTP environment is missing or malformed."""


def load_smtp_settings(settings: Settings) -> SmtpSettings:
    """The SMTP settings as the environment holds them now, complete enough to send with."""
    try:
        smtp = settings.smtp
    except SettingsError as error:
        raise MailConfigError(str(error)) from error
    if smtp.host is None:
        raise MailConfigError("email is not configured: set RATCHET_SMTP_HOST and RATCHET_MAIL_FROM")
    if "@" not in smtp.from_address:
        raise MailConfigError(f"RATCHET_MAIL_FROM must be a sender address, got {smtp.mail_from!r}")
    return smtp
