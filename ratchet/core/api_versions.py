"""Shopify Admin API versions: which names exist, and which one a task run uses (spec 1.2).

Shopify releases one version per quarter (`YYYY-01`, `-04`, `-07`, `-10`), the next one is
available early as a release candidate, and `unstable` always exists. Versions past their
twelve months of support stay valid names: Shopify serves the oldest supported version in
their place, which is what Mechanic's "silent move to the next supported version" means.
"""

from __future__ import annotations

import re
from datetime import date

from ratchet.errors import InvalidInput

# The newest stable version when this Ratchet was released (2026-10, stable since 2026-10-01).
LATEST_STABLE_API_VERSION = "2026-10"
UNSTABLE = "unstable"
# Shopify's first versioned release.
FIRST_API_VERSION = "2019-04"
RELEASE_MONTHS = (1, 4, 7, 10)
_VERSION = re.compile(r"^(\d{4})-(\d{2})$")


class UnknownApiVersion(InvalidInput):
    """A name Shopify has no Admin API version for."""


def release_candidate(today: date) -> str:
    """The version after the newest released one: Shopify's release candidate on `today`."""
    released = max(month for month in RELEASE_MONTHS if month <= today.month)
    year, month = (today.year + 1, 1) if released == 10 else (today.year, released + 3)
    return f"{year:04d}-{month:02d}"


def check_api_version(value: str, *, today: date) -> str:
    """`value` when Shopify has that Admin API version on `today`; else `UnknownApiVersion`."""
    if value == UNSTABLE:
        return value
    newest = release_candidate(today)
    match = _VERSION.match(value)
    known = (
        match is not None
        and int(match.group(2)) in RELEASE_MONTHS
        and FIRST_API_VERSION <= value <= newest  # zero-padded names compare as dates
    )
    if not known:
        raise UnknownApiVersion(
            f"unknown Shopify API version {value!r}: use a quarterly release from {FIRST_API_VERSION} to "
            f"{newest} (YYYY-01, -04, -07 or -10, e.g. {LATEST_STABLE_API_VERSION}) or {UNSTABLE!r}"
        )
    return value


def effective_api_version(task_version: str | None, shop_version: str | None) -> str:
    """The version a task run uses: the task's own, else its shop's default, else Ratchet's."""
    return task_version or shop_version or LATEST_STABLE_API_VERSION
