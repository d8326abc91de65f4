"""A worked example: a quarter of Nacro's work (July to September 2026) and a little either side,
with every figure of the return counted by hand in EXPECTED_Q3."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from portal.delivery.models import (
    Attendance,
    EndOfServiceReport,
    NonAttendanceReason,
)
from portal.extensions import db
from portal.people.models import Disability, Gender
from portal.referrals.models import DeclineReason, LocationType, ReferralStatus, WithdrawReason
from tests.factories import (
    InvoiceFactory,
    OutcomeFactory,
    OutcomeTypeFactory,
    PersonFactory,
    ReferralFactory,
    SessionFactory,
)


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


# What the return for 2026-Q3 must show, counted by hand from the records below.
EXPECTED_Q3 = {
    "received": 4,
    "accepted": 2,
    "declined": 1,
    "withdrawn": 1,
    "answered_within_sla": "66.7%",  # A on time, B late, C on time; D withdrawn before it was due
    "first_contact_within_sla": "50.0%",  # A on time, B late
    "median_days_to_accept": "2.5",  # A 1 working day, B 4
    "median_days_to_first_contact": "5.0",  # A 3, B 7
    "caseload_start": 1,  # E
    "caseload_end": 2,  # A and B (E completed)
    "starts": 2,
    "completions": 1,
    "early_endings": 0,
    "scheduled": 7,
    "held": 6,
    "attended": 3,
    "late": 1,
    "missed_acceptable": 1,
    "missed_unacceptable": 1,
    "did_not_happen": 1,
    "attendance_rate": "66.7%",  # 4 of 6
    "hours_delivered": "4.0",  # 60 + 90 + 60 + 30 minutes
    "rar_days_delivered": 2,
    "rar_days_against_ordered": "50.0%",  # E ended: 1 of 2 ordered
    "claimed": 2,
    "verified": 1,
    "rejected": 1,
    "desired_outcomes_assessed": 2,
    "achievement_score": "75.0%",  # achieved 1 + partially 0.5, of 2
    "custody": 3,  # A, C, D
    "community": 1,  # B
    "invoiced_pence": "£1,000.00",
    "approved_pence": "£1,000.00",
    "paid_pence": "£1,000.00",
}


@pytest.fixture
def quarter(ttg_service, referrer, nacro_caseworker):
    """Nacro's referrals A to E, their sessions, outcomes, an end-of-service report and an invoice."""
    contract = ttg_service
    housed = OutcomeTypeFactory(contract=contract, code="housed_on_release", name="Housed on release")

    def referral(reference, **fields):
        defaults = dict(
            reference=reference,
            contract=contract,
            service_code="ACC-TTG",
            referrer=referrer,
            location_type=LocationType.CUSTODY,
            prison="HMP Bedford",
            community_office=None,
            caseworker=nacro_caseworker,
        )
        defaults.update(fields)
        return ReferralFactory(**defaults)

    a = referral(
        "QA0001AA",
        status=ReferralStatus.IN_PROGRESS,
        sent_at=at(date(2026, 7, 6)),
        accept_due_on=date(2026, 7, 8),
        accepted_at=at(date(2026, 7, 7)),
        first_contact_due_on=date(2026, 7, 14),
        first_contact_at=at(date(2026, 7, 10), 10),
        rar_days=5,
        person=PersonFactory(gender=Gender.FEMALE, ethnicity="white_british", date_of_birth=date(1990, 1, 1)),
    )
    b = referral(
        "QB0002BB",
        status=ReferralStatus.IN_PROGRESS,
        sent_at=at(date(2026, 7, 13)),
        accept_due_on=date(2026, 7, 15),
        accepted_at=at(date(2026, 7, 17)),
        first_contact_due_on=date(2026, 7, 24),
        first_contact_at=at(date(2026, 7, 28), 10),
        location_type=LocationType.COMMUNITY,
        prison=None,
        community_office="Bedford probation office",
        person=PersonFactory(
            gender=Gender.MALE, ethnicity="black_african", disability=Disability.YES, date_of_birth=date(2000, 8, 1)
        ),
    )
    c = referral(
        "QC0003CC",
        status=ReferralStatus.DECLINED,
        sent_at=at(date(2026, 8, 3)),
        accept_due_on=date(2026, 8, 5),
        declined_at=at(date(2026, 8, 4)),
        decline_reason=DeclineReason.NO_CAPACITY,
    )
    d = referral(
        "QD0004DD",
        status=ReferralStatus.WITHDRAWN,
        sent_at=at(date(2026, 9, 1)),
        accept_due_on=date(2026, 9, 3),
        withdrawn_at=at(date(2026, 9, 2)),
        withdraw_reason=WithdrawReason.MOVED_OUT_OF_AREA,
    )
    e = referral(
        "QE0005EE",
        status=ReferralStatus.COMPLETED,
        sent_at=at(date(2026, 5, 5)),
        accept_due_on=date(2026, 5, 7),
        accepted_at=at(date(2026, 5, 6)),
        first_contact_due_on=date(2026, 5, 13),
        first_contact_at=at(date(2026, 5, 8), 10),
        completed_at=at(date(2026, 8, 20)),
        rar_days=2,
    )

    def session(referral, day, attendance, minutes=60, rar=False, reason=None):
        return SessionFactory(
            referral=referral,
            date=day,
            duration_minutes=minutes,
            attendance=attendance,
            non_attendance_reason=reason,
            counts_as_rar_day=rar,
            recorded_by=nacro_caseworker,
        )

    session(a, date(2026, 7, 10), Attendance.ATTENDED, 60, rar=True)
    session(a, date(2026, 7, 17), Attendance.LATE, 90, rar=True)
    session(a, date(2026, 7, 24), Attendance.DID_NOT_ATTEND, reason=NonAttendanceReason.UNACCEPTABLE)
    session(a, date(2026, 8, 7), Attendance.DID_NOT_ATTEND, reason=NonAttendanceReason.ACCEPTABLE)
    session(b, date(2026, 7, 28), Attendance.ATTENDED, 60)
    session(b, date(2026, 8, 4), Attendance.SESSION_DID_NOT_HAPPEN)
    session(e, date(2026, 5, 8), Attendance.ATTENDED, 60, rar=True)
    session(e, date(2026, 8, 10), Attendance.ATTENDED, 30)
    OutcomeFactory(
        referral=a,
        outcome_type=housed,
        achieved_on=date(2026, 7, 31),
        evidence="Tenancy seen",
        claimed_by=nacro_caseworker,
        claimed_at=at(date(2026, 8, 1)),
        verified=True,
        verified_at=at(date(2026, 8, 5)),
    )
    OutcomeFactory(
        referral=b,
        outcome_type=housed,
        achieved_on=date(2026, 9, 9),
        evidence="Letter",
        claimed_by=nacro_caseworker,
        claimed_at=at(date(2026, 9, 10)),
        rejected=True,
        rejected_at=at(date(2026, 9, 12)),
        rejection_reason="Not evidenced",
    )
    # Paid: £1,000.00 before VAT, submitted in August and paid on 1 September.
    InvoiceFactory(
        contract=contract,
        number="NACRO-000001",
        period_start=date(2026, 7, 1),
        paid=True,
        submitted_at=at(date(2026, 8, 3)),
        approved_at=at(date(2026, 8, 10)),
        paid_on=date(2026, 9, 1),
        lines__price__unit_price_pence=100_000,
    )
    db.session.add_all(
        [
            EndOfServiceReport(
                referral_id=e.id,
                summary="Housed.",
                submitted_by_id=nacro_caseworker.id,
                submitted_at=at(date(2026, 8, 20)),
                outcomes=[
                    {"desired_outcome": "Housing", "achievement": "achieved"},
                    {"desired_outcome": "Bank account", "achievement": "partially_achieved"},
                ],
            ),
        ]
    )
    db.session.commit()
    return {"contract": contract, "a": a, "b": b, "c": c, "d": d, "e": e, "housed": housed}
