"""PDF documents (invoices, service returns): templates under templates/pdf/ rendered by
WeasyPrint as tagged PDF/UA, so screen readers can read them and they print cleanly on A4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, render_template
from weasyprint import HTML

BASE_DIR = Path(__file__).resolve().parent.parent
# PDF/UA-1: a tagged PDF with a document title and language, which screen readers need.
PDF_VARIANT = "pdf/ua-1"


def render_pdf(template: str, **context: Any) -> bytes:
    """The PDF of a templates/pdf/ document. Stylesheets and images resolve from the project
    folder (never from the network), so the same inputs give the same document."""
    html = render_template(template, **context)
    return HTML(string=html, base_url=str(BASE_DIR)).write_pdf(pdf_variant=PDF_VARIANT)


def pdf_response(data: bytes, filename: str, *, inline: bool = False) -> Response:
    """A PDF download; private and never cached, as every page of the portal is."""
    disposition = "inline" if inline else "attachment"
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Content-Length"] = str(len(data))
    return response
