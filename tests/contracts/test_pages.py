"""Contract pages: contract managers set up contracts, outcome types, items and prices; everyone
else who may see a contract reads it; nobody reaches another partner's contract."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.contracts import service
from portal.contracts.models import Contract, ContractStatus, OutcomeType, Pathway, RateCardItem, RateCardPrice, Unit
from portal.dates import london_today
from portal.extensions import db
from portal.places.models import County, Prison
from tests.factories import (
    ContractFactory,
    CrcFactory,
    OutcomeTypeFactory,
    PartnerFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
)
from tests.helpers import STORY_DAY, QueryCounter, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def day_month_year(day: date) -> list[str]:
    """A date as the three boxes of a GOV.UK date input."""
    return [str(day.day), str(day.month), str(day.year)]


def place_ids(model, *names):
    """The checkbox values of BeNCH CRC's places with these names: their ids."""
    from portal.organisations.models import Organisation

    crc_id = db.session.scalar(select(Organisation.id).where(Organisation.name == "BeNCH CRC"))
    places = db.session.scalars(select(model).where(model.crc_id == crc_id, model.name.in_(names))).all()
    assert len(places) == len(names), f"BeNCH CRC should have {names}"
    return [str(place.id) for place in places]


def new_contract_form(partner, **overrides):
    form = {
        "reference": "bench-men-03",
        "title": "Peer mentoring",
        "partner_id": str(partner.id),
        "tier": "grant",
        "start_date": ["1", "4", "2026"],
        "end_date": ["31", "3", "2027"],
        "value_cap": "£120,000",
        "vat_rate": "0",
        "payment_terms_days": "30",
        "accept_sla_working_days": "2",
        "first_contact_sla_working_days": "5",
        "counties": place_ids(County, "Hertfordshire", "Bedfordshire"),
        "prisons": place_ids(Prison, "HMP The Mount"),
        "description": "Mentoring by people with lived experience.",
    }
    return form | overrides


def audit_actions():
    """What was audited, less signing in and out."""
    return db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.not_like("auth.%")).order_by(AuditEvent.id)
    ).all()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def rate_card(nacro_contract):
    """Nacro's rate card: a priced referral fee with a price to come, an outcome payment and an unpriced grant."""
    today = london_today()
    housed = OutcomeTypeFactory(
        contract=nacro_contract, code="accommodation_secured_first_night", name="Accommodation secured on release"
    )
    referral_fee = RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-REF",
        service_code="ACC-TTG",
        name="Through the Gate referral fee",
        unit=Unit.PER_REFERRAL,
        max_units_per_referral=1,
    )
    current = RateCardPriceFactory(
        item=referral_fee,
        unit_price_pence=12_500,
        effective_from=today - timedelta(days=100),
        effective_to=today + timedelta(days=29),
    )
    future = RateCardPriceFactory(item=referral_fee, unit_price_pence=13_000, effective_from=today + timedelta(days=30))
    outcome = RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-OUT",
        service_code="ACC-TTG",
        name="Accommodation outcome payment",
        unit=Unit.PER_OUTCOME,
        outcome_type=housed,
    )
    RateCardPriceFactory(item=outcome, unit_price_pence=30_000, effective_from=today - timedelta(days=100))
    grant = RateCardItemFactory(
        contract=nacro_contract,
        code="WOM-GRANT",
        service_code="WOM",
        name="Women's centre grant",
        pathway=Pathway.WOMEN_ABUSE,
        unit=Unit.MONTHLY_FIXED,
        active=False,
    )
    return {
        "referral_fee": referral_fee,
        "current": current,
        "future": future,
        "outcome": outcome,
        "grant": grant,
        "housed": housed,
    }


# --- the list and the page ----------------------------------------------------------------------------


def test_contract_manager_creates_a_contract_and_sees_it_listed(portal, contract_manager, nacro):
    portal.sign_in(contract_manager)
    form_page = portal.get("/contracts/new")
    assert form_page.status_code == 200
    assert "Add a contract – Partner Portal" in text_of(form_page)

    response = portal.post("/contracts/new", new_contract_form(nacro))

    assert response.status_code == 302
    assert response.headers["Location"] == "/contracts/BENCH-MEN-03"
    contract = db.session.scalars(select(Contract)).one()
    assert contract.status == ContractStatus.DRAFT
    assert contract.value_cap_pence == 12_000_000
    assert contract.county_names == ["Bedfordshire", "Hertfordshire"]
    assert contract.prison_names == ["HMP The Mount"]
    assert contract.start_date == date(2026, 4, 1)
    assert "contract.created" in audit_actions()

    page = text_of(portal.get("/contracts/BENCH-MEN-03"))
    assert "Contract BENCH-MEN-03 created as a draft" in page
    listing = text_of(portal.get("/contracts/"))
    assert "BENCH-MEN-03 Peer mentoring Nacro Grant (Tier III) Draft 1 April 2026 31 March 2027 £120,000.00" in listing


def test_an_empty_contract_form_names_every_missing_field_beside_it_and_in_the_summary(portal, contract_manager, nacro):
    portal.sign_in(contract_manager)
    # What a browser sends for the form left as it is: unticked boxes send nothing.
    empty = {key: "" for key in new_contract_form(nacro) if key not in ("counties", "prisons", "tier", "vat_rate")}
    empty |= {"start_date": ["", "", ""], "end_date": ["", "", ""]}
    response = portal.post("/contracts/new", empty)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text_of(response)
    assert page.startswith("Error: Add a contract – Partner Portal")
    for message, anchor in [
        ("Enter a contract reference", "#reference"),
        ("Enter the contract's title", "#title"),
        ("Select the partner organisation", "#partner_id"),
        ("Select whether this is a subcontract or a grant", "#tier"),
        ("Enter the start date", "#start_date-day"),
        ("Enter the end date", "#end_date-day"),
        ("Enter the contract's value cap in pounds, like 250000", "#value_cap"),
        ("Select a VAT rate of 0% or 20%", "#vat_rate"),
        ("Select at least one county or prison the contract serves", "#counties"),
    ]:
        assert page.count(message) == 2, f"{message!r} should be in the summary and beside its field"
        assert f'href="{anchor}"' in html, f"the summary should link {message!r} to {anchor}"
    assert count(Contract) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start_date": ["31", "2", "2026"]}, "Start date must be a real date"),
        ({"end_date": ["31", "3", ""]}, "End date must include a year"),
        ({"end_date": ["1", "1", "2026"]}, "The end date must be the same as or after the start date"),
        ({"value_cap": "lots"}, "Enter the contract's value cap in pounds"),
        ({"value_cap": "0"}, "The value cap must be more than £0"),
        ({"payment_terms_days": "thirty"}, "Payment terms must be a whole number from 0 to 120"),
        ({"reference": "BENCH ACC 01"}, "Enter a reference of 3 to 30 capital letters, numbers and hyphens"),
        ({"reference": "BENCH-ACC-01"}, "A contract with this reference already exists"),
        ({"vat_rate": "1750"}, "Select a VAT rate of 0% or 20%"),
    ],
)
def test_bad_contract_details_are_refused_with_a_clear_message(
    portal, contract_manager, nacro, nacro_contract, changes, message
):
    portal.sign_in(contract_manager)
    response = portal.post("/contracts/new", new_contract_form(nacro, **changes))
    assert response.status_code == 200
    assert message in text_of(response)
    assert count(Contract) == 1  # only the fixture's


def test_contract_page_shows_every_detail_spend_and_the_rate_card(portal, contract_manager, nacro_contract, rate_card):
    portal.sign_in(contract_manager)
    response = portal.get("/contracts/bench-acc-01")  # references are found whatever their case
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text_of(response)

    assert "Contract BENCH-ACC-01 – Partner Portal" in page
    for detail in [
        "Reference BENCH-ACC-01",
        "Title Through the Gate accommodation",
        "Partner Nacro",
        "Prime contractor BeNCH CRC",
        "Tier Subcontract (Tier II)",
        "Status Active",
        "Start date 1 April 2026",
        "End date 31 March 2028",
        "Value cap £250,000.00",
        "VAT rate 0%",
        "Payment terms 30 days after an invoice is submitted",
        "Accept or decline a referral within 2 working days of it being sent",
        "First contact within 5 working days of acceptance",
        "Counties: Bedfordshire, Northamptonshire",
        "Prisons: HMP Bedford, HMP Woodhill",
    ]:
        assert detail in page, detail
    assert f'href="/organisations/{nacro_contract.partner_id}"' in html

    assert "£0.00 of £250,000.00 (0%)" in page
    assert "submitted and approved invoices" in page
    assert 'href="/contracts/BENCH-ACC-01/rate-card.csv"' in html

    future_day = rate_card["future"].effective_from
    assert (
        "ACC-TTG-REF Active Through the Gate referral fee Service code ACC-TTG Accommodation Custody and community "
        f"Per referral started 1 £125.00 £130.00 from {future_day.day} {future_day:%B %Y}"
    ) in page
    assert "Per verified outcome Accommodation secured on release No limit £300.00 None" in page
    assert "WOM-GRANT Inactive Women's centre grant Service code WOM Women: abuse" in page
    assert "Fixed monthly amount No limit None None" in page
    assert 'href="/contracts/BENCH-ACC-01/items/ACC-TTG-REF"' in html

    for button in ["Edit", "Add an item", "Import rate card", "Outcome types", "End contract"]:
        assert f">{button}</a>" in html, button
    assert ">Make active</a>" not in html  # it is active already
    for href in ["/invoices/?contract=BENCH-ACC-01", "/service-returns/?contract=BENCH-ACC-01"]:
        assert f'href="{href}"' in html, href
    assert 'href="/dashboard/?contract=BENCH-ACC-01"' in html


def test_a_draft_contract_offers_make_active_and_no_end(portal, contract_manager, crc, nacro):
    ContractFactory(reference="BENCH-NEW-09", crc=crc, partner=nacro, status=ContractStatus.DRAFT)
    portal.sign_in(contract_manager)
    html = portal.get("/contracts/BENCH-NEW-09").get_data(as_text=True)
    assert ">Make active</a>" in html
    assert ">End contract</a>" not in html


def test_contracts_are_filtered_by_partner_and_status(portal, contract_manager, crc, nacro, st_giles):
    ContractFactory(reference="NACRO-ACTIVE", crc=crc, partner=nacro)
    ContractFactory(reference="NACRO-DRAFT", crc=crc, partner=nacro, status=ContractStatus.DRAFT)
    ContractFactory(reference="GILES-ACTIVE", crc=crc, partner=st_giles)
    ContractFactory(reference="ELSEWHERE-01", crc=CrcFactory(name="Another CRC"), partner=nacro)
    portal.sign_in(contract_manager)

    everything = text_of(portal.get("/contracts/"))
    assert "NACRO-ACTIVE" in everything and "NACRO-DRAFT" in everything and "GILES-ACTIVE" in everything
    assert "ELSEWHERE-01" not in everything  # another CRC's contract
    nacro_only = text_of(portal.get(f"/contracts/?partner={nacro.id}"))
    assert "NACRO-ACTIVE" in nacro_only and "NACRO-DRAFT" in nacro_only and "GILES-ACTIVE" not in nacro_only
    drafts = text_of(portal.get("/contracts/?status=draft"))
    assert "NACRO-DRAFT" in drafts and "NACRO-ACTIVE" not in drafts and "GILES-ACTIVE" not in drafts
    assert "Showing 1 to 1 of 1 contract" in drafts


# --- who sees what ------------------------------------------------------------------------------------------

EDIT_ROUTES = [
    "/contracts/new",
    "/contracts/{contract}/edit",
    "/contracts/{contract}/activate",
    "/contracts/{contract}/end",
    "/contracts/{contract}/outcome-types/{outcome_type}/edit",
    "/contracts/{contract}/items/new",
    "/contracts/{contract}/items/{item}/edit",
    "/contracts/{contract}/items/{item}/prices/new",
    "/contracts/{contract}/items/{item}/prices/{price}/edit",
    "/contracts/{contract}/items/{item}/prices/{price}/end",
    "/contracts/{contract}/items/{item}/prices/{price}/delete",
    "/contracts/{contract}/rate-card/import",
]


def edit_url(route, rate_card, contract):
    return route.format(
        contract=contract.reference,
        outcome_type=rate_card["housed"].id,
        item=rate_card["referral_fee"].code,
        price=rate_card["current"].id,
    )


def test_partner_manager_sees_own_contract_read_only(
    portal, nacro_manager, nacro_contract, st_giles_contract, rate_card
):
    portal.sign_in(nacro_manager)
    listing = portal.get("/contracts/")
    assert "BENCH-ACC-01" in text_of(listing)
    assert "BENCH-ETE-02" not in text_of(listing)
    assert "Add a contract" not in text_of(listing)
    assert 'name="partner"' not in listing.get_data(as_text=True)  # no partner filter for a partner

    html = portal.get("/contracts/BENCH-ACC-01").get_data(as_text=True)
    page = text_of(portal.get("/contracts/BENCH-ACC-01"))
    assert "Through the Gate referral fee" in page and "£125.00" in page
    assert "Download rate card (CSV)" in page
    assert "/organisations/" not in html  # partners have no organisation pages
    assert 'href="/invoices/?contract=BENCH-ACC-01"' in html and "Service returns for this contract" in page
    for button in ["Edit", "Add an item", "Import rate card", "End contract", "Make active"]:
        assert f">{button}</a>" not in html, button

    item_html = portal.get("/contracts/BENCH-ACC-01/items/ACC-TTG-REF").get_data(as_text=True)
    assert "Add a price" not in item_html and "/prices/" not in item_html
    outcome_types = portal.get("/contracts/BENCH-ACC-01/outcome-types")
    assert outcome_types.status_code == 200
    assert "Accommodation secured on release" in text_of(outcome_types)
    assert "Add an outcome type" not in text_of(outcome_types)


@pytest.mark.parametrize("route", EDIT_ROUTES)
def test_partner_manager_gets_403_on_every_edit_route(portal, nacro_manager, nacro_contract, rate_card, route):
    portal.sign_in(nacro_manager)
    url = edit_url(route, rate_card, nacro_contract)
    assert portal.get(url).status_code == 403
    assert portal.post(url, {"version": "1", "title": "Hijacked"}).status_code == 403
    assert nacro_contract.title == "Through the Gate accommodation"
    assert audit_actions() == []


@pytest.mark.parametrize("role_fixture", ["referrer", "admin", "nacro_caseworker"])
def test_other_roles_read_contracts_but_get_403_on_edit_routes(
    portal, request, role_fixture, nacro_contract, rate_card
):
    portal.sign_in(request.getfixturevalue(role_fixture))
    assert portal.get("/contracts/BENCH-ACC-01").status_code == 200
    assert portal.get("/contracts/BENCH-ACC-01/items/ACC-TTG-REF").status_code == 200
    assert portal.get("/contracts/BENCH-ACC-01/rate-card.csv").status_code == 200
    assert portal.post("/contracts/BENCH-ACC-01/outcome-types", {"code": "x_y_z", "pathway": "ete"}).status_code == 403
    for route in EDIT_ROUTES:
        url = edit_url(route, rate_card, nacro_contract)
        assert portal.get(url).status_code == 403, url
        assert portal.post(url, {}).status_code == 403, url
    assert count(OutcomeType) == 1


def test_partner_gets_404_for_another_partners_contract_page_item_price_and_csv(
    portal, nacro_manager, st_giles_contract
):
    item = RateCardItemFactory(contract=st_giles_contract, code="ETE-REL")
    price = RateCardPriceFactory(item=item)
    outcome_type = OutcomeTypeFactory(contract=st_giles_contract)
    portal.sign_in(nacro_manager)
    for url in [
        "/contracts/BENCH-ETE-02",
        "/contracts/BENCH-ETE-02/items/ETE-REL",
        f"/contracts/BENCH-ETE-02/items/ETE-REL/prices/{price.id}/edit",
        "/contracts/BENCH-ETE-02/outcome-types",
        f"/contracts/BENCH-ETE-02/outcome-types/{outcome_type.id}/edit",
        "/contracts/BENCH-ETE-02/rate-card.csv",
        "/contracts/BENCH-ETE-02/edit",
    ]:
        response = portal.get(url)
        assert response.status_code == 404, url
        assert "St Giles" not in text_of(response)
    assert portal.get("/contracts/NO-SUCH-CONTRACT").status_code == 404


def test_another_crcs_contract_is_404_even_for_a_contract_manager(portal, contract_manager, nacro):
    ContractFactory(reference="OTHER-CRC-01", crc=CrcFactory(name="Another CRC"), partner=nacro)
    portal.sign_in(contract_manager)
    assert portal.get("/contracts/OTHER-CRC-01").status_code == 404
    assert portal.get("/contracts/OTHER-CRC-01/edit").status_code == 404


def test_items_prices_and_outcome_types_are_only_found_within_their_own_contract(
    portal, contract_manager, nacro_contract, st_giles_contract, rate_card
):
    giles_item = RateCardItemFactory(contract=st_giles_contract, code="ETE-REL")
    giles_price = RateCardPriceFactory(item=giles_item)
    giles_outcome = OutcomeTypeFactory(contract=st_giles_contract)
    portal.sign_in(contract_manager)
    for url in [
        "/contracts/BENCH-ACC-01/items/ETE-REL",
        f"/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/{giles_price.id}/edit",
        f"/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/{giles_price.id}/delete",
        f"/contracts/BENCH-ACC-01/outcome-types/{giles_outcome.id}/edit",
    ]:
        assert portal.get(url).status_code == 404, url
    response = portal.post(f"/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/{giles_price.id}/delete")
    assert response.status_code == 404
    assert db.session.get(RateCardPrice, giles_price.id) is not None


def test_every_role_has_contracts_in_the_navigation_and_on_the_home_page(
    portal, admin, contract_manager, referrer, nacro_manager, nacro_caseworker
):
    for user in [admin, contract_manager, referrer, nacro_manager, nacro_caseworker]:
        portal.sign_in(user)
        html = portal.get("/").get_data(as_text=True)
        assert html.count('href="/contracts/"') >= 2, user.role  # the navigation and the home page card
        portal.sign_out()


# --- editing, activating and ending ----------------------------------------------------------------------------


def test_contract_manager_edits_a_contract_with_its_values_filled_in(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    form = portal.get("/contracts/BENCH-ACC-01/edit").get_data(as_text=True)
    assert 'value="250000.00"' in form
    assert 'id="start_date-day"' in form and 'value="2026"' in form
    assert f'value="{place_ids(County, "Bedfordshire")[0]}" checked' in form

    response = portal.post(
        "/contracts/BENCH-ACC-01/edit",
        new_contract_form(
            nacro_contract.partner,
            reference="BENCH-ACC-01",
            title="Through the Gate accommodation and tenancy sustainment",
            value_cap="300000.50",
            vat_rate="2000",
            version=str(nacro_contract.version),
        ),
    )
    assert response.status_code == 302
    db.session.refresh(nacro_contract)
    assert nacro_contract.title == "Through the Gate accommodation and tenancy sustainment"
    assert nacro_contract.value_cap_pence == 30_000_050
    assert nacro_contract.vat_rate_bp == 2000
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contract.updated")).one()
    assert event.details["changes"]["value_cap_pence"] == {"before": 25_000_000, "after": 30_000_050}


def test_a_stale_edit_says_someone_else_changed_the_contract_and_saves_nothing(
    portal, contract_manager, nacro_contract
):
    portal.sign_in(contract_manager)
    read_version = nacro_contract.version
    portal.get("/contracts/BENCH-ACC-01/edit")
    # Meanwhile a colleague changes the title.
    service.update_contract(
        contract_manager,
        nacro_contract,
        **{field: getattr(nacro_contract, field) for field in service.CONTRACT_FIELDS} | {"title": "Colleague's title"},
    )

    response = portal.post(
        "/contracts/BENCH-ACC-01/edit",
        new_contract_form(nacro_contract.partner, reference="BENCH-ACC-01", title="Mine", version=str(read_version)),
    )
    assert response.status_code == 200
    assert "This contract was changed by someone else while you were editing" in text_of(response)
    db.session.refresh(nacro_contract)
    assert nacro_contract.title == "Colleague's title"


def test_activating_and_ending_a_contract_are_confirmed_and_audited(portal, contract_manager, crc, nacro):
    contract = ContractFactory(
        reference="BENCH-NEW-09", crc=crc, partner=nacro, status=ContractStatus.DRAFT, end_date=date(2028, 3, 31)
    )
    portal.sign_in(contract_manager)
    confirm = portal.get("/contracts/BENCH-NEW-09/activate")
    assert "Make this contract active?" in text_of(confirm)
    response = portal.post("/contracts/BENCH-NEW-09/activate", {"version": str(contract.version)})
    assert response.status_code == 302
    assert "is now active" in text_of(portal.get("/contracts/BENCH-NEW-09"))

    end_form = portal.get("/contracts/BENCH-NEW-09/end").get_data(as_text=True)
    for box in ('id="end_date-day"', 'value="31"', 'value="03"', 'value="2028"'):
        assert box in end_form  # the contract's own end date is the default
    db.session.refresh(contract)
    response = portal.post(
        "/contracts/BENCH-NEW-09/end", {"end_date": ["30", "9", "2027"], "version": str(contract.version)}
    )
    assert response.status_code == 302
    db.session.refresh(contract)
    assert contract.status == ContractStatus.ENDED
    assert contract.end_date == date(2027, 9, 30)
    page = portal.get("/contracts/BENCH-NEW-09")
    assert "Its last day is 30 September 2027" in text_of(page)
    assert ">Edit</a>" not in page.get_data(as_text=True)

    activated, ended = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(["contract.activated", "contract.ended"]))
        .order_by(AuditEvent.id)
    ).all()
    assert activated.actor_email == contract_manager.email
    assert activated.details["status"] == {"before": "draft", "after": "active"}
    assert ended.details["end_date"] == {"before": "2028-03-31", "after": "2027-09-30"}


def test_an_ended_contract_refuses_changes_with_a_message(portal, contract_manager, crc, nacro):
    contract = ContractFactory(reference="BENCH-OLD-01", crc=crc, partner=nacro, status=ContractStatus.ENDED)
    portal.sign_in(contract_manager)
    response = portal.post(
        "/contracts/BENCH-OLD-01/edit",
        new_contract_form(nacro, reference="BENCH-OLD-01", version=str(contract.version)),
    )
    assert "This contract has ended and can no longer be changed" in text_of(response)
    response = portal.get("/contracts/BENCH-OLD-01/end")
    assert response.status_code == 302
    assert "Only an active contract can be ended" in text_of(portal.get(response.headers["Location"]))


def test_making_an_active_contract_active_again_explains_why_not(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    response = portal.get("/contracts/BENCH-ACC-01/activate")
    assert response.status_code == 302
    assert "Only a draft contract can be made active" in text_of(portal.get(response.headers["Location"]))
    response = portal.post("/contracts/BENCH-ACC-01/activate", {"version": str(nacro_contract.version)})
    assert "Only a draft contract can be made active" in text_of(portal.get(response.headers["Location"]))
    assert audit_actions() == []


def test_an_end_date_before_the_start_is_refused_beside_the_date(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    response = portal.post(
        "/contracts/BENCH-ACC-01/end", {"end_date": ["1", "1", "2026"], "version": str(nacro_contract.version)}
    )
    assert response.status_code == 200
    assert text_of(response).count("The end date must be on or after the contract's start date") == 2
    assert 'href="#end_date-day"' in response.get_data(as_text=True)
    db.session.refresh(nacro_contract)
    assert nacro_contract.status == ContractStatus.ACTIVE
    assert nacro_contract.end_date == date(2028, 3, 31)


# --- outcome types -------------------------------------------------------------------------------------------------


def test_contract_manager_adds_and_changes_outcome_types(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    response = portal.post(
        "/contracts/BENCH-ACC-01/outcome-types",
        {"code": "entered_employment", "name": "Entered employment", "pathway": "ete"},
    )
    assert response.status_code == 302
    page = text_of(portal.get("/contracts/BENCH-ACC-01/outcome-types"))
    assert "Outcome type entered_employment added" in page
    assert (
        "Entered employment entered_employment Education, training and employment Achieved on or after acceptance "
        "Active" in page
    )

    duplicate = portal.post(
        "/contracts/BENCH-ACC-01/outcome-types", {"code": "entered_employment", "name": "", "pathway": "ete"}
    )
    assert text_of(duplicate).count("This contract already has an outcome type with this code") == 2
    no_pathway = portal.post("/contracts/BENCH-ACC-01/outcome-types", {"code": "job_started", "pathway": ""})
    assert "Select the pathway this outcome belongs to" in text_of(no_pathway)

    outcome_type = db.session.scalars(select(OutcomeType)).one()
    response = portal.post(
        f"/contracts/BENCH-ACC-01/outcome-types/{outcome_type.id}/edit",
        {"name": "Started a job", "pathway": "ete"},  # the box left unticked: no longer active
    )
    assert response.status_code == 302
    db.session.refresh(outcome_type)
    assert (outcome_type.name, outcome_type.code, outcome_type.active) == ("Started a job", "entered_employment", False)
    assert audit_actions() == ["outcome_type.created", "outcome_type.updated"]


# --- items and prices -----------------------------------------------------------------------------------------------


def test_contract_manager_adds_an_item_then_its_price_and_sees_it_current(portal, contract_manager, nacro_contract):
    OutcomeTypeFactory(contract=nacro_contract, code="entered_employment", name="Entered employment")
    portal.sign_in(contract_manager)
    form = portal.get("/contracts/BENCH-ACC-01/items/new")
    assert "Entered employment (entered_employment)" in text_of(form)

    missing_outcome = portal.post(
        "/contracts/BENCH-ACC-01/items/new",
        {
            "code": "ete-job",
            "service_code": "ete",
            "name": "Job outcome",
            "pathway": "ete",
            "setting": "community",
            "unit": "per_outcome",
            "outcome_type_id": "",
            "active": "y",
        },
    )
    assert text_of(missing_outcome).count("Select the outcome type this item pays for") == 2
    assert count(RateCardItem) == 0

    response = portal.post(
        "/contracts/BENCH-ACC-01/items/new",
        {
            "code": "ete-mentor",
            "service_code": "ete",
            "name": "Employment mentoring",
            "pathway": "ete",
            "setting": "community",
            "unit": "per_hour",
            "max_units_per_referral": "20",
            "active": "y",
        },
    )
    assert response.headers["Location"] == "/contracts/BENCH-ACC-01/items/ETE-MENTOR/prices/new"
    start = london_today() - timedelta(days=10)
    response = portal.post(
        "/contracts/BENCH-ACC-01/items/ETE-MENTOR/prices/new",
        {"unit_price": "42.50", "effective_from": day_month_year(start), "effective_to": ["", "", ""]},
    )
    assert response.headers["Location"] == "/contracts/BENCH-ACC-01/items/ETE-MENTOR"

    page = text_of(portal.get("/contracts/BENCH-ACC-01/items/ETE-MENTOR"))
    assert "Price added" in page
    assert "Most units per referral 20" in page
    assert "Price today £42.50" in page
    assert f"£42.50 {start.day} {start:%B %Y} No end date Current" in page
    assert audit_actions() == ["rate_card_item.created", "rate_card_price.created"]


def test_only_items_billed_per_outcome_take_an_outcome_type(portal, contract_manager, nacro_contract):
    employed = OutcomeTypeFactory(contract=nacro_contract, code="entered_employment", name="Entered employment")
    portal.sign_in(contract_manager)
    item = {"service_code": "ETE", "pathway": "ete", "setting": "community", "outcome_type_id": str(employed.id)}
    hourly = portal.post(
        "/contracts/BENCH-ACC-01/items/new", item | {"code": "ETE-HOUR", "name": "Hour", "unit": "per_hour"}
    )
    assert text_of(hourly).count("Only items billed per verified outcome have an outcome type") == 2
    response = portal.post(
        "/contracts/BENCH-ACC-01/items/new",
        item | {"code": "ETE-JOB", "name": "Job", "unit": "per_outcome", "active": "y"},
    )
    assert response.status_code == 302
    assert dict(db.session.execute(select(RateCardItem.code, RateCardItem.outcome_type_id)).all()) == {
        "ETE-JOB": employed.id
    }
    assert "Per verified outcome Entered employment" in text_of(portal.get("/contracts/BENCH-ACC-01"))


def test_item_page_marks_current_future_and_ended_prices(portal, contract_manager, nacro_contract, rate_card):
    today = london_today()
    RateCardPriceFactory(
        item=rate_card["referral_fee"],
        unit_price_pence=11_000,
        effective_from=today - timedelta(days=400),
        effective_to=today - timedelta(days=101),
    )
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/contracts/BENCH-ACC-01/items/acc-ttg-ref"))
    assert "Price today £125.00" in page
    periods = page.split("Price periods never overlap.")[1]
    assert periods.index("£110.00") < periods.index("£125.00") < periods.index("£130.00")
    assert "No end date Future" in page
    assert page.count("Current") == 1 and page.count("Ended") == 1


def test_overlapping_price_is_refused_with_a_field_error(portal, contract_manager, nacro_contract, rate_card):
    portal.sign_in(contract_manager)
    overlapping_start = rate_card["current"].effective_to  # the current price's last day
    response = portal.post(
        "/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/new",
        {"unit_price": "140", "effective_from": day_month_year(overlapping_start), "effective_to": ["", "", ""]},
    )
    assert response.status_code == 200
    page = text_of(response)
    assert page.count("This price overlaps the price from") == 2
    assert "End that price first, or choose other dates" in page
    assert 'href="#effective_from-day"' in response.get_data(as_text=True)
    assert count(RateCardPrice) == 3
    assert audit_actions() == []


@pytest.mark.parametrize(
    ("unit_price", "message"),
    [
        ("-5.00", "The unit price cannot be negative"),
        ("five pounds", "Enter the unit price in pounds, like 125.00"),
        ("", "Enter the unit price in pounds, like 125.00"),
        ("1.234", "Enter the unit price in pounds, like 125.00"),
    ],
)
def test_a_bad_price_is_refused_beside_the_price(
    portal, contract_manager, nacro_contract, rate_card, unit_price, message
):
    portal.sign_in(contract_manager)
    response = portal.post(
        "/contracts/BENCH-ACC-01/items/WOM-GRANT/prices/new",
        {"unit_price": unit_price, "effective_from": ["1", "4", "2026"], "effective_to": ["", "", ""]},
    )
    assert text_of(response).count(message) == 2
    assert 'href="#unit_price"' in response.get_data(as_text=True)


def test_a_price_that_ends_before_it_starts_or_on_no_real_day_is_refused(
    portal, contract_manager, nacro_contract, rate_card
):
    portal.sign_in(contract_manager)
    url = "/contracts/BENCH-ACC-01/items/WOM-GRANT/prices/new"
    backwards = portal.post(
        url, {"unit_price": "10", "effective_from": ["1", "4", "2026"], "effective_to": ["31", "3", "2026"]}
    )
    assert "The price must end on or after the day it starts" in text_of(backwards)
    unreal = portal.post(url, {"unit_price": "10", "effective_from": ["30", "2", "2026"], "effective_to": ["", "", ""]})
    assert "Date the price applies from must be a real date" in text_of(unreal)
    assert count(RateCardPrice) == 3


def test_a_price_is_superseded_by_ending_it_and_adding_the_next(portal, contract_manager, nacro_contract):
    item = RateCardItemFactory(contract=nacro_contract, code="MENTOR")
    price = RateCardPriceFactory(item=item, unit_price_pence=4000, effective_from=date(2026, 4, 1))
    portal.sign_in(contract_manager)
    url = f"/contracts/BENCH-ACC-01/items/MENTOR/prices/{price.id}/end"
    assert "End the price from 1 April 2026" in text_of(portal.get(url))
    response = portal.post(url, {"effective_to": ["31", "3", "2027"], "version": str(price.version)})
    assert response.status_code == 302
    response = portal.post(
        "/contracts/BENCH-ACC-01/items/MENTOR/prices/new",
        {"unit_price": "45", "effective_from": ["1", "4", "2027"], "effective_to": ["", "", ""]},
    )
    assert response.status_code == 302
    periods = db.session.execute(
        select(RateCardPrice.unit_price_pence, RateCardPrice.effective_from, RateCardPrice.effective_to)
        .where(RateCardPrice.item_id == item.id)
        .order_by(RateCardPrice.effective_from)
    ).all()
    assert [tuple(period) for period in periods] == [
        (4000, date(2026, 4, 1), date(2027, 3, 31)),
        (4500, date(2027, 4, 1), None),
    ]
    assert audit_actions() == ["rate_card_price.ended", "rate_card_price.created"]


def test_contract_manager_changes_and_deletes_a_price(portal, contract_manager, nacro_contract, rate_card):
    future = rate_card["future"]
    portal.sign_in(contract_manager)
    edit_url_ = f"/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/{future.id}/edit"
    assert 'value="130.00"' in portal.get(edit_url_).get_data(as_text=True)
    response = portal.post(
        edit_url_,
        {
            "unit_price": "135",
            "effective_from": day_month_year(future.effective_from),
            "effective_to": ["", "", ""],
            "version": str(future.version),
        },
    )
    assert response.status_code == 302
    db.session.refresh(future)
    assert future.unit_price_pence == 13_500

    delete_url = f"/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/{future.id}/delete"
    assert "Delete the price from" in text_of(portal.get(delete_url))
    response = portal.post(delete_url)
    assert response.status_code == 302
    assert "Price deleted" in text_of(portal.get(response.headers["Location"]))
    assert db.session.scalar(select(RateCardPrice.id).where(RateCardPrice.id == future.id)) is None
    assert audit_actions() == ["rate_card_price.updated", "rate_card_price.deleted"]


def test_a_price_used_on_a_submitted_invoice_can_only_be_ended(
    portal, contract_manager, nacro_contract, rate_card, monkeypatch
):
    used = rate_card["current"]
    monkeypatch.setattr(service, "price_usage_checks", [lambda price: price.id == used.id])
    portal.sign_in(contract_manager)
    item_html = portal.get("/contracts/BENCH-ACC-01/items/ACC-TTG-REF").get_data(as_text=True)
    assert "Used on a submitted invoice" in item_html
    assert f"/prices/{used.id}/edit" not in item_html and f"/prices/{used.id}/delete" not in item_html
    assert f"/prices/{used.id}/end" in item_html

    edit = f"/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/{used.id}/edit"
    assert "so it cannot be changed. End it and add a new price instead" in text_of(portal.get(edit))
    response = portal.post(
        edit,
        {
            "unit_price": "1.00",
            "effective_from": day_month_year(used.effective_from),
            "effective_to": ["", "", ""],
            "version": str(used.version),
        },
    )
    assert "has been used on a submitted invoice, so it cannot be changed" in text_of(response)
    response = portal.post(f"/contracts/BENCH-ACC-01/items/ACC-TTG-REF/prices/{used.id}/delete")
    assert "so it cannot be deleted. End it instead" in text_of(portal.get(response.headers["Location"]))
    db.session.refresh(used)
    assert used.unit_price_pence == 12_500
    assert audit_actions() == []


def test_contract_manager_edits_an_item_and_a_stale_edit_is_refused(
    portal, contract_manager, nacro_contract, rate_card
):
    item = rate_card["referral_fee"]
    portal.sign_in(contract_manager)
    form = portal.get("/contracts/BENCH-ACC-01/items/ACC-TTG-REF/edit").get_data(as_text=True)
    assert 'value="ACC-TTG-REF"' in form and 'value="per_referral" checked' in form
    fields = {
        "code": "ACC-TTG-REF",
        "service_code": "ACC-TTG",
        "name": "Through the Gate: referral fee",
        "pathway": "accommodation",
        "setting": "custody",
        "unit": "per_referral",
        "max_units_per_referral": "1",
        "active": "y",
        "version": str(item.version),
    }
    response = portal.post("/contracts/BENCH-ACC-01/items/ACC-TTG-REF/edit", fields)
    assert response.status_code == 302
    db.session.refresh(item)
    assert (item.name, item.setting.value) == ("Through the Gate: referral fee", "custody")

    stale = portal.post("/contracts/BENCH-ACC-01/items/ACC-TTG-REF/edit", fields | {"name": "Lost update"})
    assert "This rate card item was changed by someone else while you were editing" in text_of(stale)
    db.session.refresh(item)
    assert item.name == "Through the Gate: referral fee"


# --- the CSV download -------------------------------------------------------------------------------------------------


def test_the_rate_card_downloads_as_csv_for_anyone_who_can_see_the_contract(portal, nacro_caseworker, rate_card):
    portal.sign_in(nacro_caseworker)
    response = portal.get("/contracts/BENCH-ACC-01/rate-card.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="BENCH-ACC-01-rate-card.csv"'
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == (
        "code,service_code,name,pathway,setting,unit,outcome_type,max_units_per_referral,"
        "unit_price,effective_from,effective_to,session_kinds,outcome_from,outcome_earliest_days,"
        "outcome_latest_days,outcome_max_per_referral,outcome_evidence_required"
    )
    assert any(
        line.startswith("ACC-TTG-OUT,ACC-TTG,") and "accommodation_secured_first_night" in line for line in lines
    )
    assert len(lines) == 1 + 4  # two prices of the fee, one of the outcome, the unpriced grant


# --- queries do not grow with the rows shown -------------------------------------------------------------------------


def _items(contract, number, start=0):
    outcome_type = OutcomeTypeFactory(contract=contract)
    for index in range(start, start + number):
        unit = Unit.PER_OUTCOME if index % 3 == 0 else Unit.PER_SESSION
        item = RateCardItemFactory(
            contract=contract,
            code=f"ITEM-{index:03d}",
            unit=unit,
            outcome_type=outcome_type if unit == Unit.PER_OUTCOME else None,
        )
        RateCardPriceFactory(item=item, effective_from=date(2026, 4, 1), effective_to=date(2027, 3, 31))
        RateCardPriceFactory(item=item, effective_from=date(2027, 4, 1), unit_price_pence=6000)


def test_contract_page_queries_do_not_grow_with_the_rate_card(app, portal, contract_manager, nacro_contract):
    _items(nacro_contract, 3)
    portal.sign_in(contract_manager)
    with QueryCounter(app) as few:
        assert portal.get("/contracts/BENCH-ACC-01").status_code == 200
    _items(nacro_contract, 27, start=3)
    with QueryCounter(app) as many:
        page = portal.get("/contracts/BENCH-ACC-01")
    assert "ITEM-029" in text_of(page)
    assert few.count > 2
    assert many.count == few.count


def test_contract_list_queries_do_not_grow_with_the_contracts(app, portal, contract_manager, crc):
    for _ in range(3):
        ContractFactory(crc=crc, partner=PartnerFactory())
    portal.sign_in(contract_manager)
    with QueryCounter(app) as few:
        assert portal.get("/contracts/").status_code == 200
    for _ in range(17):
        ContractFactory(crc=crc, partner=PartnerFactory())
    with QueryCounter(app) as many:
        page = portal.get("/contracts/")
    assert "Showing 1 to 20 of 20 contracts" in text_of(page)
    assert few.count > 2
    assert many.count == few.count
