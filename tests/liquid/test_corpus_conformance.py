"""Conformance over the Mechanic task library sample (issue 4, item 6).

Thresholds: 100% parse; >= 97% render every preview event without a Liquid error;
>= 98% render subscriptions equal (as sets) to the exported ones. Stale exports are
printed by name. The corpus lives beside the checkout (`../shared/corpus/tasks`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.services.check import CheckReport, check_file

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tasks"


@pytest.fixture(scope="module")
def reports() -> list[CheckReport]:
    if not CORPUS.is_dir():
        pytest.skip(f"Mechanic task corpus not found at {CORPUS} (clone shared/ beside the repo)")
    files = sorted(CORPUS.glob("*.json"))
    if not files:
        pytest.skip(f"no task exports in {CORPUS}")
    return [check_file(path) for path in files]


def _names(reports: list[CheckReport]) -> str:
    return ", ".join(Path(r.file).name for r in reports)


def test_every_task_parses(reports: list[CheckReport]) -> None:
    failed = [r for r in reports if not r.parsed]
    assert not failed, f"{len(failed)} task(s) failed to parse: " + "; ".join(
        f"{Path(r.file).name}: {r.errors[0]['message']}" for r in failed
    )


def test_previews_render(reports: list[CheckReport]) -> None:
    failed = [r for r in reports if r.parsed and r.previews_ok < r.previews]
    share = 1 - len(failed) / len(reports)
    for r in failed:
        print(f"preview failure: {Path(r.file).name}: {r.errors[0]['message']} (line {r.errors[0].get('line')})")
    print(f"previews: {len(reports) - len(failed)}/{len(reports)} tasks render every preview ({share:.1%})")
    assert share >= 0.97, f"only {share:.1%} render all previews; failing: {_names(failed)}"


def test_subscriptions_match_exports(reports: list[CheckReport]) -> None:
    stale = [r for r in reports if r.parsed and not r.subscriptions_match]
    share = 1 - len(stale) / len(reports)
    for r in stale:
        print(f"stale export: {Path(r.file).name}: {r.warnings[0]}")
    print(f"subscriptions: {len(reports) - len(stale)}/{len(reports)} match ({share:.1%})")
    assert share >= 0.98, f"only {share:.1%} match; stale: {_names(stale)}"
