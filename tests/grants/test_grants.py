"""A grant paid by a schedule of instalments: the contract manager sets the schedule, the partner's
manager raises each released instalment as a numbered grant payment, the CRC approves, queries,
rejects and pays it; no rate-card invoice; grant-funded activity without a referral counted in the
return; another partner sees none of it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts.models import ContractTier
from portal.csv_files import FileRejected
from portal.dates import PeriodKind, parse_period
from portal.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.grants import activity, service
from portal.grants.models import GrantInstalment, GrantPaymentStatus
from portal.invoicing import service as invoicing
from portal.returns.kpis import figure
from portal.returns.models import ReturnStatus
from portal.returns.records import figures_for
from tests.factories import ContractFactory, InvoiceFactory, ServiceReturnFactory
from tests.helpers import STORY_DAY, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # 7 December 2026; the grant runs from 1 April 2026


@pytest.fixture
def grant(crc, nacro):
    return ContractFactory(
        reference="BENCH-WOM-04",
        title="Women's services",
        crc=crc,
        partner=nacro,
        tier=ContractTier.GRANT,
        value_cap_pence=100_000_00,
        payment_terms_days=14,
    )


def fields(start, end, due, pounds, timing="advance", needs_return=False):
    return service.InstalmentFields(start, end, due, pounds * 100, timing, needs_return)


def quarter(grant_, contract_manager, start, end, due, timing="advance", needs_return=False, pounds=20_000):
    return service.add_instalment(contract_manager, grant_, fields(start, end, due, pounds, timing, needs_return))


def actions():
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_grant_is_paid_instalment_by_instalment_through_submit_approve_and_pay(
    grant, contract_manager, nacro_manager
):
    q3 = quarter(grant, contract_manager, date(2026, 10, 1), date(2026, 12, 31), date(2026, 10, 1))
    raised = service.submit_payment(nacro_manager, q3, version=q3.version)
    assert raised.status == GrantPaymentStatus.SUBMITTED and raised.number.endswith("-000001")
    # Raised late (the grant was due on 1 October): due within the contract's terms of raising it.
    assert raised.payment_due_on == date(2026, 12, 21)
    service.approve_payment(contract_manager, raised)
    with pytest.raises(ValidationFailed) as missing:
        service.mark_paid(contract_manager, raised, paid_on=date(2026, 12, 7), payment_reference=" ")
    assert "payment_reference" in missing.value.errors
    service.mark_paid(contract_manager, raised, paid_on=date(2026, 12, 7), payment_reference="BACS 4471")
    assert raised.status == GrantPaymentStatus.PAID and service.paid_to_date_pence(grant) == 20_000_00
    assert actions() == [
        "grant.instalment_added",
        "grant_payment.submitted",
        "grant_payment.approved",
        "grant_payment.paid",
    ]


def test_the_next_instalment_takes_the_next_number_in_the_partners_sequence(grant, contract_manager, nacro_manager):
    first = quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    second = quarter(grant, contract_manager, date(2026, 7, 1), date(2026, 9, 30), date(2026, 7, 1))
    a = service.submit_payment(nacro_manager, first)
    b = service.submit_payment(nacro_manager, second)
    assert int(b.number[-6:]) == int(a.number[-6:]) + 1


def test_a_queried_grant_payment_is_resubmitted_under_its_number_and_a_rejected_one_ends(
    grant, contract_manager, nacro_manager
):
    q1 = service.submit_payment(
        nacro_manager, quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    )
    number = q1.number
    with pytest.raises(ValidationFailed):
        service.query_payment(contract_manager, q1, reason="")
    service.query_payment(contract_manager, q1, reason="Which bank account?")
    service.submit_payment(nacro_manager, q1)
    assert q1.status == GrantPaymentStatus.SUBMITTED and q1.number == number
    service.reject_payment(contract_manager, q1, reason="Paid by another route")
    with pytest.raises(InvalidTransition):
        service.approve_payment(contract_manager, q1)


def test_an_instalment_is_raised_only_once_released(grant, contract_manager, nacro_manager, nacro):
    ahead = quarter(grant, contract_manager, date(2027, 4, 1), date(2027, 6, 30), date(2027, 4, 1))
    with pytest.raises(InvalidTransition, match="can be raised from 18 March 2027"):
        service.submit_payment(nacro_manager, ahead)
    arrears = quarter(
        grant, contract_manager, date(2026, 7, 1), date(2026, 9, 30), date(2026, 10, 14), "arrears", needs_return=True
    )
    assert service.state_of(grant, arrears, date(2026, 12, 7)) == "awaiting_return"
    with pytest.raises(InvalidTransition, match="service returns for its period have been accepted"):
        service.submit_payment(nacro_manager, arrears)
    ServiceReturnFactory(
        contract=grant,
        period_kind=PeriodKind.QUARTER,
        period_start=date(2026, 7, 1),
        period_end=date(2026, 9, 30),
        status=ReturnStatus.ACCEPTED,
    )
    assert service.submit_payment(nacro_manager, arrears).status == GrantPaymentStatus.SUBMITTED


def test_the_schedule_keeps_to_the_grant_its_dates_and_its_cap(grant, contract_manager, nacro_contract):
    quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    with pytest.raises(ValidationFailed) as overlap:
        service.add_instalment(
            contract_manager, grant, fields(date(2026, 6, 1), date(2026, 8, 31), date(2026, 6, 1), 100)
        )
    assert "overlaps" in overlap.value.errors["period_start"][0]
    with pytest.raises(ValidationFailed) as advance:
        service.add_instalment(
            contract_manager, grant, fields(date(2026, 7, 1), date(2026, 9, 30), date(2026, 7, 15), 100)
        )
    assert advance.value.errors["due_on"] == [
        "An instalment paid in advance is due on or before the first day of its period"
    ]
    with pytest.raises(ValidationFailed) as cap:
        service.add_instalment(
            contract_manager, grant, fields(date(2026, 7, 1), date(2026, 9, 30), date(2026, 7, 1), 90_000)
        )
    assert "value cap" in cap.value.errors["amount"][0]
    with pytest.raises(ValidationFailed) as not_grant:
        service.add_instalment(
            contract_manager, nacro_contract, fields(date(2026, 7, 1), date(2026, 9, 30), date(2026, 7, 1), 10)
        )
    assert "grant" in not_grant.value.errors["contract"][0]


def test_a_grant_with_a_schedule_is_never_invoiced_from_a_rate_card(grant, contract_manager, nacro_manager):
    quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    with pytest.raises(ValidationFailed) as refused:
        invoicing.generate_draft(nacro_manager, grant, "2026-11")
    assert "schedule of instalments" in refused.value.errors["contract"][0]


def test_the_schedule_imports_from_csv_all_or_nothing_naming_row_and_column(grant, contract_manager):
    good = (
        "period_start,period_end,due_on,amount,timing,needs_accepted_return\n"
        "2026-04-01,2026-06-30,2026-04-01,25000.00,advance,no\n"
        "2026-07-01,2026-09-30,2026-10-14,25000.00,arrears,yes\n"
    )
    assert len(service.import_schedule(contract_manager, grant, good.encode())) == 2
    bad = good.replace("2026-10-14", "2026-09-01") + "2026-13-01,2026-12-31,2026-10-01,1,advance,no\n"
    with pytest.raises(FileRejected) as rejected:
        service.import_schedule(contract_manager, grant, bad.encode())
    problems = {(e.row, e.column) for e in rejected.value.errors}
    assert (3, "due_on") in problems and (4, "period_start") in problems
    assert len(service.schedule_of(grant)) == 2  # nothing changed


def test_only_the_right_people_act_and_another_partner_sees_nothing(
    grant, contract_manager, nacro_manager, nacro_caseworker, st_giles_manager
):
    q1 = quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    with pytest.raises(NotAllowed):
        service.submit_payment(nacro_caseworker, q1)
    with pytest.raises(NotFound):
        service.submit_payment(st_giles_manager, q1)
    with pytest.raises(NotAllowed):
        service.add_instalment(nacro_manager, grant, fields(date(2026, 7, 1), date(2026, 9, 30), date(2026, 7, 1), 10))
    service.submit_payment(nacro_manager, q1)
    with pytest.raises(NotAllowed):
        service.approve_payment(nacro_manager, q1)


def test_pages_walk_the_schedule_and_the_payment_and_another_partner_gets_404(
    grant, contract_manager, nacro_manager, st_giles_manager, portal, other_portal
):
    q1 = quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    portal.sign_in(nacro_manager)
    page = portal.get(f"/grants/{grant.reference}")
    assert page.status_code == 200
    assert "Ready to raise" in text_of(page) and "1 April 2026 to 30 June 2026" in text_of(page)
    raised = portal.post(f"/grants/payments/{q1.id}/submit", {"version": q1.version})
    assert raised.status_code == 302
    shown = text_of(portal.get(f"/grants/payments/{q1.id}"))
    assert "Grant payment" in shown and "Submitted" in shown
    pdf = portal.get(f"/grants/payments/{q1.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    other_portal.sign_in(st_giles_manager)
    for url in (
        f"/grants/{grant.reference}",
        f"/grants/payments/{q1.id}",
        f"/grants/payments/{q1.id}.pdf",
        f"/grants/{grant.reference}/activity",
        f"/contracts/{grant.reference}/volumes",
    ):
        assert other_portal.get(url).status_code == 404, url
    assert other_portal.post(f"/grants/payments/{q1.id}/submit", {"version": 1}).status_code == 404


def test_the_contract_manager_adds_an_instalment_and_errors_name_the_field(grant, contract_manager, portal):
    portal.sign_in(contract_manager)
    url = f"/grants/{grant.reference}/instalments/new"
    portal.get(url)
    wrong = portal.post(url, {"period_start": ["1", "7", "2026"], "period_end": ["30", "9", "2026"], "amount": "x"})
    assert wrong.status_code == 200
    assert 'href="#amount"' in wrong.get_data(as_text=True)
    assert "Select whether the instalment is paid in advance or in arrears" in text_of(wrong)
    done = portal.post(
        url,
        {
            "period_start": ["1", "7", "2026"],
            "period_end": ["30", "9", "2026"],
            "due_on": ["1", "7", "2026"],
            "amount": "12,500.00",
            "timing": "advance",
        },
    )
    assert done.status_code == 302
    assert db.session.scalars(select(GrantInstalment)).one().amount_pence == 12_500_00


def test_grant_funded_activity_without_a_referral_is_counted_in_the_return(
    grant, contract_manager, nacro_manager, nacro_caseworker
):
    activity.record_activity(nacro_caseworker, grant, day=date(2026, 11, 3), kind="drop_in", attendees="9")
    activity.record_activity(
        nacro_caseworker, grant, day=date(2026, 11, 10), kind="group_work", attendees=6, duration_minutes=120
    )
    with pytest.raises(ValidationFailed) as wrong:
        activity.record_activity(nacro_caseworker, grant, day=date(2026, 12, 25), kind="party", attendees="0")
    assert set(wrong.value.errors) == {"day", "kind", "attendees"}
    q2 = quarter(grant, contract_manager, date(2026, 10, 1), date(2026, 12, 31), date(2026, 10, 1))
    service.submit_payment(nacro_manager, q2)
    service.approve_payment(contract_manager, q2)
    service.mark_paid(contract_manager, q2, paid_on=date(2026, 12, 7), payment_reference="BACS 1")
    figures = figures_for(grant, parse_period("2026-12"), today=STORY_DAY)
    assert figures["grant"]["paid_to_period_end_pence"] == 20_000_00
    november = figures_for(grant, parse_period("2026-11"), today=STORY_DAY)
    assert figure(november, "activity_drop_ins") == 1 and figure(november, "activity_groups") == 1
    assert figure(november, "activity_attendances") == 15 and figure(november, "activity_hours") == "3.0"
    assert figure(figures, "grant_paid_pence") == 20_000_00


def test_a_schedule_cannot_follow_rate_card_invoices(grant, contract_manager, nacro_manager):
    InvoiceFactory(contract=grant, submitted=True)
    with pytest.raises(ValidationFailed) as refused:
        quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    assert "already been invoiced" in refused.value.errors["contract"][0]


def test_the_schedule_and_payments_pages_ask_the_same_queries_for_one_instalment_or_eight(
    app, grant, contract_manager, portal
):
    from tests.helpers import QueryCounter

    def add(n):
        start = date(2026 + (3 + 3 * n) // 12, (3 + 3 * n) % 12 + 1, 1)
        end = date(2026 + (6 + 3 * n) // 12, (6 + 3 * n) % 12 + 1, 1) - timedelta(days=1)
        quarter(grant, contract_manager, start, end, end + timedelta(days=14), "arrears", needs_return=True, pounds=1)

    add(0)
    portal.sign_in(contract_manager)
    urls = (f"/grants/{grant.reference}", "/grants/payments?status=scheduled")
    few = []
    for url in urls:
        with QueryCounter(app) as counted:
            assert portal.get(url).status_code == 200
        few.append(counted.count)
    for n in range(1, 8):
        add(n)
    for url, before in zip(urls, few, strict=True):
        with QueryCounter(app) as counted:
            assert portal.get(url).status_code == 200
        assert counted.count == before, url


def test_the_dashboard_counts_a_grants_payments_against_its_cap(grant, contract_manager, nacro_manager, portal):
    q3 = quarter(grant, contract_manager, date(2026, 10, 1), date(2026, 12, 31), date(2026, 10, 1))
    service.submit_payment(nacro_manager, q3)
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/dashboard/?view=contracts&period=2026-Q4"))
    assert "£20,000.00 spent on BENCH-WOM-04" in page
