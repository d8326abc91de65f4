"""Security headers and the strict content security policy on every page."""

import re

import pytest


@pytest.mark.parametrize("path", ["/sign-in", "/accessibility", "/no-such-page"])
def test_pages_send_strict_security_headers(client, path):
    response = client.get(path)
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["X-Request-ID"]


def test_the_only_inline_script_carries_the_policys_nonce(client):
    response = client.get("/sign-in")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    html = response.get_data(as_text=True)
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline_scripts, "GOV.UK's js-enabled snippet should be present"
    for attributes in inline_scripts:
        assert f'nonce="{nonce}"' in attributes


def test_a_supplied_request_id_is_echoed_and_a_bad_one_replaced(client):
    assert (
        client.get("/sign-in", headers={"X-Request-ID": "abc12345-trace"}).headers["X-Request-ID"] == "abc12345-trace"
    )
    assert client.get("/sign-in", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"] != "<script>"


def test_error_pages_use_the_portal_layout(client, portal, nacro_caseworker):
    not_found = client.get("/no-such-page")
    assert not_found.status_code == 404
    assert "<title>Page not found – Partner Portal</title>" in not_found.get_data(as_text=True)
    portal.sign_in(nacro_caseworker)
    forbidden = portal.get("/users")
    assert forbidden.status_code == 403
    assert "You do not have permission to see this page" in forbidden.get_data(as_text=True)


def test_an_unexpected_error_shows_the_500_page_without_details(app, client, monkeypatch):
    from portal.main import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "render_template", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.get("/accessibility")
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in response.get_data(as_text=True)
    assert "secret internals" not in response.get_data(as_text=True)


def test_no_page_can_be_framed_or_cached(client):
    response = client.get("/sign-in")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_links_back_never_lead_to_another_site():
    from portal.urls import safe_next

    assert safe_next("/referrals/?tab=new") == "/referrals/?tab=new"
    for outside in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil.example", "", None):
        assert safe_next(outside) is None
