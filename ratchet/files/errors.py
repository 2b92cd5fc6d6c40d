"""The one error a generator module raises; `ratchet.files.generate` turns it into an action error naming the file."""

from __future__ import annotations


class GeneratorError(Exception):
    """A generator's argument is wrong (while parsing) or its work failed (while generating).

    `retryable` marks a failure a later attempt may not meet, such as a URL's server being down.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
