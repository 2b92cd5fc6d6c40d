"""The Temporal contract holds: workflows stay free of I/O imports, activities match their interfaces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio import activity

from activities.bulk_operations import BulkOperationActivities
from activities.bulk_retry import BulkRetryActivities
from activities.retention import RetentionActivities
from activities.runs import RunActivities
from activities.scheduler_tick import SchedulerActivities
from activities.webhook_subscriptions import WebhookSubscriptionsActivities
from ratchet.engine.contract import (
    BulkOperationActivitiesInterface,
    BulkRetryActivitiesInterface,
    RetentionActivitiesInterface,
    RunActivitiesInterface,
    SchedulerActivitiesInterface,
    WebhookSubscriptionsActivitiesInterface,
)

# Every module in workflows/, so a new workflow is checked without anyone remembering to list it.
WORKFLOW_MODULES = sorted(
    f"workflows.{path.stem}"
    for path in (Path(__file__).parents[2] / "workflows").glob("*.py")
    if path.stem != "__init__"
)
# What a workflow must never pull in, even indirectly: the worker runs workflows outside the
# SDK's sandbox (worker.py), so anything imported here runs in the worker's own interpreter.
FORBIDDEN = (
    "ratchet.store",
    "ratchet.services",
    "ratchet.engine.connection",
    "activities",
    "sqlalchemy",
    "sqlmodel",
    "psycopg",
    "httpx",
    "aiosmtplib",
    "temporalio.client",
)


@pytest.mark.parametrize("module", WORKFLOW_MODULES)
def test_workflow_modules_import_no_store_network_or_client(module: str) -> None:
    probe = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True).stdout)
    offending = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert offending == [], f"{module} imports {offending[:5]}"


@pytest.mark.parametrize(
    ("interface", "implementation"),
    [
        (RunActivitiesInterface, RunActivities),
        (SchedulerActivitiesInterface, SchedulerActivities),
        (BulkOperationActivitiesInterface, BulkOperationActivities),
        (RetentionActivitiesInterface, RetentionActivities),
        (WebhookSubscriptionsActivitiesInterface, WebhookSubscriptionsActivities),
        (BulkRetryActivitiesInterface, BulkRetryActivities),
    ],
)
def test_activities_implement_their_interface_under_the_same_names(interface: type, implementation: type) -> None:
    declared = {
        name: activity._Definition.must_from_callable(member).name
        for name, member in vars(interface).items()
        if activity._Definition.from_callable(member) is not None
    }
    assert declared, "an interface declares at least one activity"
    for attribute, activity_name in declared.items():
        implemented = activity._Definition.from_callable(getattr(implementation, attribute))
        assert implemented is not None and implemented.name == activity_name
