"""Rendering with Mechanic's Liquid dialect for the Liquid tests (plain, synchronous pytest)."""

from __future__ import annotations

from typing import Any

from ratchet.liquid import RenderRequest, RenderResult, render_task
from ratchet.liquid.render import render_template

SHOP = {
    "name": "Example Shop",
    "domain": "example.com",
    "myshopify_domain": "example.myshopify.com",
    "iana_timezone": "America/New_York",
    "currency": "USD",
    "money_format": "${{amount}}",
}


def run(
    script: str,
    *,
    topic: str = "mechanic/user/trigger",
    data: Any = None,
    options: dict | None = None,
    preview: bool = False,
    **kwargs: Any,
) -> RenderResult:
    return render_task(
        RenderRequest(
            script=script,
            options=options or {},
            event={"id": "e1", "topic": topic, "data": data, "created_at": "2024-01-01T00:00:00Z"},
            task={"id": "t1", "name": "Test task"},
            shop=SHOP,
            preview=preview,
            **kwargs,
        )
    )


def text(source: str, **variables: Any) -> str:
    """Render Liquid to text with Mechanic's dialect (no output parsing)."""
    return render_template(source, {"shop": SHOP, **variables}, state={"timezone": "UTC"})
