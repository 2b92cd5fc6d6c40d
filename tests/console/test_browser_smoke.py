"""The browser fixtures work: Debian's Chromium logs in and the layout passes axe."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.console import assert_accessible, screenshot

pytestmark = pytest.mark.browser


async def test_log_in_and_see_the_layout(page: Any) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").wait_for()
    await assert_accessible(page)
    await screenshot(page, "layout")
