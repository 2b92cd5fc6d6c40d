"""ftp: upload generated files to, and download files from, an FTP, FTPS or SFTP server (spec 7.8).

Options: `host`, `user` (required), `port`, `password`, `protocol` (ftp|ftps|sftp; when
omitted: sftp on port 22 or with `private_key_pem`/`known_hosts`, ftps on port 990, else ftp),
`uploads` ({path: file generator}), `downloads` ([path]); FTP `mode` (binary, or ascii); FTPS
`verify` (default true); SFTP `private_key_pem`, `verify` (default false) with `known_hosts`.
Bare names resolve in the user's home directory, as the server does.

Uploads run before downloads, in the order given. Each file operation is tried up to 3 times,
on a fresh connection after a failure. Downloads share a 20 MB budget. The result is
`{log, uploads: {path: {size}}, downloads: {path: {size, data, data_base64}}}`, `data` being the
UTF-8 text or null when the bytes are not UTF-8. `log` lists the commands and outcomes (not a
byte-exact wire transcript; passwords never appear in it).
https://learn.mechanic.dev/core/actions/ftp
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ratchet.actions.base import (
    ActionContext,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    register,
    string_option,
)
from ratchet.actions.http import boolean_option
from ratchet.files import FileSpec, generate_files, parse_files
from ratchet.transfers import Session, Target, TransferError, TransferTooLarge, open_session

ATTEMPTS_PER_FILE = 3
DOWNLOAD_BUDGET_BYTES = 20 * 1024 * 1024  # per action, across all downloads
_DEFAULT_PORTS = {"ftp": 21, "ftps": 21, "sftp": 22}


@dataclass(frozen=True)
class FtpOptions:
    target: Target
    uploads: dict[str, FileSpec]
    downloads: list[str]


def _port(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())  # JSON templating turns numbers from options into strings
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ActionOptionsError("port", f"must be a port number, got {value!r}")
    return value


def _protocol(options: dict[str, Any], port: int | None) -> str:
    protocol = string_option(options, "protocol")
    if protocol is not None:
        if protocol.lower() not in _DEFAULT_PORTS:
            raise ActionOptionsError("protocol", f"must be ftp, ftps or sftp, got {protocol!r}")
        return protocol.lower()
    if port == 22 or options.get("private_key_pem") or options.get("known_hosts"):
        return "sftp"
    return "ftps" if port == 990 else "ftp"


def _downloads(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(path, str) and path.strip() for path in value):
        raise ActionOptionsError("downloads", "must be an array of file paths")
    return list(dict.fromkeys(value))


def _target(options: dict[str, Any]) -> Target:
    port = _port(options.get("port"))
    protocol = _protocol(options, port)
    mode = (string_option(options, "mode") or "binary").lower()
    if mode not in ("binary", "ascii"):
        raise ActionOptionsError("mode", f"must be binary or ascii, got {mode!r}")
    verify = boolean_option(options, "verify", protocol != "sftp")
    known_hosts = string_option(options, "known_hosts")
    if protocol == "sftp" and verify and known_hosts is None:
        raise ActionOptionsError("known_hosts", "is required to verify an SFTP server (verify: true)")
    host = string_option(options, "host", required=True)
    user = string_option(options, "user", required=True)
    assert host is not None and user is not None
    return Target(
        protocol=protocol,  # type: ignore[arg-type]  # checked by _protocol
        host=host.strip(),
        port=port or _DEFAULT_PORTS[protocol],
        user=user,
        password=string_option(options, "password"),
        ascii_mode=mode == "ascii",
        verify=verify,
        private_key_pem=string_option(options, "private_key_pem"),
        known_hosts=known_hosts,
    )


class FtpAction:
    type: ClassVar[str] = "ftp"

    def validate(self, options: Any) -> FtpOptions:
        if not isinstance(options, dict):
            raise ActionOptionsError("options", "must be a hash")
        target = _target(options)
        uploads = parse_files("uploads", options.get("uploads"))
        downloads = _downloads(options.get("downloads"))
        if not uploads and not downloads:
            raise ActionOptionsError("uploads", "nothing to do: give uploads, downloads or both")
        return FtpOptions(target, uploads, downloads)

    async def perform(self, options: FtpOptions, ctx: ActionContext) -> dict[str, Any]:
        files = await generate_files(options.uploads, ctx.settings.pdf_browser)
        transfer = _Transfer(options.target)
        try:
            uploads = {path: {"size": await transfer.upload(path, file.content)} for path, file in files.items()}
            downloads: dict[str, Any] = {}
            budget = DOWNLOAD_BUDGET_BYTES
            for path in options.downloads:
                content = await transfer.download(path, budget)
                budget -= len(content)
                downloads[path] = _downloaded(content)
        except TransferError as error:
            failure = TransientActionError if error.retryable else PermanentActionError
            raise failure(str(error), result={"log": transfer.text_log()}) from error
        finally:
            await transfer.close()
        return {"log": transfer.text_log(), "uploads": uploads, "downloads": downloads}


def _downloaded(content: bytes) -> dict[str, Any]:
    try:
        text: str | None = content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"size": len(content), "data": text, "data_base64": base64.b64encode(content).decode("ascii")}


class _Transfer:
    """One logical session: reconnects after a failed operation and tries it again, 3 times in all."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.log: list[str] = []
        self.session: Session | None = None

    async def upload(self, path: str, content: bytes) -> int:
        async def put(session: Session) -> None:
            await session.upload(path, content)

        await self._attempt(put)
        return len(content)

    async def download(self, path: str, max_bytes: int) -> bytes:
        received: list[bytes] = []

        async def get(session: Session) -> None:
            received.append(await session.download(path, max_bytes))

        await self._attempt(get)
        return received[-1]

    async def _attempt(self, operation: Callable[[Session], Awaitable[None]]) -> None:
        for attempt in range(1, ATTEMPTS_PER_FILE + 1):
            if self.session is None:
                self.session = await open_session(self.target, self.log)  # a failed login is not retried here
            try:
                await operation(self.session)
                return
            except TransferError as error:
                self.log.append(f"! {error} (attempt {attempt} of {ATTEMPTS_PER_FILE})")
                await self.close()
                if attempt == ATTEMPTS_PER_FILE or isinstance(error, TransferTooLarge):
                    raise

    async def close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            await session.close()

    def text_log(self) -> str:
        return "".join(f"{line}\n" for line in self.log)


register(FtpAction())
