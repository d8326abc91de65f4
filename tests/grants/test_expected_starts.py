"""Expected starts set one service and month at a time (page with the GOV.UK error summary, and
`PUT` in the API, by one service function, version-checked and audited), and services whose starts
fall below plan flagged on the contract page, the volumes page and the contract manager's home."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import NotAllowed, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.grants import volumes
from portal.grants.below_plan import below_plan
from portal.grants.models import ExpectedStarts
from tests.factories import ContractFactory, CrcFactory, ReferralFactory
from tests.grants.test_volumes import starts_csv
from tests.helpers import STORY_DAY, Portal, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # 7 December 2026; the contract runs 1 April 2026 to 31 March 2028


def test_the_contract_manager_sets_and_changes_one_months_expected_starts_and_a_stale_change_is_refused(
    ttg_service, contract_manager, nacro_manager
):
    made = volumes.set_expected_starts(
        contract_manager, ttg_service, service_code="acc-ttg", month="2027-04", starts="12", version=0
    )
    assert (made.service_code, made.month, made.starts, made.version) == ("ACC-TTG", date(2027, 4, 1), 12, 1)
    changed = volumes.set_expected_starts(
        contract_manager, ttg_service, service_code="ACC-TTG", month="2027-04", starts=9, version=1
    )
    assert changed.starts == 9 and changed.version == 2
    with pytest.raises(StaleRecord):  # read at version 1, changed since
        volumes.set_expected_starts(
            contract_manager, ttg_service, service_code="ACC-TTG", month="2027-04", starts=3, version=1
        )
    with pytest.raises(StaleRecord):  # "not set yet" when someone has set it
        volumes.set_expected_starts(
            contract_manager, ttg_service, service_code="ACC-TTG", month="2027-04", starts=3, version=0
        )
    with pytest.raises(ValidationFailed) as wrong:
        volumes.set_expected_starts(contract_manager, ttg_service, service_code="NOPE", month="2031-01", starts="x")
    assert set(wrong.value.errors) == {"service_code", "month", "expected_starts"}
    with pytest.raises(NotAllowed):
        volumes.set_expected_starts(nacro_manager, ttg_service, service_code="", month="2027-04", starts=1)
    details = [
        e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("contract.expected%")))
    ]
    assert [(d["before"], d["after"]) for d in details] == [(None, 12), (12, 9)]


def test_the_volumes_page_form_names_the_field_in_the_error_summary_and_changes_a_figure_from_the_table(
    ttg_service, contract_manager, portal
):
    portal.sign_in(contract_manager)
    url = f"/contracts/{ttg_service.reference}/volumes/starts"
    assert "Set expected starts for a month" in text_of(portal.get(f"/contracts/{ttg_service.reference}/volumes"))
    bad = portal.post(url, {"version": "0", "service_code": "ACC-TTG", "month": "April", "expected_starts": "-1"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "There is a problem" in html
    assert 'href="#month"' in html and 'href="#expected_starts"' in html
    saved = portal.post(url, {"version": "0", "service_code": "ACC-TTG", "month": "2027-04", "expected_starts": "7"})
    assert saved.status_code == 302
    page = portal.get(f"/contracts/{ttg_service.reference}/volumes").get_data(as_text=True)
    assert "volumes/starts?service=ACC-TTG&amp;month=2027-04" in page
    form = portal.get(f"{url}?service=ACC-TTG&month=2027-04").get_data(as_text=True)
    assert 'value="7"' in form and 'name="version" type="hidden" value="1"' in form
    # Two people change the figure from pages read at the same version: the second is told.
    portal.post(url, {"version": "1", "service_code": "ACC-TTG", "month": "2027-04", "expected_starts": "8"})
    stale = portal.post(url, {"version": "1", "service_code": "ACC-TTG", "month": "2027-04", "expected_starts": "9"})
    assert stale.status_code == 200 and "changed by someone else" in text_of(stale)
    assert volumes.expected_starts_of(ttg_service)[0].starts == 8


def test_a_service_whose_starts_fall_below_80_percent_of_plan_is_flagged_where_the_contract_manager_looks(
    ttg_service, contract_manager, referrer, portal
):
    # Five starts a month expected since April: about 41 by 7 December. Three have started.
    volumes.import_expected_starts(contract_manager, ttg_service, starts_csv(5))
    for n in range(3):
        ReferralFactory(
            contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True, reference=f"BP{n:04d}AA"
        )
    (row,) = below_plan(ttg_service)
    assert (row.service_code, row.started, row.expected) == ("ACC-TTG", 3, 41)
    portal.sign_in(contract_manager)
    contract_page = text_of(portal.get(f"/contracts/{ttg_service.reference}"))
    assert (
        "1 service is below plan" in contract_page and "ACC-TTG: 3 started of 41 expected to date (7%)" in contract_page
    )
    assert "ACC-TTG: 3 started of 41 expected" in text_of(portal.get(f"/contracts/{ttg_service.reference}/volumes"))
    home = text_of(portal.get("/"))
    assert "1 service with starts below 80% of plan to date" in home
    assert "BENCH-ACC-01, ACC-TTG: 3 started of 41 expected to date" in home
    # The home remembers the figures (portal.figure_cache) until a record they count changes: a
    # fourth start shows at once.
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True)
    assert "BENCH-ACC-01, ACC-TTG: 4 started of 41 expected to date" in text_of(portal.get("/"))


def test_a_service_on_plan_is_not_flagged_and_a_contract_without_a_plan_never_is(
    ttg_service, contract_manager, referrer
):
    assert below_plan(ttg_service) == []
    # One start expected a month from December: none expected by the 7th that rounds to a whole start.
    volumes.set_expected_starts(contract_manager, ttg_service, service_code="ACC-TTG", month="2026-12", starts=1)
    assert below_plan(ttg_service) == []
    volumes.set_expected_starts(contract_manager, ttg_service, service_code="ACC-TTG", month="2026-11", starts=1)
    assert [row.expected for row in below_plan(ttg_service)] == [1]
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True)
    assert below_plan(ttg_service) == []


def test_a_figure_read_before_a_csv_import_is_stale_after_it(ttg_service, contract_manager):
    read = volumes.set_expected_starts(
        contract_manager, ttg_service, service_code="ACC-TTG", month="2026-05", starts=2
    ).version
    volumes.import_expected_starts(contract_manager, ttg_service, starts_csv(5))
    (imported,) = [r for r in volumes.expected_starts_of(ttg_service) if r.month == date(2026, 5, 1)]
    assert imported.version == read + 1
    with pytest.raises(StaleRecord):
        volumes.set_expected_starts(
            contract_manager, ttg_service, service_code="ACC-TTG", month="2026-05", starts=3, version=read
        )


def test_the_contract_manager_sets_a_range_of_months_in_one_submit_naming_the_field_when_wrong(
    ttg_service, contract_manager, nacro_manager, portal
):
    volumes.set_expected_starts(contract_manager, ttg_service, service_code="ACC-TTG", month="2027-05", starts=2)
    rows = volumes.set_expected_starts_for_months(
        contract_manager, ttg_service, service_code="acc-ttg", from_month="2027-04", to_month="2027-09", starts="6"
    )
    assert [(r.month, r.starts) for r in rows] == [(date(2027, month, 1), 6) for month in range(4, 10)]
    changed = [r for r in volumes.expected_starts_of(ttg_service) if r.month == date(2027, 5, 1)]
    assert changed[0].starts == 6 and changed[0].version == 2  # changed in place: a page read before is stale
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "contract.expected_starts_set_for_months")
    ).all()
    assert event.actor_id == contract_manager.id
    assert event.details["replaced"] == {"2027-05": 2}
    assert (event.details["from_month"], event.details["to_month"], event.details["months"]) == (
        "2027-04",
        "2027-09",
        6,
    )
    with pytest.raises(ValidationFailed) as backwards:
        volumes.set_expected_starts_for_months(
            contract_manager, ttg_service, service_code="ACC-TTG", from_month="2027-09", to_month="2027-04", starts=1
        )
    assert set(backwards.value.errors) == {"to_month"}
    with pytest.raises(ValidationFailed) as wrong:
        volumes.set_expected_starts_for_months(
            contract_manager, ttg_service, service_code="NOPE", from_month="April", to_month="2031-01", starts=""
        )
    assert set(wrong.value.errors) == {"service_code", "from_month", "to_month", "expected_starts"}
    with pytest.raises(NotAllowed):
        volumes.set_expected_starts_for_months(
            nacro_manager, ttg_service, service_code="", from_month="2027-04", to_month="2027-05", starts=1
        )

    db.session.rollback()  # as the page does on a refusal (it had locked the contract)

    # On the page: the error summary names the field; a good range is saved in one submit.
    portal.sign_in(contract_manager)
    url = f"/contracts/{ttg_service.reference}/volumes/starts/months"
    assert url in portal.get(f"/contracts/{ttg_service.reference}/volumes").get_data(as_text=True)
    bad = portal.post(
        url, {"service_code": "ACC-TTG", "from_month": "2027-10", "to_month": "2027-01", "expected_starts": "4"}
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "There is a problem" in html and 'href="#to_month"' in html
    saved = portal.post(
        url, {"service_code": "", "from_month": "2027-10", "to_month": "2027-12", "expected_starts": "4"}
    )
    assert saved.status_code == 302
    whole = [(r.month, r.starts) for r in volumes.expected_starts_of(ttg_service) if r.service_code == ""]
    assert whole == [(date(2027, 10, 1), 4), (date(2027, 11, 1), 4), (date(2027, 12, 1), 4)]


def test_no_one_but_the_crcs_contract_managers_reaches_the_expected_starts_pages_and_a_refusal_writes_nothing(
    app, ttg_service, st_giles_contract, contract_manager, nacro_manager, nacro_caseworker, st_giles_manager, referrer
):
    """A contract someone may not see is answered as one that does not exist (404): another
    partner's, or another CRC's. A contract they may see but not manage (a partner's own, seen by
    its manager or caseworker; the CRC's, seen by its referrer) is refused (403). Both pages, on GET
    and on POST, and nothing is written either way."""
    elsewhere = ContractFactory(crc=CrcFactory(name="Other CRC"), partner=st_giles_contract.partner)
    elsewhere_reference = elsewhere.reference
    ask = {
        (st_giles_manager, ttg_service.reference): 404,  # another partner's contract with our CRC
        (nacro_manager, st_giles_contract.reference): 404,  # likewise, the other way
        (nacro_manager, elsewhere_reference): 404,  # another CRC's contract with another partner
        (contract_manager, elsewhere_reference): 404,  # the CRC's manager and another CRC's contract
        (nacro_manager, ttg_service.reference): 403,  # their own contract: the CRC sets its expected starts
        (nacro_caseworker, ttg_service.reference): 403,
        (referrer, ttg_service.reference): 403,  # the CRC's, but only its contract managers manage it
    }
    one_month = {"version": "0", "service_code": "", "month": "2027-04", "expected_starts": "5"}
    months = {"service_code": "", "from_month": "2027-04", "to_month": "2027-06", "expected_starts": "5"}
    for (user, reference), status in ask.items():
        visitor = Portal(app.test_client())
        visitor.sign_in(user)
        visitor.get("/")  # a page of their own, for a CSRF token: a refusal is not a CSRF failure
        for path, data in (("volumes/starts", one_month), ("volumes/starts/months", months)):
            url = f"/contracts/{reference}/{path}"
            assert visitor.get(url).status_code == status, (user.email, "GET", url)
            assert visitor.post(url, data).status_code == status, (user.email, "POST", url)

    assert db.session.scalars(select(ExpectedStarts)).all() == []
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("contract.expected%"))).all() == []
    # The same posts from the CRC's contract manager are saved: what was refused was the person.
    portal = Portal(app.test_client())
    portal.sign_in(contract_manager)
    portal.get("/")
    for path, data in (("volumes/starts", one_month), ("volumes/starts/months", months)):
        assert portal.post(f"/contracts/{ttg_service.reference}/{path}", data).status_code == 302
    assert len(volumes.expected_starts_of(ttg_service)) == 3
