"""An evidence file is named by what its content is: a PDF uploaded as page.html downloads as
page.pdf, so no browser or desktop opens it as a web page."""

import pytest

from portal.delivery.evidence import named_as


@pytest.mark.parametrize(
    ("uploaded", "extension", "kept"),
    [
        ("page.html", ".pdf", "page.pdf"),
        ("tenancy.PDF", ".pdf", "tenancy.PDF"),
        ("scan.jpeg", ".jpg", "scan.jpeg"),
        ("photo.png.exe", ".png", "photo.png.pdf".replace(".pdf", ".png")),
        ("no extension", ".docx", "no extension.docx"),
        ("../../etc/passwd", ".pdf", "passwd.pdf"),
        (".htaccess", ".png", ".htaccess.png"),
        ("", ".pdf", "evidence.pdf"),
    ],
)
def test_the_download_name_ends_in_the_detected_type(uploaded, extension, kept):
    assert named_as(uploaded, extension) == kept
