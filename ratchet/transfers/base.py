"""What every transfer session shares: its target, its error, its interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TransferProtocol = Literal["ftp", "ftps", "sftp"]


class TransferError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class TransferTooLarge(TransferError):
    """A download past its size limit: trying again would fetch the same bytes."""

    def __init__(self, what: str, max_bytes: int) -> None:
        super().__init__(f"{what}: more than {max_bytes:,} bytes", retryable=False)


@dataclass(frozen=True)
class Target:
    """Where and how to connect."""

    protocol: TransferProtocol
    host: str
    port: int
    user: str
    password: str | None
    # FTP: transfer type A (text, CRLF line ends on the wire) instead of I (bytes).
    ascii_mode: bool = False
    # FTPS: check the server's certificate; SFTP: check its host key against known_hosts.
    verify: bool = True
    private_key_pem: str | None = None
    known_hosts: str | None = None


class Session(Protocol):
    async def upload(self, path: str, content: bytes) -> None: ...

    async def download(self, path: str, max_bytes: int) -> bytes: ...

    async def close(self) -> None: ...
