"""The plaintext generator: a string is the file's UTF-8 text (it has no explicit name)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlaintextSpec:
    text: str


def parse(text: str) -> PlaintextSpec:
    return PlaintextSpec(text)
