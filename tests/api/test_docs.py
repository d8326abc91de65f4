"""The OpenAPI document and the /api/docs page describe the documents the API gives (PDFs) and the
service returns, from the same registry as the routes."""

from __future__ import annotations

import re

PDF_PATHS = ("/invoices/{invoice_id}.pdf", "/service-returns/{return_id}.pdf")


def test_the_openapi_document_says_the_pdfs_are_pdfs(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path in PDF_PATHS:
        responses = document["paths"][path]["get"]["responses"]
        assert responses["200"]["content"] == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
        assert list(responses["404"]["content"]) == ["application/problem+json"]
    assert "kpis" in document["components"]["schemas"]["ServiceReturn"]["required"]
    assert {"Service returns"} <= {tag["name"] for tag in document["tags"]}


def test_the_docs_page_shows_how_to_download_them_and_every_return_endpoint(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert 'id="service-returns"' in page and 'href="#service-returns"' in page
    assert re.search(r"/api/v1/invoices/7\.pdf&#34;\s*\\\s*-H &#34;Authorization: Bearer \$TOKEN&#34;\s*\\\s*-o", page)
    assert "service-return.pdf" in page and "A file, <code>application/pdf</code>" in page
    for path in ("/service-returns", "/service-returns/{return_id}/narrative", "/service-returns/{return_id}/return"):
        assert f"<code>/api/v1{path}</code>" in page, path
