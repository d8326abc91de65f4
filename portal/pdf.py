"""PDF documents (invoices, service returns): templates under templates/pdf/ rendered by
WeasyPrint as tagged PDF/UA, so screen readers can read them and they print cleanly on A4."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Response, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

BASE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = BASE_DIR / "static"
# PDF/UA-1: a tagged PDF with a document title and language, which screen readers need.
PDF_VARIANT = "pdf/ua-1"


class OwnStaticFilesOnly(URLFetcher):
    """WeasyPrint's fetcher, limited to data: URLs and files under static/. Its default would
    follow file:// anywhere on the server and http(s):// anywhere on the network, so a URL that
    ever reached a document (a name, a narrative) could read a server file into a PDF or make the
    server call out. Anything else is refused, and WeasyPrint leaves that resource out."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme == "data":
            return super().fetch(url, headers)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            path = Path(unquote(parts.path)).resolve()
            if path.is_relative_to(STATIC_DIR.resolve()) and path.is_file():
                return super().fetch(path.as_uri(), headers)
        raise ValueError(f"PDFs use only the portal's own static files; refused {url[:80]!r}")


def render_pdf(template: str, **context: Any) -> bytes:
    """The PDF of a templates/pdf/ document. Stylesheets and images resolve from static/ only
    (never the network, never another server file), so the same inputs give the same document."""
    html = render_template(template, **context)
    return HTML(string=html, base_url=str(STATIC_DIR), url_fetcher=OwnStaticFilesOnly()).write_pdf(
        pdf_variant=PDF_VARIANT
    )


def pdf_response(data: bytes, filename: str, *, inline: bool = False) -> Response:
    """A PDF download; private and never cached, as every page of the portal is."""
    disposition = "inline" if inline else "attachment"
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Content-Length"] = str(len(data))
    return response
