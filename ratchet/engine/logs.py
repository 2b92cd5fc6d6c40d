"""Process logging for `ratchet dev`, `ratchet worker` and `ratchet serve`.

Operators read one line per finished run and one per failed attempt (see `ratchet.engine.telemetry`);
their fields travel on the record as `extra={"fields": {...}}` and are printed as key=value pairs,
or merged into one JSON object per line with RATCHET_LOG_FORMAT=json for log shippers.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from ratchet.config import Settings


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c in text for c in ' "=\n') else text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in record_fields(record).items())
        if pairs:
            line = f"{line} {pairs}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings) -> None:
    """Replace the root handlers with one stderr handler in the configured format and level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Alembic describes its database dialect at INFO every time a process checks the schema;
    # the lines worth an operator's eye ("Running upgrade …") pass the filter.
    logging.getLogger("alembic.runtime.migration").addFilter(_only_schema_changes)
    quiet_http_client_logs()


def quiet_http_client_logs() -> None:
    """Keep httpx and httpcore to warnings.

    httpx logs every request's URL at INFO (httpcore its traffic at DEBUG); an http action's URL
    may hold a resolved shop secret, which must never reach a log (globals-and-secrets.md). Every
    process that performs actions calls this, whoever configured its logging.
    """
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _only_schema_changes(record: logging.LogRecord) -> bool:
    return record.levelno > logging.INFO or record.getMessage().startswith("Running ")
