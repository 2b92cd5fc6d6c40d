"""Task versions as content: what a version holds, its hash, and the unified diff between two.

A version's content is the task's Mechanic export plus its `enabled` flag. Diffs compare a
readable document of it, not the JSON: the script, the subscriptions template and the docs
keep their own lines, so a one-line code change shows as one changed line.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

# Text fields shown as their own lines, in this order, after the settings.
_TEXT_FIELDS = ("script", "subscriptions_template", "docs", "online_store_javascript", "order_status_javascript")


def content_hash(content: dict[str, Any]) -> str:
    """sha256 of the content's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def document_lines(content: dict[str, Any]) -> list[str]:
    """The content as lines a person can diff: settings as `key: json`, then each text field's lines."""
    lines: list[str] = []
    for key in sorted(content):
        if key not in _TEXT_FIELDS:
            lines.append(f"{key}: {json.dumps(content[key], sort_keys=True, ensure_ascii=False)}")
    for key in _TEXT_FIELDS:
        text = content.get(key)
        if text:
            lines.append(f"--- {key} ---")
            lines.extend(str(text).splitlines())
    return lines


def unified_diff(old: dict[str, Any] | None, new: dict[str, Any], old_label: str, new_label: str) -> str:
    """The unified diff (3 lines of context) from `old` (None: an empty task) to `new`."""
    before = document_lines(old) if old is not None else []
    return "\n".join(
        difflib.unified_diff(before, document_lines(new), fromfile=old_label, tofile=new_label, lineterm="")
    )
