"""Parsing and running file generators: the dispatch over the one-module-per-generator kinds."""

from __future__ import annotations

import asyncio
import dataclasses
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.files import base64, pdf, plaintext, url, zip
from ratchet.files.errors import FileGenerationError, FileOptionsError, GeneratorError
from ratchet.files.pdf_scripts import script_browser

# "Generated and downloaded files are limited to 20 MB each", also inside a ZIP.
# https://learn.mechanic.dev/core/actions/file-generators
MAX_FILE_BYTES = 20 * 1024 * 1024

FileSpec = plaintext.PlaintextSpec | base64.Base64Spec | url.UrlSpec | pdf.PdfSpec | zip.ZipSpec


@dataclass(frozen=True)
class GeneratedFile:
    name: str
    content: bytes
    mime_type: str

    @property
    def size(self) -> int:
        return len(self.content)


def parse_files(field_name: str, value: Any) -> dict[str, FileSpec]:
    """`{filename: generator}` (an absent value is no files); FileOptionsError names `field.filename`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FileOptionsError(field_name, "must be a hash of filename to file generator")
    return {name: parse_file(f"{field_name}.{name}", generator) for name, generator in value.items()}


def parse_file(field_name: str, generator: Any) -> FileSpec:
    """One generator, checked without doing its work."""
    if isinstance(generator, str):
        return plaintext.parse(generator)
    if not isinstance(generator, dict) or len(generator) != 1:
        raise FileOptionsError(
            field_name, 'must be a string or one file generator: {"base64": …}, {"url": …}, {"pdf": …} or {"zip": …}'
        )
    kind, argument = next(iter(generator.items()))
    try:
        if kind == "base64":
            return base64.parse(argument)
        if kind == "url":
            return url.parse(argument)
        if kind == "pdf":
            return pdf.parse(argument)
        if kind == "zip":
            return zip.parse(argument, lambda name, inner: parse_file(f"{field_name}/{name}", inner))
    except GeneratorError as error:
        raise FileOptionsError(field_name, str(error)) from error
    raise FileOptionsError(field_name, f"{kind!r} is not a file generator (base64, url, pdf or zip)")


def scripted_pdfs(specs: dict[str, FileSpec]) -> list[str]:
    """Names of the PDFs (also inside ZIPs) whose HTML has scripts to run, which WeasyPrint alone does not."""
    found: list[str] = []
    for name, spec in specs.items():
        if isinstance(spec, pdf.PdfSpec) and spec.scripts is not None:
            found.append(name)
        elif isinstance(spec, zip.ZipSpec):
            found.extend(f"{name}/{inner}" for inner in scripted_pdfs(spec.files))
    return found


async def generate_files(specs: dict[str, FileSpec], pdf_browser: Path | None = None) -> dict[str, GeneratedFile]:
    """Every file of a consumer, generated concurrently; the first failure fails them all.

    Args:
        specs: The parsed generators, by file name.
        pdf_browser: A Chromium binary that runs scripted PDFs' scripts (RATCHET_PDF_BROWSER); None runs none.
    """
    files = await asyncio.gather(*(generate_file(name, spec, pdf_browser) for name, spec in specs.items()))
    return {file.name: file for file in files}


async def generate_file(name: str, spec: FileSpec, pdf_browser: Path | None = None) -> GeneratedFile:
    """The file `spec` generates, at most MAX_FILE_BYTES; errors are action errors naming `name`."""
    try:
        content = await _content(name, spec, pdf_browser)
    except GeneratorError as error:
        raise FileGenerationError(name, str(error), retryable=error.retryable) from error
    if len(content) > MAX_FILE_BYTES:
        raise FileGenerationError(name, f"is {len(content):,} bytes; generated files are limited to {MAX_FILE_BYTES:,}")
    return GeneratedFile(name=name, content=content, mime_type=_mime_type(name, spec))


async def _content(name: str, spec: FileSpec, pdf_browser: Path | None) -> bytes:
    if isinstance(spec, plaintext.PlaintextSpec):
        return spec.text.encode("utf-8")
    if isinstance(spec, base64.Base64Spec):
        return spec.content
    if isinstance(spec, url.UrlSpec):
        return await url.generate(spec, MAX_FILE_BYTES)
    if isinstance(spec, pdf.PdfSpec):
        if spec.scripts and pdf_browser:
            html = await script_browser(pdf_browser).run_scripts(spec.html, spec.scripts)
            spec = dataclasses.replace(spec, html=html, scripts=None)
        return await asyncio.to_thread(pdf.generate, spec)
    entries = [
        await generate_file(f"{name}/{inner}", inner_spec, pdf_browser) for inner, inner_spec in spec.files.items()
    ]
    # Deflating and encrypting are CPU-bound: off the event loop, like PDF rendering.
    return await asyncio.to_thread(
        zip.generate, spec, [(entry.name.removeprefix(f"{name}/"), entry.content) for entry in entries]
    )


def _mime_type(name: str, spec: FileSpec) -> str:
    if isinstance(spec, pdf.PdfSpec):
        return "application/pdf"
    if isinstance(spec, zip.ZipSpec):
        return "application/zip"
    guessed = mimetypes.guess_type(name)[0]
    if guessed:
        return guessed
    return "text/plain" if isinstance(spec, plaintext.PlaintextSpec) else "application/octet-stream"
