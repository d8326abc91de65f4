"""Organisation pages: the CRC's staff see the supply chain; contract managers add and change partners;
partners see only themselves."""

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.audit.models import AuditEvent
from portal.contracts.models import ContractStatus
from portal.extensions import db
from portal.organisations.models import Organisation, Tier
from tests.factories import ContractFactory, CrcFactory, PartnerFactory, UserFactory
from tests.helpers import STORY_DAY, QueryCounter, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


NEW_PARTNER = {
    "name": "Bold Moves",
    "tier": "II",
    "charity_number": "1138452",
    "company_number": "",
    "vat_number": "",
    "address_line_1": "The Pilgrim Centre",
    "address_line_2": "Brickhill Drive",
    "town": "Bedford",
    "postcode": "mk41 7pz",
    "contact_name": "Simon Barker",
    "contact_email": "simon.barker@boldmoves.example",
    "contact_phone": "01234 567 890",
}


def form_of(page):
    """The values of a form's inputs as the browser would submit them (text inputs and checked radios)."""
    html = page.get_data(as_text=True)
    values = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) == "radio" and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        values[name.group(1)] = value.group(1) if value else ""
    return values


def error_summary(page):
    match = re.search(r'<div class="govuk-error-summary".*?</ul>', page.get_data(as_text=True), flags=re.S)
    return text_of_html(match.group(0)) if match else ""


def text_of_html(html):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def audit(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# --- the list ------------------------------------------------------------------------------


def test_contract_manager_sees_every_organisation_with_its_active_users(
    portal, contract_manager, nacro_manager, nacro_caseworker, st_giles
):
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/organisations/"))
    assert "Nacro" in page and "St Giles Trust" in page and "BeNCH CRC" in page
    nacro_page = text_of(portal.get(f"/organisations/{nacro_manager.organisation_id}"))
    assert nacro_manager.email in nacro_page and nacro_caseworker.email in nacro_page


def test_the_list_counts_each_organisations_contracts_and_active_users(
    portal, contract_manager, crc, nacro, st_giles, nacro_manager, nacro_caseworker
):
    ContractFactory(crc=crc, partner=nacro, reference="BENCH-ACC-01")
    ContractFactory(crc=crc, partner=nacro, reference="BENCH-ACC-02", status=ContractStatus.DRAFT)
    ContractFactory(crc=crc, partner=st_giles, reference="BENCH-ETE-01")
    ContractFactory(crc=CrcFactory(name="Another CRC"), partner=nacro, reference="OTHER-01")  # not our CRC's
    UserFactory(organisation=nacro, role=Role.PROVIDER_CASEWORKER, active=False)

    portal.sign_in(contract_manager)
    html = portal.get("/organisations/").get_data(as_text=True)

    def row(name):
        cells = re.search(rf">{re.escape(name)}</a></td>(.*?)</tr>", html, flags=re.S).group(1)
        return [text_of_html(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, flags=re.S)]

    assert row("Nacro") == ["Partner", "Tier II (subcontract)", "2", "2"]
    assert row("St Giles Trust") == ["Partner", "Tier II (subcontract)", "1", "0"]
    assert row("BeNCH CRC") == ["CRC", "", "3", "1"]  # its contracts as the prime, and the contract manager


def test_the_list_takes_the_same_number_of_queries_for_3_or_15_organisations(portal, contract_manager, app, crc):
    def add_partners(count):
        for _ in range(count):
            partner = PartnerFactory()
            UserFactory(organisation=partner)
            ContractFactory(crc=crc, partner=partner)

    add_partners(3)
    portal.sign_in(contract_manager)
    with QueryCounter(app) as few:
        page = portal.get("/organisations/")
    assert page.status_code == 200
    add_partners(12)
    with QueryCounter(app) as many:
        page = portal.get("/organisations/")
    assert text_of(page).count("Partner Charity") == 15
    assert few.count > 1
    assert many.count == few.count


def test_only_contract_managers_see_the_add_a_partner_button(portal, other_portal, contract_manager, admin):
    portal.sign_in(contract_manager)
    assert "Add a partner" in text_of(portal.get("/organisations/"))
    other_portal.sign_in(admin)
    assert "Add a partner" not in text_of(other_portal.get("/organisations/"))


# --- a partner's page ------------------------------------------------------------------------


def test_a_partners_page_lists_its_contracts_and_users(portal, referrer, crc, nacro, nacro_manager, st_giles):
    ContractFactory(crc=crc, partner=nacro, reference="BENCH-ACC-01", title="Through the Gate accommodation")
    ContractFactory(
        crc=crc,
        partner=nacro,
        reference="BENCH-FBD-00",
        title="Debt advice pilot",
        status=ContractStatus.ENDED,
        end_date=date(2027, 3, 31),
    )
    ContractFactory(crc=crc, partner=st_giles, reference="BENCH-ETE-01", title="Release planning")

    portal.sign_in(referrer)
    page = text_of(portal.get(f"/organisations/{nacro.id}"))

    assert "BENCH-ACC-01 Through the Gate accommodation Active 1 April 2026 to 31 March 2028" in page
    assert "BENCH-FBD-00 Debt advice pilot Ended 1 April 2026 to 31 March 2027" in page
    assert "BENCH-ETE-01" not in page
    assert nacro_manager.email in page
    assert "Change details" not in page  # referrers read, contract managers change


def test_a_partner_with_no_contracts_says_so(portal, contract_manager, nacro):
    portal.sign_in(contract_manager)
    assert "Nacro has no contracts yet." in text_of(portal.get(f"/organisations/{nacro.id}"))


def test_contract_references_link_to_the_contract_once_its_page_exists(portal, contract_manager, crc, nacro, app):
    ContractFactory(crc=crc, partner=nacro, reference="BENCH-ACC-01")
    portal.sign_in(contract_manager)
    html = portal.get(f"/organisations/{nacro.id}").get_data(as_text=True)
    if "contracts.show" in app.view_functions:
        assert 'href="/contracts/BENCH-ACC-01"' in html
    else:
        assert "BENCH-ACC-01" in html


@pytest.mark.parametrize("role_fixture", ["nacro_manager", "nacro_caseworker"])
def test_partner_users_cannot_browse_organisations(portal, request, role_fixture, st_giles):
    portal.sign_in(request.getfixturevalue(role_fixture))
    assert portal.get("/organisations/").status_code == 403
    assert portal.get(f"/organisations/{st_giles.id}").status_code in (403, 404)


def test_unknown_organisation_is_404(portal, admin):
    portal.sign_in(admin)
    assert portal.get("/organisations/99999").status_code == 404


# --- adding a partner ------------------------------------------------------------------------


def test_a_contract_manager_adds_a_partner_through_the_page(portal, contract_manager):
    portal.sign_in(contract_manager)
    form = portal.get("/organisations/new")
    assert form.status_code == 200
    assert "<title>Add a partner – Partner Portal</title>" in form.get_data(as_text=True)
    assert form_of(form)["version"] == ""  # submitted empty, as a browser does

    response = portal.post("/organisations/new", {**form_of(form), **NEW_PARTNER})

    assert response.status_code == 302
    partner = db.session.scalars(select(Organisation).where(Organisation.name == "Bold Moves")).one()
    assert response.headers["Location"].endswith(f"/organisations/{partner.id}")
    assert partner.tier == Tier.II and partner.postcode == "MK41 7PZ"
    page = text_of(portal.get(response.headers["Location"]))
    assert "Bold Moves has been added as a partner." in page
    assert "The Pilgrim Centre Brickhill Drive Bedford MK41 7PZ" in page
    assert "Simon Barker simon.barker@boldmoves.example 01234 567 890" in page
    (event,) = audit("organisation.created")
    assert event.actor_id == contract_manager.id and event.details["charity_number"] == "1138452"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vat_number", "243618254", "Enter a VAT number in the correct format, like GB123456789"),
        ("charity_number", "charity", "Enter a charity number in the correct format, like 1123456"),
        ("peppol_id", "0088:5060123456782", "A GLN (scheme 0088) is 13 digits ending in its check digit"),
        ("company_number", "123", "Enter a company number in the correct format, like 01234567"),
        ("postcode", "Bedford", "Enter a full UK postcode, like MK40 1QJ"),
        (
            "contact_email",
            "simon.barker.boldmoves.example",
            "Enter the main contact's email address in the correct format, like name@example.org",
        ),
        ("name", "", "Enter the organisation's name"),
        ("tier", "", "Select the partner's tier: II (subcontract) or III (grant)"),
    ],
)
def test_bad_values_are_shown_against_their_fields_and_nothing_is_saved(
    portal, contract_manager, field, value, message
):
    portal.sign_in(contract_manager)
    page = portal.post("/organisations/new", {**NEW_PARTNER, field: value})

    assert page.status_code == 200
    html = unescape(page.get_data(as_text=True))
    assert "<title>Error: Add a partner – Partner Portal</title>" in html
    assert message in error_summary(page)
    assert f'href="#{field}"' in html  # the summary links to the field
    assert re.search(rf'id="{field}-error"[^>]*>.*?{re.escape(message)}', html, flags=re.S)
    assert db.session.scalars(select(Organisation).where(Organisation.name == "Bold Moves")).first() is None
    assert not audit("organisation.created")


def test_every_missing_detail_is_listed_at_once(portal, contract_manager):
    portal.sign_in(contract_manager)
    page = portal.post("/organisations/new", {})
    summary = error_summary(page)
    for message in (
        "Enter the organisation's name",
        "Select the partner's tier",
        "Enter address line 1",
        "Enter the town or city",
        "Enter the postcode",
        "Enter the main contact's full name",
        "Enter the main contact's email address",
    ):
        assert message in summary


def test_a_duplicate_name_is_refused(portal, contract_manager, nacro):
    portal.sign_in(contract_manager)
    page = portal.post("/organisations/new", {**NEW_PARTNER, "name": "nacro"})
    assert "An organisation with this name already exists" in error_summary(page)


def test_a_form_without_its_csrf_token_is_refused(portal, contract_manager):
    portal.sign_in(contract_manager)
    assert portal.post("/organisations/new", NEW_PARTNER, csrf=False).status_code == 400
    assert not audit("organisation.created")


# --- changing a partner ----------------------------------------------------------------------


def test_a_contract_manager_changes_a_partner_and_the_change_is_audited(portal, contract_manager):
    partner = PartnerFactory(name="Stepping Stones (Luton)", tier=Tier.III, town="Luton", postcode="LU1 2PJ")
    portal.sign_in(contract_manager)
    assert "Change details" in text_of(portal.get(f"/organisations/{partner.id}"))
    form = portal.get(f"/organisations/{partner.id}/edit")
    html = form.get_data(as_text=True)
    assert "<title>Change Stepping Stones (Luton) – Partner Portal</title>" in html
    values = form_of(form)
    assert values["name"] == "Stepping Stones (Luton)" and values["tier"] == "III"
    assert values["version"] == str(partner.version)

    values.update(
        address_line_1="2 Guildford Street",
        postcode="LU1 2NR",
        contact_name="Yasmin Hussain",
        contact_email="yasmin@steppingstones.example",
    )
    response = portal.post(f"/organisations/{partner.id}/edit", values)

    assert response.status_code == 302
    assert "Changes saved." in text_of(portal.get(response.headers["Location"]))
    db.session.refresh(partner)
    assert partner.postcode == "LU1 2NR" and partner.contact_name == "Yasmin Hussain"
    (event,) = audit("organisation.updated")
    assert event.actor_id == contract_manager.id
    assert event.details["changes"]["postcode"] == {"before": "LU1 2PJ", "after": "LU1 2NR"}
    assert event.details["changes"]["contact_name"] == {"before": None, "after": "Yasmin Hussain"}
    assert set(event.details["changes"]) == {"address_line_1", "postcode", "contact_name", "contact_email"}


def test_a_stale_edit_says_someone_else_changed_it_and_shows_their_change(portal, other_portal, contract_manager, crc):
    colleague = UserFactory(role=Role.CONTRACT_MANAGER, organisation=crc)
    partner = PartnerFactory(
        name="C2C Social Action",
        tier=Tier.III,
        address_line_1="1 Guildhall Road",
        town="Northampton",
        postcode="NN1 2AQ",
        contact_name="Paul Richardson",
        contact_email="paul@c2c.example",
    )
    portal.sign_in(contract_manager)
    mine = form_of(portal.get(f"/organisations/{partner.id}/edit"))
    other_portal.sign_in(colleague)
    theirs = form_of(other_portal.get(f"/organisations/{partner.id}/edit"))
    assert (
        other_portal.post(f"/organisations/{partner.id}/edit", {**theirs, "town": "Wellingborough"}).status_code == 302
    )

    page = portal.post(f"/organisations/{partner.id}/edit", {**mine, "contact_name": "Sophie Clarke"})

    assert page.status_code == 200
    assert "changed by someone else" in error_summary(page)
    assert form_of(page)["town"] == "Wellingborough"  # the latest details, to check before trying again
    db.session.refresh(partner)
    assert partner.town == "Wellingborough" and partner.contact_name == "Paul Richardson"
    assert len(audit("organisation.updated")) == 1
    # Trying again from the refreshed form works.
    again = portal.post(f"/organisations/{partner.id}/edit", {**form_of(page), "contact_name": "Sophie Clarke"})
    assert again.status_code == 302


def test_a_bad_change_is_shown_and_nothing_changes(portal, contract_manager):
    partner = PartnerFactory(
        name="User Voice",
        town="Stevenage",
        postcode="SG1 1HN",
        address_line_1="1 Town Square",
        contact_name="Marcus Reid",
        contact_email="marcus@uservoice.example",
    )
    portal.sign_in(contract_manager)
    values = form_of(portal.get(f"/organisations/{partner.id}/edit"))
    page = portal.post(f"/organisations/{partner.id}/edit", {**values, "postcode": "SG1", "vat_number": "GB1"})
    summary = error_summary(page)
    assert "Enter a full UK postcode, like MK40 1QJ" in summary
    assert "Enter a VAT number in the correct format, like GB123456789" in summary
    db.session.refresh(partner)
    assert partner.postcode == "SG1 1HN"
    assert not audit("organisation.updated")


def test_the_crc_cannot_be_changed_from_its_page(portal, contract_manager, crc):
    portal.sign_in(contract_manager)
    assert "Change details" not in text_of(portal.get(f"/organisations/{crc.id}"))
    assert portal.get(f"/organisations/{crc.id}/edit").status_code == 403


def test_changing_an_unknown_organisation_is_404(portal, contract_manager):
    portal.sign_in(contract_manager)
    assert portal.get("/organisations/99999/edit").status_code == 404


@pytest.mark.parametrize("role_fixture", ["admin", "referrer", "nacro_manager", "nacro_caseworker"])
def test_nobody_else_may_add_or_change_partners(portal, request, role_fixture, nacro, st_giles):
    portal.sign_in(request.getfixturevalue(role_fixture))
    for partner in (nacro, st_giles):  # their own organisation, and another partner
        assert portal.get(f"/organisations/{partner.id}/edit").status_code == 403
        assert portal.post(f"/organisations/{partner.id}/edit", {**NEW_PARTNER, "name": "Renamed"}).status_code == 403
    assert portal.get("/organisations/new").status_code == 403
    assert portal.post("/organisations/new", NEW_PARTNER).status_code == 403
    assert not audit("organisation.created") and not audit("organisation.updated")
    assert db.session.get(Organisation, nacro.id).name == "Nacro"


@pytest.mark.parametrize(
    "path", ["/organisations/", "/organisations/new", "/organisations/{nacro}", "/organisations/{nacro}/edit"]
)
def test_every_page_has_one_h1_and_a_portal_title(portal, contract_manager, nacro, path):
    portal.sign_in(contract_manager)
    html = portal.get(path.format(nacro=nacro.id)).get_data(as_text=True)
    assert html.count("<h1") == 1
    assert re.search(r"<title>[^<]+ – Partner Portal</title>", html)
