"""The pdf generator: `{"pdf": {"html": "…", …}}` rendered to PDF by WeasyPrint (real CSS paged media).

Mechanic renders with Pdfcrowd's HTML-to-PDF API 20.10 and passes its options through.
https://learn.mechanic.dev/core/actions/file-generators/pdf
https://pdfcrowd.com/api/html-to-pdf-http/ (option reference)

Honoured, mapped onto CSS `@page` rules and WeasyPrint's arguments:
  page_size, page_width, page_height, orientation, margin_top|right|bottom|left, no_margins,
  header_html, footer_html, header_height, footer_height (with the `pdfcrowd-page-number` and
  `pdfcrowd-page-count` placeholder classes), page_background_color, use_print_media,
  scale_factor, title, subject, author, keywords.
Accepted without effect, as they tune a browser engine WeasyPrint does not have or change nothing
a reader sees: see IGNORED_OPTIONS.
Anything else (JavaScript, encryption and permissions, watermarks, page ranges, header/footer
URLs, HTTP cookies and headers…) fails with an error naming the option: silently dropping
encryption or a script would hand out a different document than the task asked for.

WeasyPrint has no JavaScript engine: with `RATCHET_PDF_BROWSER` set, a document's scripts first
run in that browser (ratchet/files/pdf_scripts.py, which honours javascript_delay,
wait_for_element, disable_javascript and viewport_width); without it they do not run, charts drawn
by a script are missing, and `ratchet task check` warns about such PDFs (PdfSpec.scripts).

Remote resources (images, stylesheets, fonts) are fetched over http(s) or from data: URLs only,
so a template cannot read the worker's local files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ratchet.files.errors import GeneratorError
from ratchet.files.pdf_scripts import ScriptOptions, parse_options

IGNORED_OPTIONS = frozenset(
    {
        "__force_pdfcrowd",  # Mechanic's switch between its own renderers
        "default_encoding",  # the HTML arrives as text already
        "block_ads",
        "locale",
        "viewport_height",
        "rendering_mode",
        "smart_scaling_mode",
        "content_viewport_width",
        "content_viewport_height",
        "content_fit_mode",
        "remove_blank_pages",
        "use_mobile_user_agent",
        "load_iframes",
        "verify_ssl_certificates",
        "fail_on_main_url_error",
        "disable_remote_fonts",
        "jpeg_quality",
        "convert_images_to_jpeg",
        "image_dpi",
        "linearize",
        "extract_meta_tags",  # WeasyPrint always reads <title> and <meta> tags
        "no_header_footer_horizontal_margins",
        "page_layout",
        "page_mode",
        "initial_zoom_type",
        "initial_zoom",
        "initial_page",
        "hide_toolbar",
        "hide_menubar",
        "hide_window_ui",
        "fit_window",
        "center_window",
        "display_title",
        "right_to_left",
        "debug_log",
        "tag",
    }
)
_PAGE_SIZES = frozenset(
    [f"{series}{n}" for series in "abc" for n in range(11)] + ["letter", "legal", "ledger", "tabloid"]
)
# Pdfcrowd lengths: a number with a unit (pt, px, mm, cm, in); a bare number is points.
_LENGTH = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>pt|px|mm|cm|in)?", re.IGNORECASE)
_COLOR = re.compile(r"[0-9a-f]{6}(?:[0-9a-f]{2})?", re.IGNORECASE)
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_SCRIPT_TAG = re.compile(r"<script\b", re.IGNORECASE)
_PLACEHOLDERS = """
.pdfcrowd-page-number::after { content: counter(page); }
.pdfcrowd-page-count::after { content: counter(pages); }
"""


@dataclass(frozen=True)
class PdfSpec:
    html: str
    page_css: str
    media_type: str
    zoom: float
    metadata: tuple[tuple[str, str], ...]
    # How to run the HTML's <script> elements in a browser first; None without any (or with
    # disable_javascript), and WeasyPrint itself runs none.
    scripts: ScriptOptions | None = None


def parse(argument: Any) -> PdfSpec:
    if not isinstance(argument, dict):
        raise GeneratorError('pdf must be a hash such as {"html": "<h1>…</h1>"}')
    html = argument.get("html")
    if not isinstance(html, str) or not html.strip():
        raise GeneratorError("pdf.html is required (the HTML to render)")
    options = {key: value for key, value in argument.items() if key != "html" and value is not None}
    unsupported = sorted(set(options) - set(_HONOURED) - IGNORED_OPTIONS)
    if unsupported:
        raise GeneratorError(f"pdf option {unsupported[0]!r} is not supported by Ratchet's PDF renderer (WeasyPrint)")
    header, footer = options.get("header_html"), options.get("footer_html")
    return PdfSpec(
        html=_with_running_elements(html, _text(options, "header_html"), _text(options, "footer_html")),
        page_css=_page_css(options, has_header=bool(header), has_footer=bool(footer)),
        media_type="print" if _flag(options, "use_print_media") else "screen",
        zoom=_scale(options),
        metadata=tuple(
            (name, _text(options, name)) for name in ("title", "subject", "author", "keywords") if name in options
        ),
        scripts=parse_options(options)
        if _SCRIPT_TAG.search(html) and not _flag(options, "disable_javascript")
        else None,
    )


def generate(spec: PdfSpec) -> bytes:
    """Render the PDF (blocking; callers run it in a thread); a scripted PDF's scripts have run already."""
    # Imported here, not at the top: WeasyPrint takes seconds to import, and every CLI command,
    # the ingress and the console import this module without ever rendering a PDF.
    import weasyprint

    fetcher = weasyprint.URLFetcher(timeout=10, allowed_protocols={"http", "https", "data"})
    try:
        document = weasyprint.HTML(string=spec.html, url_fetcher=fetcher, media_type=spec.media_type).render(
            stylesheets=[weasyprint.CSS(string=spec.page_css + _PLACEHOLDERS)]
        )
    except Exception as error:  # WeasyPrint raises many kinds; any of them means no PDF
        raise GeneratorError(f"PDF rendering failed: {type(error).__name__}: {error}") from error
    for name, value in spec.metadata:
        if name == "title":
            document.metadata.title = value
        elif name == "subject":
            document.metadata.description = value
        elif name == "author":
            document.metadata.authors = [value]
        else:
            document.metadata.keywords = [word.strip() for word in value.split(",") if word.strip()]
    pdf = document.write_pdf(zoom=spec.zoom)
    assert pdf is not None  # write_pdf without a target returns the bytes
    return pdf


def _page_css(options: dict[str, Any], *, has_header: bool, has_footer: bool) -> str:
    rules = [f"size: {_size(options)};"]
    margins = {"top": "0.4in", "right": "0.4in", "bottom": "0.4in", "left": "0.4in"}  # Pdfcrowd's defaults
    if _flag(options, "no_margins"):
        margins = dict.fromkeys(margins, "0")
    for side in margins:
        if f"margin_{side}" in options:
            margins[side] = _length(options, f"margin_{side}")
    # Pdfcrowd's header and footer sit inside the top and bottom margins, which grow to hold them.
    if has_header:
        margins["top"] = f"calc({margins['top']} + {_length(options, 'header_height', '0.5in')})"
    if has_footer:
        margins["bottom"] = f"calc({margins['bottom']} + {_length(options, 'footer_height', '0.5in')})"
    rules += [f"margin-{side}: {value};" for side, value in margins.items()]
    if "page_background_color" in options:
        color = _text(options, "page_background_color").removeprefix("#")
        if not _COLOR.fullmatch(color):
            raise GeneratorError(f"pdf option 'page_background_color' must be RRGGBB or RRGGBBAA, got {color!r}")
        rules.append(f"background: #{color};")
    if has_header:
        rules.append("@top-center { content: element(pdfcrowdHeader); width: 100%; vertical-align: bottom; }")
    if has_footer:
        rules.append("@bottom-center { content: element(pdfcrowdFooter); width: 100%; vertical-align: top; }")
    return "@page { " + " ".join(rules) + " }\n"


def _size(options: dict[str, Any]) -> str:
    orientation = _text(options, "orientation", "portrait").lower()
    if orientation not in ("portrait", "landscape"):
        raise GeneratorError(f"pdf option 'orientation' must be portrait or landscape, got {orientation!r}")
    if "page_width" in options or "page_height" in options:
        width, height = _length(options, "page_width", "8.27in"), _length(options, "page_height", "11.7in")
        return f"{height} {width}" if orientation == "landscape" else f"{width} {height}"
    name = _text(options, "page_size", "A4").lower()
    if name not in _PAGE_SIZES:
        raise GeneratorError(f"pdf option 'page_size' {name!r} is not a known page size (A4, Letter, Legal…)")
    return f"{'ledger' if name == 'tabloid' else name} {orientation}"


def _with_running_elements(html: str, header: str, footer: str) -> str:
    """The document with header and footer as running elements at its very start.

    A running element shows from the page it first appears on.
    """
    running = "".join(
        f'<div style="position: running({name})">{content}</div>'
        for name, content in (("pdfcrowdHeader", header), ("pdfcrowdFooter", footer))
        if content
    )
    if not running:
        return html
    body = _BODY_TAG.search(html)
    return html[: body.end()] + running + html[body.end() :] if body else running + html


def _length(options: dict[str, Any], name: str, default: str | None = None) -> str:
    value = str(options.get(name, default)).strip()
    match = _LENGTH.fullmatch(value)
    if match is None:
        raise GeneratorError(f"pdf option {name!r} must be a length such as 10mm, 0.5in or 20pt, got {value!r}")
    return f"{match['number']}{(match['unit'] or 'pt').lower()}"


def _scale(options: dict[str, Any]) -> float:
    value = options.get("scale_factor", 100)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise GeneratorError(f"pdf option 'scale_factor' must be a percentage, got {value!r}")
    try:
        percent = float(value)
    except ValueError:
        raise GeneratorError(f"pdf option 'scale_factor' must be a percentage, got {value!r}") from None
    if not 10 <= percent <= 500:
        raise GeneratorError(f"pdf option 'scale_factor' must be between 10 and 500, got {value!r}")
    return percent / 100


def _flag(options: dict[str, Any], name: str) -> bool:
    value = options.get(name, False)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise GeneratorError(f"pdf option {name!r} must be true or false, got {value!r}")
    return value


def _text(options: dict[str, Any], name: str, default: str = "") -> str:
    value = options.get(name, default)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise GeneratorError(f"pdf option {name!r} must be a string, got {value!r}")
    return str(value)


_HONOURED = (
    "page_size",
    "page_width",
    "page_height",
    "orientation",
    "margin_top",
    "margin_right",
    "margin_bottom",
    "margin_left",
    "no_margins",
    "header_html",
    "footer_html",
    "header_height",
    "footer_height",
    "page_background_color",
    "use_print_media",
    "scale_factor",
    "title",
    "subject",
    "author",
    "keywords",
    "disable_javascript",
    "javascript_delay",
    "wait_for_element",
    "viewport_width",
)
