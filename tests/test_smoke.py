from tests.helpers import text_of


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sign-in")


def test_admin_signs_in_and_sees_home(portal, admin):
    response = portal.sign_in(admin)
    assert response.status_code == 302
    page = portal.get("/")
    assert "Welcome, Ada Admin" in text_of(page)
