"""The base64 generator: `{"base64": "…"}` is the decoded bytes."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ratchet.files.errors import GeneratorError


@dataclass(frozen=True)
class Base64Spec:
    content: bytes


def parse(argument: Any) -> Base64Spec:
    if not isinstance(argument, str):
        raise GeneratorError(f"base64 must be a string, got {argument!r}")
    try:
        # Line breaks are common in base64 produced by other tools; they carry no data.
        return Base64Spec(base64.b64decode("".join(argument.split()), validate=True))
    except binascii.Error as error:
        raise GeneratorError(f"is not valid base64: {error}") from error
