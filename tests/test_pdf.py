"""The PDF frame every document shares: tagged PDF/UA, A4, the marking and page numbers."""

from io import BytesIO

from flask import render_template_string
from pypdf import PdfReader

from portal import pdf


def test_a_document_is_a_tagged_a4_pdf_with_its_marking_and_page_numbers(app, monkeypatch):
    monkeypatch.setattr(
        pdf,
        "render_template",
        lambda name, **context: render_template_string(
            "{% extends 'pdf/base.html' %}{% block title %}Test document{% endblock %}"
            "{% block content %}<h1>Hello</h1><p>{{ text }}</p>{% endblock %}",
            **context,
        ),
    )
    with app.test_request_context():
        data = pdf.render_pdf("pdf/anything.html", text="Body text")
    reader = PdfReader(BytesIO(data))
    page = reader.pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)  # A4
    text = page.extract_text()
    assert "Hello" in text and "Body text" in text
    assert "Official-Sensitive" in text and "Page 1 of 1" in text
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog  # tagged, for screen readers
    assert reader.metadata.title == "Test document"


def test_a_pdf_response_is_a_private_download(app):
    with app.test_request_context():
        response = pdf.pdf_response(b"%PDF-1.7", "NACRO-000001.pdf")
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="NACRO-000001.pdf"'


def test_pdfs_fetch_only_the_portals_own_static_files(app, tmp_path):
    """WeasyPrint's default fetcher would read any server file or call any address."""
    import pytest

    fetcher = pdf.OwnStaticFilesOnly()
    own = (pdf.STATIC_DIR / "src" / "favicon.svg").as_uri()
    assert b"<svg" in fetcher.fetch(own).read()
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    secret = tmp_path / "secret.txt"
    secret.write_text("not for PDFs")
    for url in (secret.as_uri(), "file:///etc/passwd", "http://127.0.0.1:1/x.png", "https://example.org/x.css",
                (pdf.STATIC_DIR / ".." / "config" / "settings.py").as_uri()):  # fmt: skip
        with pytest.raises(ValueError, match="own static files"):
            fetcher.fetch(url)


def test_a_document_naming_an_outside_file_leaves_it_out(app, monkeypatch, tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text("h1::after { content: 'LEAKED-FROM-THE-SERVER'; }")
    monkeypatch.setattr(
        pdf,
        "render_template",
        lambda name, **context: render_template_string(
            "{% extends 'pdf/base.html' %}{% block title %}Test{% endblock %}"
            "{% block content %}<link rel='stylesheet' href='" + secret.as_uri() + "'><h1>Hello</h1>{% endblock %}",
            **context,
        ),
    )
    with app.test_request_context():
        data = pdf.render_pdf("pdf/anything.html")
    text = PdfReader(BytesIO(data)).pages[0].extract_text()
    assert "Hello" in text and "LEAKED" not in text
