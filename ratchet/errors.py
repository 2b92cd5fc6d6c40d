"""Ratchet's one error model.

Every error Ratchet raises on purpose is a `RatchetError`:

    RatchetError            something Ratchet refuses or cannot do; the message is one readable line
    ├── NotFound      404   an unknown shop, task, run, event, webhook or filter
    ├── InvalidInput  400   a bad task export, topic, option, template, action, JSON or time
    ├── Conflict      409   it exists already, or the state forbids it (a run that cannot be retried)
    ├── Unavailable   503   Temporal, the database or a remote service cannot answer now (retryable)
    │   └── TransientReadError  a Shopify read of a task's render failed in a way a retry may fix
    ├── PermanentRunError       a run failed in a way no retry can fix (Liquid error, error object, …)
    │   └── TaskUnavailableError   its task was disabled or deleted (fails at once, no error event)
    └── ActionError             an action's side effect failed (ratchet/actions/base.py, beside the
                                handlers: PermanentActionError, TransientActionError, ActionOptionsError)

Each class knows whether another attempt can help (`retryable`) and its HTTP answer
(`http_status`); a subclass may refine either (a bad webhook signature is InvalidInput answered
with 401). The CLI catches `RatchetError` once and prints its message; ingress answers
`http_status`; the run activities ask `is_retryable` whether a failed attempt gets Mechanic's
backoff. Modules define their own subclasses of these (TopicError is an InvalidInput, RunNotFound
a NotFound) where the caller may want to tell them apart.
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


class TransientReadError(Unavailable):
    """A Shopify read during a task's render failed in a way another attempt may fix (a 5xx, a transport error)."""


class PermanentRunError(RatchetError):
    """A run failed in a way retrying cannot fix (a Liquid error, an error object, a vanished event)."""


class TaskUnavailableError(PermanentRunError):
    """The run's task was disabled or deleted: the run fails at once and raises no error event (spec 9)."""


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt may succeed.

    Ratchet's own errors say so themselves. Anything else (a library's transport error, a
    timeout, a bug) is treated as transient, as Mechanic retries failures it cannot classify.
    """
    if isinstance(exc, RatchetError):
        return exc.retryable
    return True
