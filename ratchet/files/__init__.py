"""File generators (spec 7.7): the files an action attaches, stores, uploads or posts.

A task writes a generator where Mechanic expects a file — `email` attachments, `files`, `ftp`
uploads, `http` multipart `files`, `google_drive` uploads:

    "plain text"                                   plaintext (a string; cannot be named explicitly)
    {"base64": "aGk="}                             the decoded bytes
    {"url": "https://…"}                           the body fetched with the http action's limits
    {"pdf": {"html": "<h1>…</h1>", …options}}      HTML rendered to PDF by WeasyPrint
    {"zip": {"files": {name: generator}, "password"?: "…"}}   a ZIP of nested generators

Two steps, so a malformed generator fails before any work is done:

    specs = parse_files("attachments", options["attachments"])   # in an action's validate()
    files = await generate_files(specs)                          # in its perform()

Every file, also inside a ZIP, is at most 20 MB. Errors (ratchet.files.errors) name the option
or the file: a bad generator is a FileOptionsError ("invalid attachments.a.pdf: …"), a failed
one a FileGenerationError ("file 'a.pdf': …"), retryable when a later attempt may succeed.
https://learn.mechanic.dev/core/actions/file-generators
"""

from ratchet.files.errors import FileGenerationError, FileOptionsError
from ratchet.files.generate import (
    MAX_FILE_BYTES,
    FileSpec,
    GeneratedFile,
    generate_file,
    generate_files,
    parse_file,
    parse_files,
    scripted_pdfs,
)

__all__ = [
    "MAX_FILE_BYTES",
    "FileGenerationError",
    "FileOptionsError",
    "FileSpec",
    "GeneratedFile",
    "generate_file",
    "generate_files",
    "parse_file",
    "parse_files",
    "scripted_pdfs",
]
