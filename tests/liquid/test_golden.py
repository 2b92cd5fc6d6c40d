"""Differential conformance: Ratchet's Liquid against Shopify's Ruby Liquid.

`golden/cases.json` holds small templates with their data; `golden/expected.json`
holds what Ruby Liquid 5.4 with ActiveSupport renders for each (written by
`golden/generate.rb`, see its header). A case expecting an error passes when
Ratchet also refuses it with a `TaskRenderError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ratchet.liquid import TaskRenderError
from ratchet.liquid.render import render_template

GOLDEN = Path(__file__).parent / "golden"
CASES: list[dict[str, Any]] = json.loads((GOLDEN / "cases.json").read_text(encoding="utf-8"))
EXPECTED: dict[str, dict[str, str]] = json.loads((GOLDEN / "expected.json").read_text(encoding="utf-8"))


def render_case(case: dict[str, Any]) -> dict[str, str]:
    try:
        return {"output": render_template(case["template"], case["data"], state={"timezone": "UTC"})}
    except TaskRenderError as err:
        return {"error": err.message}


def test_every_case_has_a_golden_output() -> None:
    assert sorted(EXPECTED) == sorted(case["name"] for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_matches_ruby_liquid(case: dict[str, Any]) -> None:
    expected = EXPECTED[case["name"]]
    actual = render_case(case)
    if "error" in expected:
        assert "error" in actual, f"{case['template']!r} rendered {actual['output']!r}; Ruby: {expected['error']}"
    else:
        assert actual == expected, case["template"]
