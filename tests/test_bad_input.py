"""Bad input on the pages is a 4xx with a message, never a 500: every page's query parameters are
fuzzed; NUL characters, invisible-only text, ids past the database's range and dates past any
sensible year are refused, naming the field where there is one."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask

from portal.accounts.forms import UserForm
from portal.forms import GovDateField
from tests.factories import PASSWORD
from tests.helpers import text_of

NASTY = [
    "\x00",
    "99999999999999999999",
    "2147483648",
    "-1",
    "9999-Q4",
    "9999-12",
    "0000-00",
    "2026-13",
    "\u200b\u200b",
    "'; select 1; --",
    "%",
    "x" * 5000,
    "[]",
    "²",
]
QUERY_NAME = re.compile(r'name="([a-z_]+)"')
LINK_QUERY = re.compile(r'href="[^"?]*\?([^"#]+)"')


def parameter_names(html: str) -> set[str]:
    """Every query parameter a page offers: its GET forms' fields and its links' parameters."""
    names: set[str] = set()
    for form in re.findall(r'<form[^>]*method="get"[^>]*>(.*?)</form>', html, flags=re.S | re.I):
        names |= set(QUERY_NAME.findall(form))
    for query in LINK_QUERY.findall(html):
        names |= {pair.split("=", 1)[0] for pair in unescape(query).split("&") if pair}
    return names - {"csrf_token"}


def pages_without_arguments(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/api/", "/static"))
    )


@pytest.mark.parametrize("who", ["contract_manager", "referrer", "nacro_manager", "nacro_caseworker", "admin"])
def test_every_pages_query_parameters_take_any_value_without_a_500(app, portal, request, who, nacro_referral):
    portal.sign_in(request.getfixturevalue(who))
    checked = 0
    for path in pages_without_arguments(app):
        page = portal.get(path, buffered=True)  # a streamed export is read to its end, as a browser would
        if page.status_code != 200 or page.mimetype != "text/html":
            continue
        names = parameter_names(page.get_data(as_text=True)) | {"page", "period", "contract", "q", "next"}
        for value in NASTY:
            response = portal.get(path, query_string={name: value for name in names}, buffered=True)
            # 200 where the page ignores the parameter, 400 for a NUL it reads, never a 500
            assert response.status_code < 500, (path, value, response.status_code)
            checked += 1
    assert checked > 100


def test_a_nul_character_in_sign_in_or_forgot_password_is_a_400_that_says_why(portal, nacro_manager):
    for path, data in (
        ("/sign-in", {"email": "manager@nacro.example\x00", "password": PASSWORD}),
        ("/forgot-password", {"email": "\x00@example.org"}),
    ):
        portal.get(path)
        response = portal.post(path, data)
        assert response.status_code == 400
        assert "NUL character" in text_of(response)
    assert portal.get("/referrals/AB%00CD").status_code == 400
    portal.sign_in(nacro_manager)
    assert portal.get("/referrals/", query_string={"q": "X12\x00"}).status_code == 400


def test_ids_past_the_database_range_are_404s_on_pages(portal, admin):
    portal.sign_in(admin)
    for path in ("/users/99999999999999999999", "/users/2147483648", "/invoices/99999999999999999999",
                 "/evidence/99999999999999999999", "/service-returns/2147483648"):  # fmt: skip
        assert portal.get(path).status_code == 404, path


def test_a_dashboard_period_past_any_real_year_shows_the_current_quarter(portal, contract_manager):
    portal.sign_in(contract_manager)
    for path in (
        "/dashboard/",
        "/dashboard/figures.csv",
        "/dashboard/figures.xlsx",
        "/dashboard/performance.csv",
        "/dashboard/payments.csv",
    ):
        for period in ("9999-Q4", "99999999999999999999-01"):
            assert portal.get(path, query_string={"period": period}, buffered=True).status_code == 200, path


class DateForm(UserForm.__bases__[0]):  # a FlaskForm
    class Meta:
        csrf = False

    day = GovDateField("Date paid", name_in_messages="Date paid")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (("31", "12", "9999"), "Date paid must be between 1 January 1900 and 31 December 2099"),
        (("1", "1", "1899"), "Date paid must be between 1 January 1900 and 31 December 2099"),
        (("1", "1", "99999999999999999999"), "Date paid must be a real date"),
        (("99999999999999999999", "1", "2026"), "Date paid must be a real date"),
    ],
)
def test_a_date_past_sensible_bounds_is_refused_naming_the_field(app, typed, message):
    from werkzeug.datastructures import MultiDict

    with app.test_request_context():
        form = DateForm(MultiDict([("day", part) for part in typed]))
        assert not form.validate()
        assert form.day.errors == [message]


def test_a_name_made_only_of_invisible_characters_is_blank(portal, admin, nacro):
    portal.sign_in(admin)
    portal.get("/users/new")
    response = portal.post(
        "/users/new",
        {"name": "\u200b\u200d\u2060 ", "email": "someone@nacro.example", "role": "provider_caseworker",
         "organisation_id": str(nacro.id)},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Enter the person's full name" in text_of(response)
