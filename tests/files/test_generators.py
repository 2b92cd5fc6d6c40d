"""File generators: what each makes, the limits, and errors that name the file."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ratchet.engine.devserver import free_port
from ratchet.files import FileGenerationError, FileOptionsError, GeneratedFile, generate_files, parse_files
from ratchet.files import generate as generate_module
from ratchet.files.pdf_scripts import ScriptBrowser, close_script_browsers, parse_options
from tests.support.waiting import eventually


async def generate(files: dict[str, Any]) -> dict[str, GeneratedFile]:
    return await generate_files(parse_files("files", files))


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


async def test_plaintext_and_base64() -> None:
    files = await generate({"notes.txt": "héllo", "table.csv": "a,b", "blob": {"base64": "AAEC\n/w=="}})
    assert files["notes.txt"] == GeneratedFile("notes.txt", "héllo".encode(), "text/plain")
    assert files["table.csv"].mime_type == "text/csv"
    assert files["blob"] == GeneratedFile("blob", b"\x00\x01\x02\xff", "application/octet-stream")


@pytest.mark.parametrize(
    ("generator", "problem"),
    [
        (5, "must be a string or one file generator"),
        ({"base64": "%%%"}, "not valid base64"),
        ({"url": "file:///etc/passwd"}, "http:// or https://"),
        ({"pdf": {"html": "  "}}, "pdf.html is required"),
        ({"pdf": {"html": "x", "custom_javascript": "alert(1)"}}, "'custom_javascript' is not supported"),
        ({"pdf": {"html": "x", "page_size": "Napkin"}}, "not a known page size"),
        ({"zip": {"files": {}}}, "zip must be a hash"),
        ({"zip": {"files": {"a": "x"}, "level": 9}}, "zip option 'level'"),
        ({"docx": {}}, "'docx' is not a file generator"),
        ({"base64": "AA==", "url": "https://x"}, "one file generator"),
    ],
)
def test_malformed_generators_name_the_option(generator: Any, problem: str) -> None:
    with pytest.raises(FileOptionsError, match=problem) as raised:
        parse_files("attachments", {"report.pdf": generator})
    assert raised.value.field_name == "attachments.report.pdf"
    assert not raised.value.retryable


def test_a_bad_generator_inside_a_zip_names_its_path() -> None:
    with pytest.raises(FileOptionsError) as raised:
        parse_files("files", {"a.zip": {"zip": {"files": {"inner.bin": {"base64": "!"}}}}})
    assert raised.value.field_name == "files.a.zip/inner.bin"


async def test_url_downloads_with_the_http_limits(http_server: str) -> None:
    files = await generate(
        {"data.bin": {"url": f"{http_server}/binary"}, "moved.json": {"url": f"{http_server}/redirect"}}
    )
    assert files["data.bin"].content == b"\x00\xff\x10"
    assert b'"method": "GET"' in files["moved.json"].content


@pytest.mark.parametrize(
    ("path", "retryable", "message"),
    [("/status/404", False, "HTTP 404"), ("/status/503", True, "HTTP 503"), ("/loop", False, "redirect")],
)
async def test_url_errors_name_the_file(http_server: str, path: str, retryable: bool, message: str) -> None:
    with pytest.raises(FileGenerationError, match=message) as raised:
        await generate({"report.csv": {"url": f"{http_server}{path}"}})
    assert str(raised.value).startswith("file 'report.csv': ")
    assert raised.value.retryable is retryable


async def test_an_unreachable_url_is_retryable() -> None:
    with pytest.raises(FileGenerationError) as raised:
        await generate({"a.txt": {"url": f"http://127.0.0.1:{free_port()}/a"}})
    assert raised.value.retryable


async def test_files_past_the_limit_fail_naming_the_file(monkeypatch: pytest.MonkeyPatch, http_server: str) -> None:
    monkeypatch.setattr(generate_module, "MAX_FILE_BYTES", 4)
    with pytest.raises(FileGenerationError, match=r"file 'big.txt': is 5 bytes; generated files are limited to 4"):
        await generate({"big.txt": "12345"})
    # Also inside a ZIP, and for downloads, which stop reading at the limit.
    with pytest.raises(FileGenerationError, match=r"file 'a.zip/big.txt'"):
        await generate({"a.zip": {"zip": {"files": {"big.txt": "12345"}}}})
    with pytest.raises(FileGenerationError, match=r"more than 4 bytes"):
        await generate({"page.html": {"url": f"{http_server}/echo"}})


async def test_pdf_renders_html_with_pdfcrowd_options(tmp_path: Path) -> None:
    files = await generate(
        {
            "invoice.pdf": {
                "pdf": {
                    "html": "<h1>Invoice #1001</h1><ul><li>2 x Red T-Shirt</li></ul>",
                    "orientation": "landscape",
                    "page_size": "Letter",
                    "margin_top": "20mm",
                    "header_html": 'Page <span class="pdfcrowd-page-number"></span> of '
                    '<span class="pdfcrowd-page-count"></span>',
                    "title": "Invoice 1001",
                    "__force_pdfcrowd": True,  # accepted, without effect
                }
            }
        }
    )
    pdf = files["invoice.pdf"]
    assert pdf.mime_type == "application/pdf" and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content, tmp_path)
    assert "Invoice #1001" in text and "2 x Red T-Shirt" in text and "Page 1 of 1" in text
    (tmp_path / "i.pdf").write_bytes(pdf.content)
    info = subprocess.run(["pdfinfo", str(tmp_path / "i.pdf")], check=True, capture_output=True, text=True).stdout
    assert "Title:           Invoice 1001" in info
    assert "792 x 612 pts" in info  # US Letter, landscape


async def test_pdf_never_reads_local_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("h1::after { content: 'LEAKED'; }")
    files = await generate({"a.pdf": {"pdf": {"html": f'<link rel="stylesheet" href="file://{secret}"><h1>Hi</h1>'}}})
    assert "LEAKED" not in pdf_text(files["a.pdf"].content, tmp_path)


CHROMIUM = Path(os.environ.get("RATCHET_TEST_CHROMIUM", "/usr/bin/chromium"))
# A chart drawn on a canvas and a total written by script, as report templates do with Chart.js.
SCRIPTED = (
    '<canvas id="chart" width="240" height="120"></canvas><p id="total">waiting</p><p id="late"></p>'
    "<script>const pen = document.getElementById('chart').getContext('2d'); pen.fillStyle = '#c00';"
    "pen.fillRect(0, 0, 240, 120); document.getElementById('total').textContent = 'Total drawn by script: 42';"
    "setTimeout(() => { const done = document.createElement('p'); done.id = 'ready'; done.textContent = 'late row';"
    " document.body.append(done); }, 300);"
    "fetch('file:///etc/hostname').then(r => r.text()).then(t => document.body.append('LEAKED ' + t));</script>"
)


def pdf_images(content: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "images.pdf"
    path.write_bytes(content)
    listing = subprocess.run(["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True).stdout
    # After the two header lines; an image's alpha channel is a row of its own (type smask).
    return [row for row in listing.splitlines()[2:] if row.split()[2] == "image"]


async def test_pdf_scripts_run_in_the_configured_browser(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    specs = parse_files(
        "files",
        {
            "chart.pdf": {"pdf": {"html": SCRIPTED, "wait_for_element": "#ready"}},
            "off.pdf": {"pdf": {"html": SCRIPTED, "disable_javascript": True}},
        },
    )
    files = await generate_files(specs, CHROMIUM)
    text = pdf_text(files["chart.pdf"].content, tmp_path)
    # The scripts ran, the page waited for the element a timer adds, and local files stayed out of reach.
    assert "Total drawn by script: 42" in text and "late row" in text
    assert "waiting" not in text and "LEAKED" not in text
    # The canvas arrives as a picture of what the script drew.
    [image] = pdf_images(files["chart.pdf"].content, tmp_path)
    assert image.split()[3:5] == ["240", "120"], image
    # disable_javascript (Pdfcrowd's option) keeps the page as written.
    assert "waiting" in pdf_text(files["off.pdf"].content, tmp_path)
    # Without a browser the scripts do not run: the document as written, no image.
    unscripted = await generate_files(parse_files("files", {"chart.pdf": {"pdf": {"html": SCRIPTED}}}))
    assert "waiting" in pdf_text(unscripted["chart.pdf"].content, tmp_path)
    assert pdf_images(unscripted["chart.pdf"].content, tmp_path) == []
    await close_script_browsers()


async def test_scripted_pdfs_share_one_browser_until_it_idles() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    browser = ScriptBrowser(CHROMIUM, idle_close_seconds=1.0)
    options = parse_options({"wait_for_element": "#ready"})
    try:
        together = await asyncio.gather(*(browser.run_scripts(SCRIPTED, options) for _ in range(3)))
        after = await browser.run_scripts(SCRIPTED, options)
        assert all("Total drawn by script: 42" in html and "<script" not in html for html in [*together, after])
        # Four documents, concurrent and one after another, from one launch of Chromium.
        assert browser.launches == 1 and browser.running

        # Unused for a second, it closes; the next document starts it again.
        async def closed() -> bool:
            return not browser.running

        await eventually(closed, timeout=10)
        assert "Total drawn by script: 42" in await browser.run_scripts(SCRIPTED, options)
        assert browser.launches == 2
    finally:
        await browser.close()
    assert not browser.running


async def test_a_browser_that_fails_fails_the_file_by_name() -> None:
    scripted = parse_files("files", {"report.pdf": {"pdf": {"html": "<p>x</p><script>1</script>"}}})
    with pytest.raises(FileGenerationError, match=r"file 'report.pdf': running the PDF's scripts in /bin/false failed"):
        await generate_files(scripted, Path("/bin/false"))
    with pytest.raises(FileOptionsError, match="'javascript_delay' must be a whole number from 0 to 10000"):
        parse_files("files", {"a.pdf": {"pdf": {"html": "<script>1</script>", "javascript_delay": 60_000}}})


async def test_zip_nests_generators_and_encrypts_with_zipcrypto(tmp_path: Path) -> None:
    files = await generate(
        {
            "bundle.zip": {
                "zip": {
                    "password": "opensesame",
                    "files": {
                        "confirmations.txt": "protected with zipcrypto",
                        "data/raw.bin": {"base64": base64.b64encode(b"\x00\x01").decode()},
                        "inner.zip": {"zip": {"files": {"deep.txt": "deep"}}},
                    },
                }
            },
            "open.zip": {"zip": {"files": {"readme.txt": "no password"}}},
        }
    )
    archive = zipfile.ZipFile(io.BytesIO(files["bundle.zip"].content))
    assert archive.namelist() == ["confirmations.txt", "data/raw.bin", "inner.zip"]
    assert all(info.flag_bits & 0x1 for info in archive.infolist())  # encrypted
    with pytest.raises(RuntimeError, match="password required"):
        archive.read("confirmations.txt")
    archive.setpassword(b"opensesame")
    assert archive.read("confirmations.txt") == b"protected with zipcrypto"
    assert archive.read("data/raw.bin") == b"\x00\x01"
    assert zipfile.ZipFile(io.BytesIO(archive.read("inner.zip"))).read("deep.txt") == b"deep"
    # Info-ZIP's unzip, a second reader, agrees.
    (tmp_path / "bundle.zip").write_bytes(files["bundle.zip"].content)
    unzipped = subprocess.run(
        ["unzip", "-p", "-P", "opensesame", str(tmp_path / "bundle.zip"), "confirmations.txt"],
        check=True,
        capture_output=True,
    )
    assert unzipped.stdout == b"protected with zipcrypto"
    assert zipfile.ZipFile(io.BytesIO(files["open.zip"].content)).read("readme.txt") == b"no password"
    assert files["open.zip"].mime_type == "application/zip"
