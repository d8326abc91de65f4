"""One definition per figure: what a record says of itself in Python and what a query counts in SQL
agree, state by state; money shared out adds up to the penny; hours and the end-of-service score
come from one place; a transition is stamped by the state machine alone."""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.dashboards.views import _spend_by_contract
from portal.dates import Window, london_today
from portal.extensions import db
from portal.invoicing.billing import spend_pence
from portal.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from portal.money import share_out
from portal.referrals.models import Referral, ReferralStatus
from portal.returns.kpis import (
    EndOfServiceRow,
    InvoiceRow,
    end_of_service_score,
    hours_of,
    outcome_figures,
    percent_value,
    spend_to,
)
from portal.workflow import PAST_TENSE
from tests.factories import ContractFactory, InvoiceFactory, ReferralFactory


def _selected(model, clause):
    return set(db.session.scalars(select(model.id).where(clause)).all())


def test_a_referral_is_overdue_in_a_query_exactly_when_it_says_so(ttg_service, referrer):
    today = london_today()
    made = []
    for status in (ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS, ReferralStatus.DECLINED):
        for due in (today - timedelta(days=1), today, today + timedelta(days=1), None):
            for contacted in (False, True):
                made.append(
                    ReferralFactory(
                        contract=ttg_service,
                        service_code="ACC-TTG",
                        referrer=referrer,
                        status=status,
                        accept_due_on=due,
                        first_contact_due_on=due,
                        first_contact_at=ttg_service.created_at if contacted else None,
                    )
                )
    for figure in ("accept_overdue", "first_contact_overdue", "overdue"):
        said = {referral.id for referral in made if getattr(referral, figure)}
        assert said == _selected(Referral, getattr(Referral, figure)), figure
    assert len(_selected(Referral, Referral.accept_overdue)) == 2  # sent, due yesterday
    assert len(_selected(Referral, Referral.first_contact_overdue)) == 1  # accepted, no contact, due yesterday


def test_an_invoice_is_overdue_in_a_query_exactly_when_it_says_so_and_a_credit_note_never_is(nacro_contract):
    made = []
    for kind in InvoiceKind:
        for status in InvoiceStatus:
            for due in (london_today() - timedelta(days=1), london_today(), None):
                # A contract has one draft invoice at a time: each draft on a contract of its own.
                draft = kind == InvoiceKind.INVOICE and status == InvoiceStatus.DRAFT
                contract = ContractFactory() if draft else nacro_contract
                made.append(InvoiceFactory(contract=contract, kind=kind, status=status, due_date=due, lines=0))
    said = {invoice.id for invoice in made if invoice.overdue}
    assert said == _selected(Invoice, Invoice.overdue)
    assert {invoice.kind for invoice in made if invoice.overdue} == {InvoiceKind.INVOICE}
    assert len(said) == 2  # submitted and approved, due yesterday: a queried invoice's clock is stopped


def test_spend_against_the_cap_is_counted_one_way_everywhere(nacro_contract):
    """Invoices count once submitted (until rejected), credit notes once approved: the contract's
    spend, the dashboards' grouped spend, each invoice's own share and the service return's figure agree."""
    for kind in InvoiceKind:
        for status in InvoiceStatus:
            InvoiceFactory(contract=nacro_contract, kind=kind, status=status, submitted=status != InvoiceStatus.DRAFT)
    invoices = db.session.scalars(select(Invoice).where(Invoice.contract_id == nacro_contract.id)).all()
    counted = sum(invoice.spend_pence for invoice in invoices)
    # 4 live invoices of 5000, plus 2 approved or paid credit notes of 5000 (the factory's lines are positive)
    assert counted == 6 * 5000
    assert spend_pence(nacro_contract) == counted
    assert _spend_by_contract([nacro_contract.id]) == {nacro_contract.id: counted}
    assert db.session.scalar(select(func.sum(Invoice.spend_pence))) == counted
    rows = [
        InvoiceRow(
            contract_id=invoice.contract_id,
            kind=invoice.kind.value,
            status=invoice.status.value,
            subtotal_pence=invoice.subtotal_pence,
            submitted_on=london_today(),
            approved_on=london_today(),
        )
        for invoice in invoices
    ]
    assert spend_to(rows, london_today()) == counted
    assert spend_to(rows, london_today() - timedelta(days=1)) == 0  # none had begun to count yesterday


def test_the_contract_page_the_dashboard_and_billing_share_one_spend(nacro_contract):
    from portal.contracts.service import spend_to_date

    InvoiceFactory(contract=nacro_contract, approved=True, lines=2)
    assert spend_to_date(nacro_contract) == spend_pence(nacro_contract) == 10000


@given(
    amount=st.integers(min_value=-(10**9), max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12),
)
def test_money_shared_out_adds_up_to_the_penny(amount, weights):
    shares = share_out(amount, dict(enumerate(weights)))
    if sum(weights) == 0:
        assert set(shares.values()) == {0}
        return
    assert sum(shares.values()) == amount
    for key, weight in enumerate(weights):
        exact = Decimal(amount) * weight / sum(weights)
        assert abs(shares[key] - exact) < 1  # never a penny more than its part rounded
        assert weight or not shares[key]  # no weight, no share


def test_shares_of_a_line_go_by_weight_and_ties_to_the_first():
    assert share_out(3240, {"a": 20, "b": 20, "c": 25}) == {"a": 997, "b": 997, "c": 1246}
    assert share_out(-100, {"a": 1, "b": 1, "c": 1}) == {"a": -34, "b": -33, "c": -33}
    assert share_out(5, {"a": 0, "b": 0}) == {"a": 0, "b": 0}


def test_hours_and_the_end_of_service_score_are_defined_once():
    assert [hours_of(minutes) for minutes in (0, 95, 3, 90)] == [
        Decimal("0.0"),
        Decimal("1.6"),
        Decimal("0.1"),
        Decimal("1.5"),
    ]
    assert end_of_service_score(["achieved", "partially_achieved", "not_achieved"]) == Decimal("1.5")
    assert end_of_service_score([]) == 0
    day = london_today()
    reports = [EndOfServiceRow(1, day, ("achieved", "partially_achieved", "not_achieved", "not_achieved"))]
    score = outcome_figures([], reports, Window(day, day))["achievement_score"]
    # The return's score is the reports' scores out of the outcomes they assessed: 1.5 of 4.
    assert percent_value(score) == Decimal("37.5")


def test_a_transition_is_stamped_by_the_state_machine_alone(nacro_contract, contract_manager):
    from portal.invoicing.service import approve_invoice

    invoice = InvoiceFactory(contract=nacro_contract, submitted=True)
    approve_invoice(contract_manager, invoice)
    assert invoice.approved_by_id == contract_manager.id and invoice.approved_at is not None
    # No service writes a transition's stamps itself: StateMachine.apply does, at one moment.
    stamps = "|".join(sorted(set(PAST_TENSE.values())))
    records = "referral|outcome|invoice|contract|service_return"  # those with a state machine
    written = re.compile(rf"\b({records})\.({stamps})_(at|by_id)\s*(,[^=]*)?=[^=]")
    portal = Path(__file__).resolve().parent.parent / "portal"
    offenders = [
        f"{path.relative_to(portal)}:{number}"
        for path in portal.rglob("*.py")
        if path.name != "workflow.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if written.search(line)
    ]
    assert offenders == []
