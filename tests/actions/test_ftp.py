"""ftp action against real local FTP, FTPS (pyftpdlib) and SFTP (asyncssh) servers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from ratchet.actions import ftp
from ratchet.actions.base import (
    ActionContext,
    ActionOptionsError,
    PermanentActionError,
    TransientActionError,
    get_handler,
)
from ratchet.engine.devserver import free_port
from tests.support.transfer_servers import PASSWORD, USER, TransferServer

handler = get_handler("ftp")
MakeCtx = Callable[..., ActionContext]


async def transfer(options: dict[str, Any], ctx: ActionContext) -> Any:
    return await handler.perform(handler.validate(options), ctx)


def login(server: TransferServer, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": server.port, "user": USER, "password": PASSWORD, **extra}


@pytest.mark.parametrize(
    ("options", "protocol"),
    [
        ({"port": 22}, "sftp"),
        ({"port": "22"}, "sftp"),
        ({"private_key_pem": "x"}, "sftp"),
        ({"port": 990}, "ftps"),
        ({}, "ftp"),
        ({"port": 2121}, "ftp"),
        ({"port": 22, "protocol": "FTP"}, "ftp"),
    ],
)
def test_protocol_is_inferred_when_omitted(options: dict[str, Any], protocol: str) -> None:
    validated = handler.validate({"host": "h", "user": "u", "downloads": ["a"], **options})
    assert validated.target.protocol == protocol


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"host": None}, "host"),
        ({"user": ""}, "user"),
        ({"port": 70000}, "port"),
        ({"protocol": "scp"}, "protocol"),
        ({"mode": "ebcdic"}, "mode"),
        ({"downloads": "a.txt"}, "downloads"),
        ({"downloads": [], "uploads": {}}, "uploads"),
        ({"protocol": "sftp", "verify": True}, "known_hosts"),
        ({"verify": "maybe"}, "verify"),
    ],
)
def test_invalid_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ActionOptionsError) as raised:
        handler.validate({"host": "h", "user": "u", "downloads": ["a"], **options})
    assert raised.value.field_name == field


async def test_ftp_uploads_before_downloads(ftp_server: TransferServer, make_ctx: MakeCtx) -> None:
    (ftp_server.root / "exports").mkdir()
    (ftp_server.root / "image.bin").write_bytes(b"\xff\x00\xfe")
    result = await transfer(
        login(
            ftp_server,
            uploads={
                "exports/table.csv": "Title,SKU\nRed T-Shirt,TEE-R",
                "secure.zip": {"zip": {"files": {"a.txt": "a"}}},
            },
            # The upload is downloaded again: uploads happen first.
            downloads=["exports/table.csv", "image.bin"],
        ),
        make_ctx(),
    )
    assert (ftp_server.root / "exports/table.csv").read_text() == "Title,SKU\nRed T-Shirt,TEE-R"
    assert (ftp_server.root / "secure.zip").read_bytes()[:2] == b"PK"
    assert result["uploads"]["exports/table.csv"] == {"size": 27}
    assert result["downloads"]["exports/table.csv"] == {
        "size": 27,
        "data": "Title,SKU\nRed T-Shirt,TEE-R",
        "data_base64": base64.b64encode(b"Title,SKU\nRed T-Shirt,TEE-R").decode(),
    }
    # Bytes that are not UTF-8 come back in base64 only.
    assert result["downloads"]["image.bin"] == {"size": 3, "data": None, "data_base64": "/wD+"}
    assert "STOR exports/table.csv" in result["log"] and PASSWORD not in result["log"]
    assert result["log"].index("STOR secure.zip") < result["log"].index("RETR exports/table.csv")


async def test_ftp_ascii_mode_sends_text_line_ends(ftp_server: TransferServer, make_ctx: MakeCtx) -> None:
    await transfer(login(ftp_server, uploads={"binary.txt": "a\r\nb\n"}), make_ctx())
    await transfer(login(ftp_server, mode="ascii", uploads={"ascii.txt": "a\r\nb\n"}), make_ctx())
    assert (ftp_server.root / "binary.txt").read_bytes() == b"a\r\nb\n"  # as given
    assert (ftp_server.root / "ascii.txt").read_bytes() == b"a\nb\n"  # the (Unix) server's line ends


async def test_a_failed_file_operation_is_tried_again(ftp_server: TransferServer, make_ctx: MakeCtx) -> None:
    # The server refuses the first STOR of flaky.txt with 451.
    result = await transfer(login(ftp_server, uploads={"flaky.txt": "second time lucky"}), make_ctx())
    assert (ftp_server.root / "flaky.txt").read_text() == "second time lucky"
    assert "(attempt 1 of 3)" in result["log"] and "(attempt 2 of 3)" not in result["log"]


async def test_a_missing_download_fails_after_three_attempts(ftp_server: TransferServer, make_ctx: MakeCtx) -> None:
    with pytest.raises(PermanentActionError) as raised:
        await transfer(login(ftp_server, downloads=["missing.csv"]), make_ctx())
    assert "RETR missing.csv" in str(raised.value)
    assert raised.value.result["log"].count("> RETR missing.csv") == 3


async def test_downloads_share_a_size_budget(
    ftp_server: TransferServer, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ftp, "DOWNLOAD_BUDGET_BYTES", 10)
    for name in ("a.txt", "b.txt"):
        (ftp_server.root / name).write_text("123456")
    with pytest.raises(PermanentActionError, match=r"RETR b.txt: more than 4 bytes"):
        await transfer(login(ftp_server, downloads=["a.txt", "b.txt"]), make_ctx())


async def test_wrong_password_is_permanent(ftp_server: TransferServer, make_ctx: MakeCtx) -> None:
    with pytest.raises(PermanentActionError, match="refused"):
        await transfer({**login(ftp_server), "password": "wrong", "downloads": ["a"]}, make_ctx())


async def test_unreachable_server_is_transient(make_ctx: MakeCtx) -> None:
    with pytest.raises(TransientActionError, match="failed"):
        await transfer({"host": "127.0.0.1", "port": free_port(), "user": "u", "downloads": ["a"]}, make_ctx())


async def test_ftps_encrypts_and_checks_the_certificate(ftps_server: TransferServer, make_ctx: MakeCtx) -> None:
    # The server requires TLS on both connections, so a plain FTP session could not upload.
    options = login(ftps_server, protocol="ftps", uploads={"report.txt": "private"}, downloads=["report.txt"])
    with pytest.raises(PermanentActionError, match="certificate"):
        await transfer(options, make_ctx())  # self-signed: refused unless verify is false
    result = await transfer({**options, "verify": False}, make_ctx())
    assert (ftps_server.root / "report.txt").read_text() == "private"
    assert result["downloads"]["report.txt"]["data"] == "private"
    assert "AUTH TLS" in result["log"]


async def test_sftp_with_password_and_with_key(sftp_server: TransferServer, make_ctx: MakeCtx) -> None:
    (sftp_server.root / "in").mkdir()
    result = await transfer(
        login(sftp_server, protocol="sftp", uploads={"in/orders.csv": "id\n1\n"}, downloads=["in/orders.csv"]),
        make_ctx(),
    )
    assert (sftp_server.root / "in/orders.csv").read_text() == "id\n1\n"
    assert result["downloads"]["in/orders.csv"]["data"] == "id\n1\n"
    keyed = {
        "host": "127.0.0.1",
        "port": sftp_server.port,
        "user": USER,
        "private_key_pem": sftp_server.client_key_pem,
        "uploads": {"by-key.txt": "k"},
    }
    await transfer(keyed, make_ctx())  # protocol inferred from the key
    assert (sftp_server.root / "by-key.txt").read_text() == "k"


async def test_sftp_verifies_the_host_key_against_known_hosts(sftp_server: TransferServer, make_ctx: MakeCtx) -> None:
    options = login(sftp_server, protocol="sftp", uploads={"a.txt": "a"}, verify=True)
    await transfer({**options, "known_hosts": sftp_server.known_hosts}, make_ctx())
    other = "[127.0.0.1]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEVPNzBs3xwtPl4wo8gmVTS0DdP5jITOH5S8AJwyvNbl\n"
    with pytest.raises(PermanentActionError, match="refused"):
        await transfer({**options, "known_hosts": other % sftp_server.port}, make_ctx())
    with pytest.raises(PermanentActionError, match="refused"):
        await transfer({**options, "known_hosts": sftp_server.known_hosts, "password": "nope"}, make_ctx())
