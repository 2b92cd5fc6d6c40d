"""FTP and FTPS sessions over aioftp.

FTPS is explicit TLS (RFC 4217: `AUTH TLS` on the control port, then `PBSZ 0` / `PROT P` so the
data connections are encrypted too), the usual meaning of "FTPS" and what Ruby's Net::FTP
(Mechanic's platform) does with `ssl:` set; on port 990, the implicit-TLS port, the connection is
TLS from the first byte instead. https://www.rfc-editor.org/rfc/rfc4217
Transfers use passive mode (EPSV, then PASV), as clients behind NAT must.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Literal

import aioftp

from ratchet.transfers.base import Target, TransferError, TransferTooLarge

IMPLICIT_FTPS_PORT = 990
SOCKET_TIMEOUT = 60.0
CONNECT_TIMEOUT = 15.0


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _error(what: str, error: Exception) -> TransferError:
    if isinstance(error, aioftp.StatusCodeError):
        received = error.received_codes[-1] if error.received_codes else None
        reply = " ".join(str(line).strip() for line in error.info) if error.info else ""
        # 4xx replies are transient by definition (RFC 959 4.2); 5xx ones are not.
        retryable = received is not None and str(received).startswith("4")
        return TransferError(f"{what}: {received} {reply}".strip(), retryable=retryable)
    if isinstance(error, ssl.SSLCertVerificationError):
        return TransferError(f"{what}: {error.verify_message} (set verify: false to skip the check)", retryable=False)
    return TransferError(f"{what}: {type(error).__name__}: {error}", retryable=True)


class FtpSession:
    def __init__(self, client: aioftp.Client, target: Target, log: list[str]) -> None:
        self.client = client
        self.target = target
        self.log = log

    @classmethod
    async def open(cls, target: Target, log: list[str]) -> FtpSession:
        implicit = target.protocol == "ftps" and target.port == IMPLICIT_FTPS_PORT
        client = aioftp.Client(
            socket_timeout=SOCKET_TIMEOUT,
            connection_timeout=CONNECT_TIMEOUT,
            ssl=_tls_context(target.verify) if implicit else None,
        )
        try:
            await client.connect(target.host, target.port)
            if target.protocol == "ftps" and not implicit:
                log.append("> AUTH TLS")
                await client.upgrade_to_tls(_tls_context(target.verify))
            log.append("> USER ********")
            await client.login(target.user, target.password or "")
        except (TimeoutError, aioftp.StatusCodeError, OSError) as error:
            client.close()
            failure = _error(f"login to {target.host}:{target.port} failed", error)
            if isinstance(error, aioftp.StatusCodeError) and str(error.received_codes[-1]).startswith("530"):
                failure = TransferError(f"login to {target.host}:{target.port} refused", retryable=False)
            raise failure from error
        log.append("< logged in")
        return cls(client, target, log)

    @property
    def _type(self) -> Literal["A", "I"]:
        return "A" if self.target.ascii_mode else "I"

    async def upload(self, path: str, content: bytes) -> None:
        if self.target.ascii_mode:  # text travels with CRLF line ends (RFC 959 3.1.1.1)
            content = content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.log.append(f"> TYPE {self._type}\n> STOR {path}")
        try:
            async with self.client.get_stream(f"STOR {path}", "1xx", conn_type=self._type) as stream:
                await stream.write(content)
        except (TimeoutError, aioftp.StatusCodeError, OSError) as error:
            raise _error(f"STOR {path}", error) from error
        self.log.append(f"< stored {len(content)} bytes")

    async def download(self, path: str, max_bytes: int) -> bytes:
        self.log.append(f"> TYPE {self._type}\n> RETR {path}")
        chunks: list[bytes] = []
        size = 0
        try:
            async with self.client.get_stream(f"RETR {path}", "1xx", conn_type=self._type) as stream:
                async for block in stream.iter_by_block():
                    size += len(block)
                    if size > max_bytes:
                        raise TransferTooLarge(f"RETR {path}", max_bytes)
                    chunks.append(block)
        except (TimeoutError, aioftp.StatusCodeError, OSError) as error:
            raise _error(f"RETR {path}", error) from error
        content = b"".join(chunks)
        if self.target.ascii_mode:
            content = content.replace(b"\r\n", b"\n")
        self.log.append(f"< retrieved {len(content)} bytes")
        return content

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.quit(), timeout=5)
        except (TimeoutError, aioftp.StatusCodeError, OSError):
            pass  # the transfers are done (or failed) either way
        finally:
            self.client.close()
