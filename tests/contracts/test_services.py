"""Services as records of a contract: made for every rate-card service code, edited by contract
managers (versioned, audited), chosen by name, and their eligibility checked when a referral is
sent, by the form, the bulk import and the API alike."""

from datetime import date

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts import services
from portal.contracts.eligibility import Candidate, Places, broken_rules
from portal.contracts.models import Service, ServiceSex, Setting
from portal.errors import NotAllowed, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.places.models import Prison, ProbationOffice
from portal.referrals import bulk_import
from portal.referrals import service as referrals
from portal.referrals.models import Referral
from tests.factories import CrcFactory, UserFactory
from tests.helpers import days_from_today, text_of
from tests.referrals.test_import import csv_bytes, row
from tests.referrals.test_service import whole_referral


def the_service(contract, code="ACC-TTG") -> Service:
    return db.session.scalars(select(Service).where(Service.contract_id == contract.id, Service.code == code)).one()


def place(model, name):
    return db.session.scalars(select(model).where(model.name == name)).one()


def limit(service, **rules):
    for key, value in rules.items():
        setattr(service, key, value)
    db.session.commit()


# --- the rules, as a pure function ---------------------------------------------------------------


def rules(**fields):
    base = dict(
        code="X",
        name="X",
        pathway="accommodation",
        setting=Setting.BOTH,
        sex=None,
        min_age=None,
        max_age=None,
        county_ids=[],
        prison_ids=[],
        probation_office_ids=[],
        open_to_referrals=True,
    )
    return Service(**(base | fields))


def person(**fields):
    base = dict(gender="male", date_of_birth=date(1990, 6, 1), location_type="community")
    return Candidate(**(base | fields))


TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("service", "who", "field", "message"),
    [
        (rules(sex=ServiceSex.FEMALE), person(), "gender", "This service is for women: the person is recorded as male"),
        (
            rules(sex=ServiceSex.MALE),
            person(gender="female"),
            "gender",
            "This service is for men: the person is recorded as female",
        ),
        (rules(sex=ServiceSex.FEMALE), person(gender="not_stated"), "gender", "the person is recorded as not stated"),
        (
            rules(min_age=25),
            person(date_of_birth=date(2002, 12, 8)),
            "date_of_birth",
            "aged 25 or over: the person is 23",
        ),
        (
            rules(max_age=25),
            person(date_of_birth=date(2000, 12, 7)),
            "date_of_birth",
            "aged 25 or under: the person is 26",
        ),
        (
            rules(setting=Setting.CUSTODY),
            person(),
            "location_type",
            "works with people in custody: the person is in the community",
        ),
        (
            rules(setting=Setting.COMMUNITY),
            person(location_type="custody"),
            "location_type",
            "in the community: the person is in custody",
        ),
        (
            rules(prison_ids=[1, 2]),
            person(location_type="custody", prison_id=3, prison_name="HMP Littlehey"),
            "prison",
            "This service works in HMP Bedford or HMP Woodhill: the person is in HMP Littlehey",
        ),
        (
            rules(probation_office_ids=[7]),
            person(probation_office_id=8, probation_office_name="Luton probation office"),
            "community_office",
            "takes people reporting to Bedford probation office: the person reports to Luton probation office",
        ),
        (
            rules(county_ids=[5]),
            person(
                probation_office_id=9,
                probation_office_name="Kettering probation office",
                county_id=6,
                county_name="Northamptonshire",
            ),
            "community_office",
            "This service covers Bedfordshire: the person reports to Kettering probation office, in Northamptonshire",
        ),
    ],
)
def test_each_broken_rule_is_named_with_what_the_referral_records(service, who, field, message):
    places = Places(
        counties={5: "Bedfordshire", 6: "Northamptonshire"},
        prisons={1: "HMP Bedford", 2: "HMP Woodhill", 3: "HMP Littlehey"},
        offices={7: "Bedford probation office"},
    )
    broken = broken_rules(service, who, TODAY, places)
    assert list(broken) == [field]
    assert message in broken[field][0]


def test_a_person_who_meets_every_rule_is_eligible():
    service = rules(sex=ServiceSex.FEMALE, min_age=18, max_age=65, setting=Setting.COMMUNITY, county_ids=[5])
    who = person(gender="female", probation_office_id=7, county_id=5)
    assert broken_rules(service, who, TODAY) == {}
    # The age is reckoned on the day: a birthday today counts.
    assert broken_rules(rules(min_age=36), person(date_of_birth=date(1990, 12, 7)), TODAY) == {}


# --- services are records ----------------------------------------------------------------------------


def test_every_service_code_of_a_rate_card_is_a_service_named_from_its_items(ttg_service):
    found = {s.code: s for s in services.services_of(ttg_service)}
    assert found["ACC-TTG"].name == "Through the Gate accommodation"  # its referral fee's name
    assert found["ACC-TTG"].open_to_referrals is True
    assert found["GRANT"].open_to_referrals is False  # a grant's monthly amount: no one is referred to it


def test_contract_manager_changes_a_service_with_an_audit_event_and_a_version(contract_manager, ttg_service):
    service = the_service(ttg_service)
    bedford = place(Prison, "HMP Bedford")
    services.update_service(
        contract_manager,
        service,
        ttg_service,
        version=service.version,
        name="Nacro Through the Gate housing",
        description="Housing on release.",
        pathway="accommodation",
        setting="custody",
        sex="",
        min_age="21",
        max_age="",
        prison_ids=[bedford.id],
        county_ids=[],
        probation_office_ids=[],
        open_to_referrals=True,
    )
    assert (service.name, service.min_age, service.prison_ids, service.version) == (
        "Nacro Through the Gate housing",
        21,
        [bedford.id],
        2,
    )
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "service.updated")).one()
    assert event.details["changes"]["name"]["after"] == "Nacro Through the Gate housing"
    with pytest.raises(StaleRecord):
        services.update_service(
            contract_manager, service, ttg_service, version=1, name="Again", pathway="accommodation", setting="custody"
        )


def test_a_service_refuses_bad_rules_naming_the_field(contract_manager, ttg_service):
    service = the_service(ttg_service)
    with pytest.raises(ValidationFailed) as failure:
        services.update_service(
            contract_manager,
            service,
            ttg_service,
            name="Core grant",
            pathway="nowhere",
            setting="custody",
            min_age="40",
            max_age="30",
            prison_ids=["999999"],
        )
    assert set(failure.value.errors) == {"name", "pathway", "max_age", "prison_ids"}
    assert failure.value.errors["name"] == ["This contract already has a service with this name"]


def test_only_contract_managers_change_services(referrer, ttg_service):
    with pytest.raises(NotAllowed):
        services.update_service(
            referrer, the_service(ttg_service), ttg_service, name="Mine", pathway="accommodation", setting="both"
        )


# --- eligibility when a referral is sent, by every route ---------------------------------------------


def test_the_bulk_import_names_the_row_and_the_rule(portal, referrer, ttg_service):
    limit(the_service(ttg_service), prison_ids=[place(Prison, "HMP Bedford").id], setting=Setting.CUSTODY)
    rows = [
        row(crn="X100001"),
        row(
            crn="X100002",
            location_type="custody",
            prison="HMP Littlehey",
            community_office="",
            postcode="",
            expected_release_date=days_from_today(20).isoformat(),
        ),
        row(
            crn="X100003",
            service_code="",
            service="Through the Gate accommodation",
            location_type="custody",
            prison="HMP Bedford",
            community_office="",
            postcode="",
            expected_release_date=days_from_today(20).isoformat(),
        ),
    ]
    with pytest.raises(Exception) as failure:
        bulk_import.check_file(referrer, csv_bytes(rows))
    messages = [str(error) for error in failure.value.errors]
    assert messages == [
        "Row 2, column location_type: This service works with people in custody: the person is in the community",
        "Row 3, column prison: This service works in HMP Bedford: the person is in HMP Littlehey",
    ]


def test_the_form_refuses_to_send_an_ineligible_draft_saying_why(portal, referrer, ttg_service):
    from tests.referrals.test_drafting import fill_in_everything

    limit(the_service(ttg_service), sex=ServiceSex.MALE)  # the form's person is a woman
    portal.sign_in(referrer)
    draft_id = fill_in_everything(portal, ttg_service)
    page = portal.post(f"/referrals/drafts/{draft_id}/check", {"version": _version(portal, draft_id)})
    assert page.status_code == 200
    assert "This service is for men: the person is recorded as female" in text_of(page)
    assert db.session.scalar(select(Referral.status).where(Referral.id == draft_id)).value == "draft"


def _version(portal, draft_id):
    import re

    page = portal.get(f"/referrals/drafts/{draft_id}/check").get_data(as_text=True)
    return re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)


def test_an_office_typed_another_way_is_the_same_office(referrer, ttg_service):
    sent = referrals.create_and_send(
        referrer,
        whole_referral(
            ttg_service,
            location_type="community",
            prison="",
            community_office="bedford",
            expected_release_date="",
            prison_number="",
        ),
    )
    office = place(ProbationOffice, "Bedford probation office")
    assert (sent.community_office, sent.probation_office_id) == ("Bedford probation office", office.id)
    with pytest.raises(ValidationFailed) as failure:
        referrals.create_and_send(
            referrer,
            whole_referral(
                ttg_service,
                crn="X222222",
                location_type="community",
                prison="",
                community_office="Atlantis",
                expected_release_date="",
                prison_number="",
            ),
        )
    assert "Atlantis is not one of the CRC's probation offices" in failure.value.errors["community_office"][0]


def test_another_crcs_prisons_are_not_this_crcs(referrer, ttg_service):
    other = CrcFactory(name="Another CRC", places=False)
    from portal.places.service import add_place

    admin = UserFactory(organisation=other, role="admin", email="admin@other.example")
    add_place(admin, Prison, name="HMP Elsewhere")
    with pytest.raises(ValidationFailed) as failure:
        referrals.create_and_send(referrer, whole_referral(ttg_service, prison="HMP Elsewhere"))
    assert failure.value.errors == {"prison": ["Select the prison the person is in"]}


# --- a service made closed for want of an item to refer to opens when it gets one ---------------------


def test_a_service_whose_first_item_was_a_grants_monthly_amount_opens_with_its_first_priced_item(ttg_service):
    from portal.contracts.models import Unit
    from tests.factories import RateCardItemFactory

    RateCardItemFactory(contract=ttg_service, code="MENT-MONTH", service_code="MENT", unit=Unit.MONTHLY_FIXED)
    assert the_service(ttg_service, "MENT").open_to_referrals is False
    RateCardItemFactory(contract=ttg_service, code="MENT-SESSION", service_code="MENT", unit=Unit.PER_SESSION)
    assert the_service(ttg_service, "MENT").open_to_referrals is True
    opened = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "service.opened")).one()
    assert opened.details["items"] == ["MENT-SESSION"]


def closed_by(manager, contract, service):
    """The contract manager closes the service on its page (every field as it is, but closed)."""
    fields = {key: getattr(service, key) for key in services.SERVICE_FIELDS if key != "code"}
    fields = {key: getattr(value, "value", value) for key, value in fields.items()}
    services.update_service(
        manager, service, contract, version=service.version, **(fields | {"open_to_referrals": False})
    )


def test_a_service_a_contract_manager_closed_stays_closed_when_items_are_added(contract_manager, ttg_service):
    from portal.contracts.models import Unit
    from tests.factories import RateCardItemFactory

    RateCardItemFactory(contract=ttg_service, code="MENT-MONTH", service_code="MENT", unit=Unit.MONTHLY_FIXED)
    mentoring = the_service(ttg_service, "MENT")
    mentoring.open_to_referrals = True  # opened, then closed by a decision: the decision stands
    db.session.commit()
    closed_by(contract_manager, ttg_service, mentoring)
    RateCardItemFactory(contract=ttg_service, code="MENT-SESSION", service_code="MENT", unit=Unit.PER_SESSION)
    assert the_service(ttg_service, "MENT").open_to_referrals is False
    # One with items to refer to that is closed stays closed when another item arrives.
    closed_by(contract_manager, ttg_service, the_service(ttg_service))
    RateCardItemFactory(contract=ttg_service, code="ACC-TTG-PHONE", service_code="ACC-TTG", unit=Unit.PER_SESSION)
    assert the_service(ttg_service).open_to_referrals is False
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "service.opened")).all() == []
