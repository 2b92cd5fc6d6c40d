"""Mechanic's runs as rules: kinds, states, the retry schedule, retention and priorities.

Pure data, no I/O: the ledger (ratchet.store) records these states and the event workflow
(workflows/event.py) enforces the schedule and priorities on Temporal.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class RunKind(str, enum.Enum):
    event = "event"
    task = "task"
    action = "action"


class RunState(str, enum.Enum):
    """Mechanic's six run states. Order of attention for a workflow's summary state is in `ATTENTION`."""

    unscheduled = "Unscheduled"
    scheduled = "Scheduled"
    due = "Due"
    started = "Started"
    failed = "Failed"
    succeeded = "Succeeded"

    @property
    def terminal(self) -> bool:
        return self in (RunState.failed, RunState.succeeded)


# The state "most in need of attention" first: it is what the event workflow's RunState search
# attribute shows, so `RunState='Failed'` finds every event with unresolved failed work.
ATTENTION: tuple[RunState, ...] = (
    RunState.failed,
    RunState.started,
    RunState.due,
    RunState.scheduled,
    RunState.unscheduled,
    RunState.succeeded,
)


def summary_state(states: Iterable[RunState]) -> RunState:
    """An event's state in its RunState search attribute: the one most in need of attention."""
    present = set(states)
    for state in ATTENTION:
        if state in present:
            return RunState.scheduled if state == RunState.unscheduled else state
    return RunState.succeeded


# Mechanic's automatic retry schedule: 4 retries after these delays, 5 attempts in all.
RETRY_DELAYS_SECONDS: tuple[float, ...] = (30, 76, 152, 308)


MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1


# Events stay retryable this long after they complete, and are then deleted: Mechanic's
# retention, the default of RATCHET_RETENTION_DAYS.
RETENTION_DAYS = 15.0
# The same default in seconds, for workflows that do not (yet) carry RATCHET_RETENTION_DAYS.
RETENTION_SECONDS = int(RETENTION_DAYS * 24 * 3600)


# A run waiting for the shop's Shopify rate limits fails permanently after waiting this long.
THROTTLE_GIVE_UP_SECONDS = 15 * 60


# Action types that spend the shop's Shopify API limits, and so wait while they are exhausted.
SHOPIFY_GATED_ACTION_TYPES = frozenset({"shopify", "flow"})


# How long a run's activity may go without a heartbeat before Temporal retries it elsewhere (a
# killed worker's attempt); activities/runs.py beats every HEARTBEAT_AFTER_SECONDS.
RUN_HEARTBEAT_TIMEOUT_SECONDS = 30


# Temporal priority keys: lower runs first. Actions before tasks before events.
PRIORITY_ACTION = 1


PRIORITY_TASK = 2


PRIORITY_EVENT = 3
