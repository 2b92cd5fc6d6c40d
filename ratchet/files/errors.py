"""Errors of file generators.

    GeneratorError          raised by a generator module, without the file's name
    FileOptionsError        a malformed generator (InvalidInput): "invalid attachments.a.pdf: …"
    FileGenerationError     generating failed: "file 'a.pdf': …"; `retryable` when a later
                            attempt may succeed (a URL's server down), so the action run is retried

The last two are RatchetErrors the engine classifies as it does action errors; they do not
derive from ratchet.actions.base, whose package imports every action, the consumers included.
"""

from __future__ import annotations

from ratchet.errors import InvalidInput, RatchetError


class GeneratorError(Exception):
    """A generator's argument is wrong (while parsing) or its work failed (while generating)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class FileOptionsError(InvalidInput):
    """A generator that cannot run; `field_name` is the consumer's option path, like ActionOptionsError's."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"invalid {field_name}: {problem}")
        self.field_name = field_name


class FileGenerationError(RatchetError):
    def __init__(self, file_name: str, problem: str, *, retryable: bool = False) -> None:
        super().__init__(f"file {file_name!r}: {problem}")
        self.file_name = file_name
        self.retryable = retryable
