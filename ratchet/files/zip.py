"""The zip generator: `{"zip": {"files": {name: generator}, "password"?: "…"}}`, a deflated ZIP archive.

Entries are nested generators (a ZIP may hold PDFs, downloads, other ZIPs). With a password the
entries are encrypted with ZipCrypto, as Mechanic documents — the traditional PKWARE scheme every
unzip tool opens; it is weak, and Mechanic says so too.
https://learn.mechanic.dev/core/actions/file-generators/zip

Why a writer of our own: no maintained Python library writes ZipCrypto (the standard library's
zipfile only reads it; pyzipper writes WinZip AES only). The format is small and fully specified
in PKWARE's APPNOTE (4.3: structure, 6.1: traditional encryption),
https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT; archives stay far below the ZIP64
limits because every file is at most 20 MB. The tests read the archives back with zipfile.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ratchet.files.errors import GeneratorError

_VERSION = 20  # 2.0: deflate and traditional encryption
_FLAG_ENCRYPTED = 0x0001
_FLAG_UTF8_NAMES = 0x0800
_DEFLATED = 8


def _crc_table() -> list[int]:
    table = []
    for value in range(256):
        for _ in range(8):
            value = (value >> 1) ^ 0xEDB88320 if value & 1 else value >> 1
        table.append(value)
    return table


_CRC_TABLE = _crc_table()


@dataclass(frozen=True)
class ZipSpec:
    files: dict[str, Any]  # name → FileSpec (typed in ratchet.files.generate, which owns the union)
    password: str | None


def parse(argument: Any, parse_entry: Callable[[str, Any], Any]) -> ZipSpec:
    if not isinstance(argument, dict) or not isinstance(argument.get("files"), dict) or not argument["files"]:
        raise GeneratorError('zip must be a hash such as {"files": {"name.txt": "text"}}')
    unknown = sorted(set(argument) - {"files", "password"})
    if unknown:
        raise GeneratorError(f"zip option {unknown[0]!r} is unknown (files, password)")
    password = argument.get("password")
    if password is not None and (not isinstance(password, str) or not password):
        raise GeneratorError("zip password must be a non-empty string")
    for name in argument["files"]:
        if not name or name.startswith("/") or "\\" in name or ".." in name.split("/"):
            raise GeneratorError(f"zip entry name {name!r} must be a relative path without '..' or backslashes")
    return ZipSpec({name: parse_entry(name, entry) for name, entry in argument["files"].items()}, password)


def generate(spec: ZipSpec, entries: list[tuple[str, bytes]]) -> bytes:
    """The archive of `entries` (name, content), encrypted when the spec has a password."""
    password = spec.password.encode("utf-8") if spec.password else None
    dos_time, dos_date = _dos_datetime(time.localtime())
    local_parts: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, content in entries:
        encoded_name = name.encode("utf-8")
        crc = zlib.crc32(content)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as ZIP stores it
        data = compressor.compress(content) + compressor.flush()
        flags = _FLAG_UTF8_NAMES
        if password is not None:
            flags |= _FLAG_ENCRYPTED
            data = _zipcrypto(password, os.urandom(11) + bytes([crc >> 24]) + data)
        common = struct.pack("<HHHHHIII", _VERSION, flags, _DEFLATED, dos_time, dos_date, crc, len(data), len(content))
        header = struct.pack("<I", 0x04034B50) + common + struct.pack("<HH", len(encoded_name), 0) + encoded_name
        central.append(
            struct.pack("<IH", 0x02014B50, _VERSION)
            + common
            + struct.pack("<HHHHHII", len(encoded_name), 0, 0, 0, 0, 0, offset)
            + encoded_name
        )
        local_parts += [header, data]
        offset += len(header) + len(data)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), offset, 0)
    return b"".join(local_parts) + directory + end


def _zipcrypto(password: bytes, plain: bytes) -> bytes:
    """APPNOTE 6.1: three CRC-driven keys, seeded by the password, stream-cipher the data.

    One byte at a time by nature; the keys live in locals because this loop is the hot spot.
    """
    table = _CRC_TABLE
    key0, key1, key2 = 0x12345678, 0x23456789, 0x34567890
    for byte in password:
        key0 = table[(key0 ^ byte) & 0xFF] ^ (key0 >> 8)
        key1 = ((key1 + (key0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        key2 = table[(key2 ^ (key1 >> 24)) & 0xFF] ^ (key2 >> 8)
    out = bytearray(plain)
    for index, byte in enumerate(plain):
        temp = (key2 | 2) & 0xFFFF
        out[index] = byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF)
        key0 = table[(key0 ^ byte) & 0xFF] ^ (key0 >> 8)
        key1 = ((key1 + (key0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        key2 = table[(key2 ^ (key1 >> 24)) & 0xFF] ^ (key2 >> 8)
    return bytes(out)


def _dos_datetime(now: time.struct_time) -> tuple[int, int]:
    year = max(now.tm_year, 1980)
    return (now.tm_hour << 11) | (now.tm_min << 5) | (now.tm_sec // 2), ((year - 1980) << 9) | (
        now.tm_mon << 5
    ) | now.tm_mday
