"""File transfer sessions for the `ftp` action: FTP and FTPS (aioftp), SFTP (asyncssh).

    session = await open_session(target, log)   # connected and logged in
    await session.upload("dir/a.csv", b"…")
    data = await session.download("b.csv", max_bytes)
    await session.close()

Errors are TransferError; `retryable` says whether a later attempt may succeed (a connection
refused or dropped, a timeout, an FTP 4xx reply) or not (a refused login, an unknown host key,
an FTP 5xx reply such as "no such file", a download past its limit). Every session writes what
it does to `log` (passwords never appear).
"""

from __future__ import annotations

from ratchet.transfers.base import Session, Target, TransferError, TransferTooLarge
from ratchet.transfers.ftp import FtpSession

__all__ = ["Session", "Target", "TransferError", "TransferTooLarge", "open_session"]


async def open_session(target: Target, log: list[str]) -> Session:
    log.append(f"connect: {target.host}, {target.port} ({target.protocol})")
    if target.protocol == "sftp":
        # Imported on first use: asyncssh takes most of a second to import, which every CLI
        # command and the ingress would otherwise pay without ever opening an SFTP session.
        from ratchet.transfers.sftp import SftpSession

        return await SftpSession.open(target, log)
    return await FtpSession.open(target, log)
