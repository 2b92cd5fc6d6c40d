"""The action registry: one module per action type plugs in here.

An action handler validates its options (a malformed action fails its run with a clear,
permanent error naming the field) and performs the side effect, classifying failures as
permanent (fail now) or transient (the engine retries after 30/76/152/308 s).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ratchet.errors import RatchetError

if TYPE_CHECKING:
    from ratchet.config import Settings
    from ratchet.services.events import EventService
    from ratchet.shopify.pools import ShopifyPools
    from ratchet.store.database import Store
    from ratchet.store.tables import Shop


class ActionError(RatchetError):
    """Base of action failures; `retryable` decides whether the engine retries.

    Args:
        message: the run's error, one line.
        result: what the remote side answered, kept as the failed run's result.
        result_meta: the API statistics of the failed attempt (`ActionContext.result_meta`),
            kept as the failed run's result_meta.
    """

    def __init__(self, message: str, *, result: Any = None, result_meta: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.result_meta = result_meta


class PermanentActionError(ActionError):
    retryable = False


class TransientActionError(ActionError):
    retryable = True


class ActionOptionsError(PermanentActionError):
    """Invalid options; the message names the offending field."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"invalid {field_name}: {problem}")
        self.field_name = field_name


@dataclass
class ActionContext:
    """What a handler may use while performing one action run."""

    settings: Settings
    store: Store
    shop: Shop
    run_id: str
    event_id: str
    task_id: str | None
    task_name: str | None
    shopify_api_version: str | None
    attempt: int
    # Manual retries of this run so far; a manual retry is a new delivery the receiver should not drop.
    manual_retries: int = 0
    # Filled by handlers that talk to Shopify, surfaced as run.result_meta.
    result_meta: dict[str, Any] = field(default_factory=dict)
    # The worker's services an action may use. The event action needs `events`; outside a worker
    # (a test calling a handler directly) it is absent and the action fails saying so.
    events: EventService | None = None
    # The worker's pooled Shopify connections; without them an action opens its own.
    shopify_pools: ShopifyPools | None = None

    @property
    def delivery_id(self) -> str:
        """Names one delivery of this action run to its receiver.

        The same across automatic attempts and crash re-deliveries (so duplicates can be
        dropped), new after each manual retry.
        """
        return self.run_id if self.manual_retries == 0 else f"{self.run_id}.retry{self.manual_retries}"


class ActionHandler(Protocol):
    type: ClassVar[str]

    def validate(self, options: Any) -> Any:
        """Return normalised options or raise ActionOptionsError."""
        ...

    async def perform(self, options: Any, ctx: ActionContext) -> Any:
        """Do the side effect and return the run result (JSON-serialisable)."""
        ...


class LocalAction:
    """Base of handlers whose work is local and blocking: no network, at most the ledger's database.

    Subclasses implement `perform_local`. The engine calls it in the worker thread where the
    action run's attempt began, and records the result there too: one thread hop per attempt
    instead of two, a hop being a measured share of a short run's CPU. On SQLite that is one
    transaction with the attempt's begin (`Store.one_transaction`), so its writes join it.
    `perform` (for callers outside the engine) runs it in a thread, keeping the event loop free
    while it waits on locks.
    """

    async def perform(self, options: Any, ctx: ActionContext) -> Any:
        """Do the side effect off the event loop and return the run result."""
        return await asyncio.to_thread(self.perform_local, options, ctx)

    def perform_local(self, options: Any, ctx: ActionContext) -> Any:
        """Do the side effect, blocking, and return the run result (JSON-serialisable)."""
        raise NotImplementedError


_REGISTRY: dict[str, ActionHandler] = {}


def string_option(options: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A text option: None when absent or empty (ActionOptionsError when `required`), else a string."""
    value = options.get(name)
    if value is None or value == "":
        if required:
            raise ActionOptionsError(name, "is required")
        return None
    if not isinstance(value, str):
        raise ActionOptionsError(name, f"must be a string, got {value!r}")
    return value


# Documented Mechanic action types Ratchet does not implement; they fail permanently, by name.
UNSUPPORTED_TYPES: frozenset[str] = frozenset({"report_toaster"})


# The option fields in which an action activity resolves secret references, by action type
# (https://learn.mechanic.dev/platform/globals-and-secrets); every other field, and every other type,
# keeps the reference.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "http": ("url", "headers", "body", "proxy"),
    "ftp": ("host", "user", "password", "private_key", "private_key_pem", "known_hosts"),
}


def register(handler: ActionHandler) -> ActionHandler:
    if handler.type in _REGISTRY:
        raise ValueError(f"action type {handler.type!r} registered twice")
    _REGISTRY[handler.type] = handler
    return handler


def get_handler(action_type: str) -> ActionHandler:
    from ratchet import actions  # noqa: F401  (registers the built-in handlers)

    handler = _REGISTRY.get(action_type)
    if handler is not None:
        return handler
    if action_type in UNSUPPORTED_TYPES:
        raise PermanentActionError(f"action type {action_type!r} is not supported by Ratchet")
    raise PermanentActionError(f"unknown action type {action_type!r}")


def registered_types() -> list[str]:
    from ratchet import actions  # noqa: F401  (importing the package registers the built-in handlers)

    return sorted(_REGISTRY)
