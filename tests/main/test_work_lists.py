"""Work comes to each person: every role's home page is its work list, most urgent first, each item
a count and a link to where the work is done; another role's items never show."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from portal.accounts.models import Role
from portal.dates import PeriodKind, add_months, london_today, month_end
from portal.db import utcnow
from portal.delivery.models import OutcomeStatus
from portal.extensions import db
from portal.main.work import items_for
from portal.main.work_items import last_ended_quarter
from tests.factories import (
    AlertFactory,
    InvoiceFactory,
    OutcomeFactory,
    ReferralFactory,
    ServiceReturnFactory,
    SessionFactory,
    UserFactory,
)
from tests.helpers import QueryCounter, days_from_today, text_of

ITEM = re.compile(r'data-item="([a-z_]+)"')


def items_on(page) -> list[str]:
    return ITEM.findall(page.get_data(as_text=True))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (
            "nacro_caseworker",
            {"my_cases", "sessions_today", "sessions_this_week", "sessions_awaiting_feedback", "claims_rejected"},
        ),
        (
            "nacro_manager",
            {"referrals_new", "referrals_overdue", "referrals_unassigned", "invoices_queried", "returns_due"},
        ),
        ("referrer", {"outcomes_to_verify", "alerts_to_acknowledge", "referrals_declined"}),
        (
            "contract_manager",
            {
                "invoices_to_decide",
                "invoices_overdue",
                "returns_to_review",
                "contracts_near_cap",
                "bank_changes_to_confirm",
            },
        ),
        ("admin", {"invitations_pending", "accounts_locked"}),
    ],
)
def test_each_role_sees_its_own_work_and_no_other_roles(portal, request, who, expected):
    user = request.getfixturevalue(who)
    portal.sign_in(user)
    shown = set(items_on(portal.get("/")))
    assert expected <= shown
    assert shown == {item.key for item in items_for(user.role)}
    others = {item.key for role in Role if role != user.role for item in items_for(role)} - shown
    assert not shown & others


def test_a_caseworkers_home_counts_their_cases_sessions_and_rejected_claims(
    portal, ttg_service, nacro_caseworker, referrer
):
    mine = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, caseworker=nacro_caseworker)
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True)  # someone else's case
    SessionFactory(referral=mine, recorded_by=nacro_caseworker, date=days_from_today(-1), attendance=None)
    SessionFactory(referral=mine, recorded_by=nacro_caseworker, date=days_from_today(0))
    OutcomeFactory(referral=mine, claimed_by=nacro_caseworker, rejected=True)
    portal.sign_in(nacro_caseworker)
    home = text_of(portal.get("/"))
    assert "1 session waiting for attendance to be recorded" in home
    assert "1 outcome claim rejected by the CRC, to claim again or withdraw" in home
    assert "1 session today" in home
    assert "1 open case assigned to you" in home
    html = portal.get("/").get_data(as_text=True)
    # The rejected claim and the missing attendance need attention: they come first.
    assert html.index('data-item="sessions_awaiting_feedback"') < html.index('data-item="my_cases"')
    assert 'href="/outcomes/?status=rejected&amp;mine=yes"' in html


def test_the_home_page_asks_the_same_number_of_queries_however_much_work_is_waiting(
    app, portal, ttg_service, nacro_caseworker
):
    # From their first case: with none, the counts over their cases are not asked at all.
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, caseworker=nacro_caseworker)
    portal.sign_in(nacro_caseworker)
    with QueryCounter(app) as few:
        portal.get("/")
    for _ in range(6):
        case = ReferralFactory(
            contract=ttg_service, service_code="ACC-TTG", in_progress=True, caseworker=nacro_caseworker
        )
        SessionFactory(referral=case, recorded_by=nacro_caseworker, date=days_from_today(-2), attendance=None)
        OutcomeFactory(referral=case, claimed_by=nacro_caseworker, rejected=True)
    with QueryCounter(app) as many:
        portal.get("/")
    assert many.count == few.count


def test_a_partner_managers_home_asks_the_same_number_of_queries_however_many_records_there_are(
    app, portal, nacro, nacro_contract, ttg_service, nacro_manager
):
    def add_a_month_of_work(months_ago: int) -> None:
        caseworker = UserFactory(organisation=nacro, role=Role.PROVIDER_CASEWORKER)
        ReferralFactory(contract=ttg_service, service_code="ACC-TTG")
        ReferralFactory(contract=ttg_service, service_code="ACC-TTG", accept_due_on=days_from_today(-3))
        ReferralFactory(contract=ttg_service, service_code="ACC-TTG", accepted=True)
        case = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, caseworker=caseworker)
        SessionFactory(referral=case, recorded_by=caseworker, date=days_from_today(-2), attendance=None)
        OutcomeFactory(referral=case, claimed_by=caseworker, rejected=True)
        InvoiceFactory(contract=nacro_contract, queried=True)
        InvoiceFactory(contract=nacro_contract, overdue=True)
        month = add_months(london_today().replace(day=1), -1 - 2 * months_ago)
        ServiceReturnFactory(contract=nacro_contract, period_start=month, period_end=month_end(month))
        month = add_months(month, -1)
        ServiceReturnFactory(contract=nacro_contract, period_start=month, period_end=month_end(month), returned=True)

    add_a_month_of_work(0)
    portal.sign_in(nacro_manager)
    with QueryCounter(app) as few:
        portal.get("/")
    for months_ago in range(1, 6):
        add_a_month_of_work(months_ago)
    with QueryCounter(app) as many:
        home = text_of(portal.get("/"))
    assert many.count == few.count
    assert "6 referrals overdue for an answer or first contact" in home
    assert "12 new referrals waiting for your answer" in home
    assert "6 open referrals with no caseworker" in home
    assert "12 open cases across your caseworkers" in home
    assert "6 invoices queried by the CRC, to answer" in home
    assert "6 invoices unpaid past the due date" in home
    assert "6 service returns returned by the CRC for changes" in home
    assert "6 service returns in draft, to finish and submit" in home


def test_a_partner_managers_home_shows_each_caseworkers_load(portal, ttg_service, nacro_manager, nacro_caseworker):
    for _ in range(3):
        ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, caseworker=nacro_caseworker)
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", accepted=True)
    portal.sign_in(nacro_manager)
    home = portal.get("/").get_data(as_text=True)
    assert "4 open cases" in text_of(portal.get("/"))
    assert f"{nacro_caseworker.name}</a>: 3" in home
    assert f"/referrals/?tab=open&amp;caseworker_id={nacro_caseworker.id}" in home
    assert "1 open referral with no caseworker" in text_of(portal.get("/"))


def test_a_referrer_verifies_outcomes_from_a_queue_oldest_first(portal, ttg_service, referrer, nacro_caseworker):
    older = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, referrer=referrer)
    newer = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, referrer=referrer)
    OutcomeFactory(referral=newer, claimed_by=nacro_caseworker, claimed_at=utcnow() - timedelta(days=1))
    OutcomeFactory(referral=older, claimed_by=nacro_caseworker, claimed_at=utcnow() - timedelta(days=9))
    OutcomeFactory(referral=older, claimed_by=nacro_caseworker, verified=True)
    portal.sign_in(referrer)
    assert "2 outcome claims to verify or reject" in text_of(portal.get("/"))
    queue = portal.get("/outcomes/").get_data(as_text=True)
    assert queue.index(older.reference) < queue.index(newer.reference)
    assert f'href="/referrals/{older.reference}/outcomes"' in queue
    exported = list(csv.DictReader(io.StringIO(portal.get("/outcomes/export.csv").get_data(as_text=True))))
    assert [row["referral"] for row in exported] == [older.reference, newer.reference]
    assert {row["status"] for row in exported} == {OutcomeStatus.CLAIMED.value}
    everything = portal.get("/outcomes/export.csv?status=&mine=no").get_data(as_text=True)
    assert everything.count(older.reference) == 2


def test_a_partner_never_sees_another_partners_claims_or_alerts_in_the_queues(
    portal, ttg_service, st_giles_contract, st_giles_caseworker, nacro_caseworker
):
    theirs = ReferralFactory(contract=st_giles_contract, in_progress=True)
    OutcomeFactory(referral=theirs, claimed_by=st_giles_caseworker, rejected=True)
    AlertFactory(session=SessionFactory(referral=theirs, recorded_by=st_giles_caseworker))
    portal.sign_in(nacro_caseworker)
    for path in (
        "/outcomes/?status=&mine=no",
        "/outcomes/export.csv?status=&mine=no",
        "/alerts/?status=&mine=no",
        "/alerts/export.csv?status=&mine=no",
    ):
        assert theirs.reference not in portal.get(path).get_data(as_text=True), path


def test_an_administrator_sees_locked_accounts_and_pending_invitations(portal, admin, nacro):
    UserFactory(organisation=nacro, locked_until=utcnow() + timedelta(minutes=10))
    UserFactory(organisation=nacro, password_hash=None)
    portal.sign_in(admin)
    home = text_of(portal.get("/"))
    assert "1 account locked after wrong passwords" in home
    assert "1 invitation not yet accepted" in home


def test_a_partner_manager_is_told_which_contracts_have_no_return_for_the_last_quarter(
    portal, nacro_contract, nacro_manager
):
    quarter = last_ended_quarter(london_today())
    portal.sign_in(nacro_manager)
    assert "1 service return due for the last quarter and not yet started" in text_of(portal.get("/"))
    assert 'href="/service-returns/new"' in portal.get("/").get_data(as_text=True)
    # Monthly returns cover the quarter once its last month has one.
    ServiceReturnFactory(contract=nacro_contract, period_start=quarter.end.replace(day=1), period_end=quarter.end)
    assert "No service returns due for the last quarter and not yet started" in text_of(portal.get("/"))


def test_a_quarterly_return_covers_the_quarter(portal, nacro_contract, nacro_manager):
    quarter = last_ended_quarter(london_today())
    ServiceReturnFactory(
        contract=nacro_contract, period_kind=PeriodKind.QUARTER, period_start=quarter.start, period_end=quarter.end
    )
    portal.sign_in(nacro_manager)
    assert "No service returns due for the last quarter and not yet started" in text_of(portal.get("/"))


def test_a_contract_managers_home_names_the_contracts_near_their_cap_and_the_quiet_ones(
    portal, contract_manager, nacro_contract, st_giles_contract
):
    ReferralFactory(contract=st_giles_contract)
    invoice = InvoiceFactory(contract=st_giles_contract, submitted=True)
    invoice.subtotal_pence = 23_000_000  # 92% of its £250,000 cap
    db.session.commit()
    portal.sign_in(contract_manager)
    home = text_of(portal.get("/"))
    assert "1 contract with 90% or more of the value cap spent" in home
    assert "BENCH-ETE-02: £230,000.00 of its £250,000.00 cap" in home
    assert "1 active contract with no referral in the last 30 days" in home
    assert "BENCH-ACC-01: Through the Gate accommodation" in home
    assert "BENCH-ETE-02: Release planning" not in home
