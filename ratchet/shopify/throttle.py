"""Per-shop Shopify rate-limit state, shared by every worker through the store.

Shopify limits a shop as a whole (spec 4.3), so a worker that sees the bucket run dry must stop
the others too: each Admin API response is recorded here, and the engine asks
`seconds_until_available` before it starts a task run or a `shopify` action run.

Units: every duration this module takes or returns is in *Shopify seconds* (real-world time, as
Shopify's restore rates and Retry-After headers count it). The engine waits
`settings.scaled(seconds)`; with RATCHET_TIME_SCALE < 1 the wall clock runs faster than Shopify
time, so the projection divides elapsed wall time by the same `time_scale`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, or_, update
from sqlmodel import Field, col

from ratchet.core.clock import utcnow
from ratchet.store.tables import ShopifyThrottleState, UTCDateTime

if TYPE_CHECKING:
    from ratchet.store.database import Store

# GraphQL is "exhausted" below this share of the bucket (spec 4.3 recommends < 10 %) ...
GRAPHQL_EXHAUSTED_FRACTION = 0.10
# ... and a waiting run sleeps until this share is back, so the runs released together do not
# drain the bucket again at once (hysteresis instead of flapping at the threshold).
GRAPHQL_RECOVERED_FRACTION = 0.50
# REST is "exhausted" at limit - 2 calls used (38/40 on the standard bucket).
REST_EXHAUSTED_HEADROOM = 2
REST_RECOVERED_FRACTION = 0.50
# The call-limit header gives used/limit but not the leak rate; Shopify's REST buckets drain a
# full bucket in 20 s (40 at 2/s, 80 at 4/s on Plus), so the rate follows from the limit.
REST_BUCKET_DRAIN_SECONDS = 20.0
# When a response reports no usable restore rate the recovery cannot be projected: re-check soon.
UNKNOWN_RATE_RECHECK_SECONDS = 1.0


def _ts() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime()))


@dataclass(frozen=True)
class GraphQLThrottleStatus:
    """`extensions.cost.throttleStatus` of a GraphQL response."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_response(cls, status: Mapping[str, Any]) -> GraphQLThrottleStatus | None:
        """Parse Shopify's camelCase mapping; None when a field is missing or not numeric."""
        try:
            return cls(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _ensure_row(store: Store, session: Any, shop_id: str) -> None:
    store.insert_ignore(session, ShopifyThrottleState, [{"shop_id": shop_id}])


def record_graphql(
    store: Store, shop_id: str, status: GraphQLThrottleStatus, *, observed_at: datetime | None = None
) -> None:
    """Record a GraphQL bucket observation; an older observation never overwrites a newer one."""
    at = observed_at or utcnow()
    table = ShopifyThrottleState
    with store.session() as session:
        _ensure_row(store, session, shop_id)
        session.execute(
            update(table)
            .where(col(table.shop_id) == shop_id)
            .where(or_(col(table.graphql_observed_at).is_(None), col(table.graphql_observed_at) <= at))
            .values(
                graphql_currently_available=status.currently_available,
                graphql_maximum_available=status.maximum_available,
                graphql_restore_rate=status.restore_rate,
                graphql_observed_at=at,
            )
        )


def record_rest(store: Store, shop_id: str, used: int, limit: int, *, observed_at: datetime | None = None) -> None:
    """Record an `X-Shopify-Shop-Api-Call-Limit: used/limit` observation (newest wins)."""
    at = observed_at or utcnow()
    table = ShopifyThrottleState
    with store.session() as session:
        _ensure_row(store, session, shop_id)
        session.execute(
            update(table)
            .where(col(table.shop_id) == shop_id)
            .where(or_(col(table.rest_observed_at).is_(None), col(table.rest_observed_at) <= at))
            .values(rest_used=used, rest_limit=limit, rest_observed_at=at)
        )


def record_throttled(store: Store, shop_id: str, retry_after_s: float, *, observed_at: datetime | None = None) -> None:
    """Record a THROTTLED / 429 answer: the shop is unavailable for `retry_after_s` Shopify seconds.

    The newest answer wins even when shorter: it is Shopify's freshest statement about the bucket.
    """
    at = observed_at or utcnow()
    table = ShopifyThrottleState
    with store.session() as session:
        _ensure_row(store, session, shop_id)
        session.execute(
            update(table)
            .where(col(table.shop_id) == shop_id)
            .where(or_(col(table.throttled_at).is_(None), col(table.throttled_at) <= at))
            .values(throttled_retry_after_seconds=max(0.0, retry_after_s), throttled_at=at)
        )


def get_state(store: Store, shop_id: str) -> ShopifyThrottleState | None:
    with store.session() as session:
        return session.get(ShopifyThrottleState, shop_id)


def seconds_until_available(
    store: Store, shop_id: str, now: datetime | None = None, *, time_scale: float = 1.0
) -> float:
    """Shopify seconds until the shop may be called again; 0.0 when neither API is exhausted.

    GraphQL is projected forward with its reported restore rate, REST with its leak rate, and an
    open THROTTLED/429 window is honoured; the answer is the longest of the three waits.
    """
    state = get_state(store, shop_id)
    if state is None:
        return 0.0
    return wait_seconds(state, now or utcnow(), time_scale=time_scale)


def _elapsed(since: datetime, now: datetime, time_scale: float) -> float:
    # Clock skew between workers can put an observation slightly in the future: count it as now.
    return max(0.0, (now - since).total_seconds() / time_scale)


def wait_seconds(state: ShopifyThrottleState, now: datetime, *, time_scale: float = 1.0) -> float:
    """The projection behind `seconds_until_available`, for a state row already in hand."""
    waits: list[float] = [0.0]

    maximum, available, rate = (
        state.graphql_maximum_available,
        state.graphql_currently_available,
        state.graphql_restore_rate,
    )
    if maximum and available is not None and state.graphql_observed_at is not None:
        rate = rate or 0.0
        elapsed = _elapsed(state.graphql_observed_at, now, time_scale)
        projected = min(maximum, available + rate * elapsed)
        if projected < GRAPHQL_EXHAUSTED_FRACTION * maximum:
            target = GRAPHQL_RECOVERED_FRACTION * maximum
            waits.append((target - projected) / rate if rate > 0 else UNKNOWN_RATE_RECHECK_SECONDS)

    if state.rest_limit and state.rest_used is not None and state.rest_observed_at is not None:
        leak = state.rest_limit / REST_BUCKET_DRAIN_SECONDS
        elapsed = _elapsed(state.rest_observed_at, now, time_scale)
        projected = max(0.0, state.rest_used - leak * elapsed)
        if projected >= state.rest_limit - REST_EXHAUSTED_HEADROOM:
            waits.append((projected - REST_RECOVERED_FRACTION * state.rest_limit) / leak)

    if state.throttled_at is not None and state.throttled_retry_after_seconds:
        elapsed = _elapsed(state.throttled_at, now, time_scale)
        waits.append(state.throttled_retry_after_seconds - elapsed)

    return max(waits)
