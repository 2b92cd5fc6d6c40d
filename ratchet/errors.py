"""Ratchet's one error model. Every error Ratchet raises on purpose is a `RatchetError`:

    RatchetError            something Ratchet refuses or cannot do; the message is one readable line
    ├── NotFound      404   an unknown shop, task, run, event, webhook or filter
    ├── InvalidInput  400   a bad task export, topic, option, template, action, JSON or time
    ├── Conflict      409   it exists already, or the state forbids it (a run that cannot be retried)
    └── Unavailable   503   Temporal, the database or a remote service cannot answer now (retryable)

Each class knows whether another attempt can help (`retryable`) and its HTTP answer
(`http_status`); a subclass may refine either (a bad webhook signature is InvalidInput answered
with 401). The CLI catches `RatchetError` once and prints its message; ingress answers
`http_status`; activities ask `is_retryable` whether a failed attempt gets Mechanic's backoff.
"""

from __future__ import annotations


class RatchetError(Exception):
    """Root of Ratchet's errors; the message is one line a user can act on."""

    retryable: bool = False
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RatchetError):
    http_status = 404


class InvalidInput(RatchetError):
    http_status = 400


class Conflict(RatchetError):
    http_status = 409


class Unavailable(RatchetError):
    retryable = True
    http_status = 503


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt may succeed.

    Ratchet's own errors say so themselves. Anything else (a library's transport error, a
    timeout, a bug) is treated as transient, as Mechanic retries failures it cannot classify.
    """
    if isinstance(exc, RatchetError):
        return exc.retryable
    return True
