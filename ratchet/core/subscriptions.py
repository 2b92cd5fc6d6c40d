"""Topics and subscription lines (`topic` or `topic+N.unit`), per Mechanic's grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from ratchet.errors import InvalidInput

TOPIC_RE = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+/[a-z0-9_]+$")
SUBSCRIPTION_RE = re.compile(
    r"^(?P<topic>[a-z0-9_]+/[a-z0-9_]+/[a-z0-9_]+)"
    r"(?:\+(?P<n>\d+)\.(?P<unit>second|minute|hour|day|week|month|year)s?)?$"
)

_FIXED_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}

# Routing classes from the spec (section 2.6 and 9).
BUTTON_TOPICS = frozenset({"mechanic/user/trigger", "mechanic/user/text", "mechanic/user/form"})
ORIGINATING_TASK_TOPICS = frozenset({"mechanic/actions/perform", "mechanic/shopify/bulk_operation"})
ERROR_TOPICS = frozenset({"mechanic/errors/event", "mechanic/errors/task", "mechanic/errors/action"})
# Admin action links (run links): each resource's plural names its batch topic; no collections batch
# (https://learn.mechanic.dev/core/shopify/admin-action-links).
RESOURCE_PLURALS = {
    "order": "orders",
    "customer": "customers",
    "draft_order": "draft_orders",
    "collection": "collections",
    "product": "products",
    "variant": "variants",
}
RESOURCE_TOPICS = frozenset(
    [f"mechanic/user/{resource}" for resource in RESOURCE_PLURALS]
    + [f"mechanic/user/{plural}" for resource, plural in RESOURCE_PLURALS.items() if resource != "collection"]
)


class TopicError(InvalidInput):
    pass


def validate_topic(topic: str) -> str:
    topic = topic.strip()
    if not TOPIC_RE.match(topic):
        raise TopicError(
            f"invalid topic {topic!r}: expected domain/subject/verb in lowercase letters, digits and underscores"
        )
    return topic


@dataclass(frozen=True)
class Subscription:
    line: str
    topic: str
    offset_n: int = 0
    offset_unit: str | None = None

    @property
    def has_offset(self) -> bool:
        return self.offset_unit is not None

    def run_at(self, base: datetime, tz: str, time_scale: float = 1.0) -> datetime:
        """When a task run for this subscription is due, given the event run's start time.

        Months and years are calendar arithmetic in the shop's zone; smaller units are fixed
        lengths. The scale shrinks the wait (not the calendar) for tests.
        """
        if self.offset_unit is None:
            return base
        if self.offset_unit in _FIXED_UNITS:
            seconds: float = self.offset_n * _FIXED_UNITS[self.offset_unit]
        else:
            local = base.astimezone(ZoneInfo(tz))
            delta = (
                relativedelta(months=self.offset_n)
                if self.offset_unit == "month"
                else relativedelta(years=self.offset_n)
            )
            seconds = ((local + delta) - local).total_seconds()
        return base + timedelta(seconds=seconds * time_scale)


def parse_subscription(line: str) -> Subscription:
    text = line.strip()
    match = SUBSCRIPTION_RE.match(text)
    if not match:
        raise TopicError(f"invalid subscription {text!r}: expected topic or topic+N.unit (seconds … years)")
    n = match.group("n")
    return Subscription(
        line=text,
        topic=match.group("topic"),
        offset_n=int(n) if n is not None else 0,
        offset_unit=match.group("unit"),
    )


def parse_subscriptions(lines: list[str]) -> list[Subscription]:
    """Parse and de-duplicate byte-identical lines (distinct offsets stay separate)."""
    seen: set[str] = set()
    result = []
    for line in lines:
        if not line.strip():
            continue
        sub = parse_subscription(line)
        if sub.line not in seen:
            seen.add(sub.line)
            result.append(sub)
    return result
