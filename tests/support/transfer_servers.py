"""Real FTP, FTPS (pyftpdlib) and SFTP (asyncssh) servers for the ftp action's tests.

Each serves a fresh directory; FTPS has a self-signed certificate.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import asyncssh
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import ThreadedFTPServer

USER, PASSWORD = "ann", "open sesame"


@dataclasses.dataclass
class TransferServer:
    port: int
    root: Path
    # SFTP: the server's host key line for a known_hosts file, and a client key it accepts.
    known_hosts: str = ""
    client_key_pem: str = ""


class _FlakyStor:
    """STOR of a file whose name starts with "flaky" is refused once with 451 (a transient reply)."""

    refused: ClassVar[set[str]]  # per server: each handler class gets its own

    def ftp_STOR(self, file: str, mode: str = "w") -> Any:
        name = Path(file).name
        if name.startswith("flaky") and name not in self.refused:
            self.refused.add(name)
            self.respond("451 Local error, try again.")  # type: ignore[attr-defined]
            return None
        return super().ftp_STOR(file, mode)  # type: ignore[misc]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _serve_ftp(root: Path, base: type[FTPHandler], **attributes: Any) -> Iterator[TransferServer]:
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
    handler = type("Handler", (_FlakyStor, base), {"authorizer": authorizer, "refused": set(), **attributes})
    server = ThreadedFTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    try:
        yield TransferServer(port=server.address[1], root=root)
    finally:
        server.close_all()
        thread.join(timeout=5)


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[TransferServer]:
    (tmp_path / "home").mkdir()
    yield from _serve_ftp(tmp_path / "home", FTPHandler)


@pytest.fixture
def ftps_server(tmp_path: Path) -> Iterator[TransferServer]:
    """Explicit TLS (AUTH TLS) required on the control and data connections."""
    (tmp_path / "home").mkdir()
    cert, key = _self_signed(tmp_path)
    yield from _serve_ftp(
        tmp_path / "home",
        TLS_FTPHandler,
        certfile=str(cert),
        keyfile=str(key),
        tls_control_required=True,
        tls_data_required=True,
    )


@pytest.fixture
async def sftp_server(tmp_path: Path) -> AsyncIterator[TransferServer]:
    """Accepts USER with PASSWORD or with the client key it hands out; files live under `root`."""
    root = tmp_path / "home"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return (username, password) == (USER, PASSWORD)

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return username == USER and authorized.validate(key, "127.0.0.1", "127.0.0.1") is not None

    listener = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        server_factory=Server,
        sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(root).encode()),
    )
    port = listener.sockets[0].getsockname()[1]
    known_hosts = f"[127.0.0.1]:{port} {host_key.export_public_key().decode().strip()}\n"
    try:
        yield TransferServer(
            port=port,
            root=root,
            known_hosts=known_hosts,
            client_key_pem=client_key.export_private_key("openssh").decode(),
        )
    finally:
        listener.close()
        await listener.wait_closed()
