"""The demo history: a year of work on the demo contracts, made by the services on the days it happened.

Loading it takes most of a minute, so this module loads it once, through `flask demo-data` as
`make run` does, and its tests only read it (they replace the suite's per-test emptying; the
module empties the database when it is done).
"""

import re
from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from portal import integrity
from portal.audit.models import AuditEvent
from portal.contracts.models import Contract
from portal.dates import london_today
from portal.db import utcnow
from portal.delivery import evidence
from portal.delivery.models import (
    Alert,
    Attendance,
    EndOfServiceReport,
    EvidenceFile,
    GroupSession,
    Outcome,
    OutcomeStatus,
    Session,
    SessionKind,
    SessionReschedule,
)
from portal.extensions import db
from portal.formatting import LONDON
from portal.invoicing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
)
from portal.people.models import ETHNICITY_CODES, Person
from portal.referrals.models import CaseNote, DeclineReason, Referral, ReferralStatus, WithdrawReason
from portal.returns.models import ReturnStatus, ServiceReturn
from tests.conftest import _clean_tables


@pytest.fixture(scope="module")
def loaded(observer_app):  # type: ignore[no-untyped-def]
    with observer_app.app_context():
        runner = observer_app.test_cli_runner()
        first = runner.invoke(args=["demo-data"])
        again = runner.invoke(args=["demo-data"])
        counts = {model: db.session.scalar(select(func.count()).select_from(model)) for model in (Referral, Session)}
    yield first, again, counts
    with observer_app.app_context():
        for stored_name in db.session.scalars(select(EvidenceFile.stored_name)).all():
            evidence.path_of(stored_name).unlink(missing_ok=True)
        _clean_tables(observer_app)


@pytest.fixture(autouse=True)
def _database(observer_app, loaded):  # type: ignore[no-untyped-def]
    """Replaces the suite's per-test emptying: every test here reads the same history."""
    with observer_app.app_context():
        yield
        db.session.rollback()


def count_by(column, *where):
    return Counter(dict(db.session.execute(select(column, func.count()).where(*where).group_by(column)).all()))


def test_demo_data_loads_the_history_once_and_prints_the_logins(loaded):
    first, again, counts = loaded
    assert first.exit_code == 0, first.output
    summary = re.search(r"with a year of history: ([\d,]+) referrals, ([\d,]+) sessions", first.output)
    assert summary, first.output
    assert "manager@nacro.example" in first.output
    assert again.exit_code == 0 and "already has data" in again.output
    assert counts[Referral] == int(summary.group(1).replace(",", ""))  # loading again added nothing
    assert 250 <= counts[Referral] <= 350
    assert counts[Session] >= 2000


def test_every_referral_status_decline_and_withdrawal_reason_is_there():
    assert set(count_by(Referral.status)) == set(ReferralStatus)
    assert set(count_by(Referral.decline_reason, Referral.decline_reason.is_not(None))) == set(DeclineReason)
    assert set(count_by(Referral.withdraw_reason, Referral.withdraw_reason.is_not(None))) == set(WithdrawReason)
    sent = db.session.scalars(select(Referral).where(Referral.status == ReferralStatus.SENT)).all()
    assert any(r.accept_overdue for r in sent) and any(not r.accept_overdue for r in sent)
    accepted = db.session.scalars(select(Referral).where(Referral.status == ReferralStatus.ACCEPTED)).all()
    assert any(r.first_contact_overdue for r in accepted)
    completed = count_by(Referral.status)[ReferralStatus.COMPLETED]
    assert db.session.scalar(select(func.count()).select_from(EndOfServiceReport)) == completed
    assert db.session.scalar(select(func.count()).select_from(CaseNote))
    events = count_by(AuditEvent.action)
    assert events["referral.amended"] and events["referral.assigned"] > events["referral.accepted"]


def test_people_look_like_a_real_caseload():
    people = db.session.scalars(select(Person)).all()
    assert all(re.fullmatch(r"X\d{6}", p.crn) for p in people)
    assert len({p.crn for p in people}) == len(people)
    assert all(p.ethnicity in ETHNICITY_CODES for p in people)
    assert len({p.ethnicity for p in people}) >= 8
    assert all(18 <= p.age_on(london_today()) <= 70 for p in people)
    assert any(p.interpreter_language for p in people) and any(p.disability == "yes" for p in people)
    custody = db.session.scalars(select(Referral).where(Referral.prison.is_not(None))).all()
    assert custody and all(r.expected_release_date for r in custody)
    contracts = {c.id: c for c in db.session.scalars(select(Contract)).all()}
    assert all(r.prison in contracts[r.contract_id].prisons for r in custody)
    assert db.session.scalar(select(func.count()).select_from(Referral).where(Referral.rar_days.is_not(None)))
    assert db.session.scalar(select(func.count()).select_from(Referral).where(Referral.colour_band.is_not(None)))
    assert db.session.scalar(select(func.count()).select_from(Referral).where(Referral.urgent.is_(True)))


def test_sessions_of_every_kind_and_attendance_some_ahead_and_some_awaiting_feedback():
    assert set(count_by(Session.attendance, Session.attendance.is_not(None))) == set(Attendance)
    assert {
        SessionKind.ONE_TO_ONE,
        SessionKind.GROUP,
        SessionKind.PHONE,
        SessionKind.VIDEO,
        SessionKind.IN_CUSTODY,
    } <= set(count_by(Session.kind))
    today = london_today()
    unrecorded = Session.attendance.is_(None)
    assert db.session.scalar(select(func.count()).select_from(Session).where(unrecorded, Session.date > today))
    assert db.session.scalar(select(func.count()).select_from(Session).where(unrecorded, Session.date < today))
    delivering = [ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS]
    open_referrals = select(Referral.id).where(Referral.status.in_(delivering))
    # A referral that has ended has no session left booked or waiting for its feedback.
    assert not db.session.scalar(
        select(func.count()).select_from(Session).where(unrecorded, Session.referral_id.not_in(open_referrals))
    )
    assert db.session.scalar(select(func.count()).select_from(Session).where(Session.counts_as_rar_day.is_(True)))
    assert db.session.scalar(select(func.count()).select_from(GroupSession)) >= 20
    assert db.session.scalar(select(func.count()).select_from(SessionReschedule))


def test_alerts_open_and_acknowledged_and_outcomes_in_every_status():
    alerts = db.session.scalars(select(Alert)).all()
    assert any(a.acknowledged_at is None for a in alerts) and any(a.acknowledged_at for a in alerts)
    assert set(count_by(Outcome.status)) == set(OutcomeStatus)
    assert db.session.scalar(select(func.count()).select_from(Outcome).where(Outcome.previous_claim_id.is_not(None)))
    rejected = db.session.scalars(select(Outcome).where(Outcome.status == OutcomeStatus.REJECTED)).all()
    assert all(o.rejection_reason for o in rejected)
    files = db.session.scalars(select(EvidenceFile)).all()
    assert files and all(evidence.path_of(f.stored_name).is_file() for f in files)


def test_every_invoice_status_and_an_approved_credit_note():
    invoices = count_by(Invoice.status, Invoice.kind == InvoiceKind.INVOICE)
    assert set(invoices) == set(InvoiceStatus)
    assert invoices[InvoiceStatus.PAID] > sum(invoices.values()) / 2  # most are paid
    # Early in a month last month's invoices wait for the CRC's decision; later in it only a few do.
    assert 1 <= invoices[InvoiceStatus.SUBMITTED] < sum(invoices.values()) / 2
    assert invoices[InvoiceStatus.QUERIED] == invoices[InvoiceStatus.REJECTED] == 1
    notes = db.session.scalars(select(Invoice).where(Invoice.kind == InvoiceKind.CREDIT_NOTE)).all()
    assert sum(note.status == InvoiceStatus.APPROVED and note.total_pence < 0 for note in notes) >= 3
    assert any(note.rebill for note in notes) and not all(note.rebill for note in notes)
    assert any(i.overdue for i in db.session.scalars(select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE)))
    assert any(line.includes_earlier_work for line in db.session.scalars(select(InvoiceLine)))


def test_the_records_obey_the_rules_that_protect_the_money():
    """The same checks bench/scale.py runs on its national-scale history (portal/integrity.py):
    invoices add up, numbers have no gaps, no event is billed twice, lines count their events,
    amounts follow prices, only real work is billed, and ended referrals have nothing waiting."""
    assert integrity.problems() == {}
    frozen = db.session.scalar(
        select(func.count())
        .select_from(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.status != InvoiceStatus.DRAFT)
    )
    assert frozen  # the checks had submitted invoices to read
    assert db.session.scalar(select(func.count()).select_from(InvoiceSequence))


def test_a_year_of_returns_per_active_contract_in_every_status_each_made_when_its_month_was_over():
    assert set(count_by(ServiceReturn.status)) == set(ReturnStatus)
    assert set(count_by(ServiceReturn.contract_id).values()) == {12}
    for service_return in db.session.scalars(select(ServiceReturn).where(ServiceReturn.submitted_at.is_not(None))):
        submitted_on = service_return.submitted_at.astimezone(LONDON).date()
        assert service_return.period_end < submitted_on <= service_return.period_end + timedelta(days=21)
        assert service_return.kpis
        if service_return.accepted_at:
            assert service_return.submitted_at < service_return.accepted_at


def test_the_history_happened_in_order_over_a_year():
    times = db.session.scalars(select(AuditEvent.occurred_at).order_by(AuditEvent.id)).all()
    assert all(earlier <= later for earlier, later in pairwise(times))
    assert times[0] < utcnow() - timedelta(days=365)
    sent = db.session.scalars(select(Referral.sent_at).where(Referral.sent_at.is_not(None))).all()
    assert max(sent) - min(sent) > timedelta(days=300)
    months = {moment.strftime("%Y-%m") for moment in sent}
    assert len(months) >= 12


def test_no_demo_referral_breaks_its_services_rules(loaded):
    from portal.contracts.eligibility import Candidate, broken_rules
    from portal.contracts.models import Service
    from portal.dates import london_day
    from portal.places.models import ProbationOffice

    services = {(s.contract_id, s.code): s for s in db.session.scalars(select(Service))}
    offices = {o.id: o for o in db.session.scalars(select(ProbationOffice))}
    people = {p.id: p for p in db.session.scalars(select(Person))}
    sent = db.session.scalars(select(Referral).where(Referral.sent_at.is_not(None))).all()
    assert sent
    limited = 0
    for referral in sent:
        service = services[(referral.contract_id, referral.service_code)]
        person = people[referral.person_id]
        office = offices.get(referral.probation_office_id)
        who = Candidate(
            gender=person.gender.value,
            date_of_birth=person.date_of_birth,
            location_type=referral.location_type.value,
            prison_id=referral.prison_id,
            prison_name=referral.prison,
            probation_office_id=referral.probation_office_id,
            probation_office_name=referral.community_office,
            county_id=office.county_id if office else None,
        )
        assert broken_rules(service, who, london_day(referral.sent_at)) == {}, referral.reference
        assert (referral.prison_id is not None) == (referral.location_type.value == "custody")
        limited += bool(service.sex or service.prison_ids or service.probation_office_ids or service.county_ids)
    assert limited > len(sent) // 2  # most demo services have rules, and the demo keeps them


def test_the_demo_services_have_real_names(loaded):
    from portal.contracts.models import Service
    from portal.demo.services import DEMO_SERVICES

    names = dict(db.session.execute(select(Service.code, Service.name)).all())
    assert names["DV-PROG"] == "Bold Moves domestic abuse perpetrator programme"
    assert set(names) <= set(DEMO_SERVICES)
    assert all(names[code] == DEMO_SERVICES[code].name for code in names)
