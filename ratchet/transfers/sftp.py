"""SFTP sessions over asyncssh.

Authentication by password and/or a PEM private key (`private_key_pem`, OpenSSH or PKCS#8).
The host key is checked only with `verify: true` and a `known_hosts` text, as Mechanic
documents; nothing is read from the worker's own ~/.ssh (keys, agent, config, known_hosts), so
a task authenticates with what it was given and nothing else.
https://asyncssh.readthedocs.io/en/latest/api.html#asyncssh.connect
"""

from __future__ import annotations

import asyncssh

from ratchet.transfers.base import Target, TransferError, TransferTooLarge

CONNECT_TIMEOUT = 15.0


class SftpSession:
    def __init__(self, connection: asyncssh.SSHClientConnection, sftp: asyncssh.SFTPClient, log: list[str]) -> None:
        self.connection = connection
        self.sftp = sftp
        self.log = log

    @classmethod
    async def open(cls, target: Target, log: list[str]) -> SftpSession:
        where = f"{target.host}:{target.port}"
        try:
            keys = [asyncssh.import_private_key(target.private_key_pem)] if target.private_key_pem else None
            verified = target.known_hosts if target.verify else None
            known_hosts = asyncssh.import_known_hosts(verified) if verified is not None else None
        except (asyncssh.KeyImportError, ValueError) as error:
            raise TransferError(f"SFTP to {where}: {error}", retryable=False) from error
        log.append("> ssh login ********")
        try:
            connection = await asyncssh.connect(
                target.host,
                target.port,
                username=target.user,
                password=target.password,
                client_keys=keys,
                known_hosts=known_hosts,
                agent_path=None,
                config=(),
                connect_timeout=CONNECT_TIMEOUT,
            )
        except (asyncssh.PermissionDenied, asyncssh.HostKeyNotVerifiable) as error:
            raise TransferError(f"SFTP login to {where} refused: {error.reason}", retryable=False) from error
        except (TimeoutError, asyncssh.Error, OSError) as error:
            raise TransferError(f"SFTP to {where} failed: {type(error).__name__}: {error}", retryable=True) from error
        try:
            sftp = await connection.start_sftp_client()
        except (asyncssh.Error, OSError) as error:
            connection.close()
            raise TransferError(f"SFTP to {where}: no SFTP subsystem: {error}", retryable=False) from error
        log.append("< logged in")
        return cls(connection, sftp, log)

    async def upload(self, path: str, content: bytes) -> None:
        self.log.append(f"> put {path}")
        try:
            async with self.sftp.open(path, "wb") as remote:
                await remote.write(content)
        except (asyncssh.Error, OSError) as error:
            raise _error(f"put {path}", error) from error
        self.log.append(f"< stored {len(content)} bytes")

    async def download(self, path: str, max_bytes: int) -> bytes:
        self.log.append(f"> get {path}")
        try:
            async with self.sftp.open(path, "rb") as remote:
                content = await remote.read(max_bytes + 1)
            assert isinstance(content, bytes)  # opened in binary mode
        except (asyncssh.Error, OSError) as error:
            raise _error(f"get {path}", error) from error
        if len(content) > max_bytes:
            raise TransferTooLarge(f"get {path}", max_bytes)
        self.log.append(f"< retrieved {len(content)} bytes")
        return content

    async def close(self) -> None:
        self.sftp.exit()
        self.connection.close()
        await self.connection.wait_closed()


def _error(what: str, error: Exception) -> TransferError:
    if isinstance(error, asyncssh.SFTPError):
        # A refused path (no such file, permission denied) stays refused; a lost connection may not.
        return TransferError(f"{what}: {error.reason}", retryable=isinstance(error, asyncssh.SFTPConnectionLost))
    return TransferError(f"{what}: {type(error).__name__}: {error}", retryable=True)
