"""The vendored htmx is the file its README names, and every page loads only same-origin files."""

from __future__ import annotations

import hashlib
import re

from ratchet.console.templating import STATIC_DIR, TEMPLATES_DIR


def test_vendored_htmx_matches_its_recorded_sha256() -> None:
    recorded = re.search(r"<!-- htmx-sha256 -->([0-9a-f]{64})<!--", (STATIC_DIR / "README.md").read_text())
    assert recorded, "static/README.md records htmx's sha256"
    assert hashlib.sha256((STATIC_DIR / "htmx-2.0.11.min.js").read_bytes()).hexdigest() == recorded.group(1)


def test_templates_have_no_inline_script_style_or_remote_url() -> None:
    # CSP `default-src 'self'` would block them; finding them here names the template.
    for template in TEMPLATES_DIR.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {template}"
        assert not re.search(r"\sstyle=|<style", text), f"inline style in {template}"
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f"remote URL in {template}"
