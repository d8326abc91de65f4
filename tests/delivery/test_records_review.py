"""`flask records review`: what was recorded before issue 15's rules (sessions of one person that
overlap, RAR days recorded in custody) is found and listed by contract for the contract manager to
put right, as CSV too, and the review is audited; nothing is changed."""

import csv
import io
from datetime import time, timedelta

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.db import utcnow
from portal.delivery.models import Attendance, SessionKind
from portal.extensions import db
from portal.formatting import format_date
from portal.referrals.models import LocationType, ReleaseType
from portal.ttg.models import FirstNight, ReleaseRecord
from tests.factories import ReferralFactory, SessionFactory
from tests.helpers import days_from_today


def test_the_review_lists_overlaps_and_rar_days_in_custody_by_contract_and_changes_nothing(
    runner, ttg_service, referrer, tmp_path
):
    day = days_from_today(-10)
    # Recorded before the portal refused them: a group session 00:10-01:10 and a one-to-one 00:30-01:30.
    group = SessionFactory(
        referral__contract=ttg_service,
        referral__service_code="ACC-TTG",
        date=day,
        start_time=time(0, 10),
        kind=SessionKind.GROUP,
    )
    # Held here: a later factory's commit expires `group`, and a session's referral never lazy-loads.
    referral = group.referral
    one_to_one = SessionFactory(referral=referral, date=day, start_time=time(0, 30))
    # Back to back is not an overlap; a session that did not happen blocks nothing.
    SessionFactory(referral=referral, date=day, start_time=time(1, 30))
    SessionFactory(referral=referral, date=day, start_time=time(0, 45), attendance=Attendance.SESSION_DID_NOT_HAPPEN)
    # A RAR day recorded while the person was in custody, and one in the community (fine).
    custody = ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        location_type=LocationType.CUSTODY,
        prison="HMP Bedford",
        community_office=None,
        expected_release_date=days_from_today(40),
    )
    in_custody = SessionFactory(referral=custody, date=day - timedelta(days=3), rar_day=True)
    SessionFactory(referral=referral, date=day - timedelta(days=3), rar_day=True)
    report = tmp_path / "review.csv"

    result = runner.invoke(args=["records", "review", "--csv", str(report)])

    assert result.exit_code == 0, result.output
    assert "BENCH-ACC-01: 2 to put right" in result.output
    assert "overlaps the one-to-one session on" in result.output and f"(session {one_to_one.id})" in result.output
    assert "1 overlapping session pair(s) and 1 RAR day(s) recorded in custody in 1 contract(s)" in result.output
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert [(row["kind"], row["referral"], int(row["session_id"])) for row in rows] == [
        ("overlapping_sessions", referral.reference, group.id),
        ("rar_day_in_custody", custody.reference, in_custody.id),
    ]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "records.reviewed")).one()
    assert (audit.details["overlapping_sessions"], audit.details["rar_days_in_custody"]) == (1, 1)
    db.session.refresh(in_custody)
    assert in_custody.counts_as_rar_day is True  # the contract manager decides; the review changes nothing


def test_a_clean_history_has_nothing_to_put_right(runner, ttg_service):
    SessionFactory(referral__contract=ttg_service, referral__service_code="ACC-TTG")
    result = runner.invoke(args=["records", "review"])
    assert result.exit_code == 0
    assert "0 overlapping session pair(s) and 0 RAR day(s) recorded in custody" in result.output


def test_a_released_persons_rar_day_recorded_before_the_release_is_found_and_later_ones_are_not(
    runner, ttg_service, referrer, nacro_caseworker
):
    """Through the Gate moves the case to the community on release day: the referral is no longer a
    custody one, but a RAR day recorded before that day was still recorded in custody."""
    released_on = days_from_today(-10)
    released = ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        location_type=LocationType.COMMUNITY,
    )
    db.session.add(
        ReleaseRecord(
            referral_id=released.id,
            released_on=released_on,
            release_type=ReleaseType.CONDITIONAL_RELEASE,
            prison="HMP Bedford",
            community_office="Bedford probation office",
            first_night=FirstNight.OWN_TENANCY,
            recorded_at=utcnow(),
            recorded_by_id=nacro_caseworker.id,
        )
    )
    db.session.commit()
    before = SessionFactory(referral=released, date=released_on - timedelta(days=2), rar_day=True)
    SessionFactory(referral=released, date=released_on, rar_day=True)  # the day out: in the community
    SessionFactory(referral=released, date=released_on + timedelta(days=3), rar_day=True)

    result = runner.invoke(args=["records", "review"])

    assert result.exit_code == 0, result.output
    assert "0 overlapping session pair(s) and 1 RAR day(s) recorded in custody in 1 contract(s)" in result.output
    assert (
        f"referral {released.reference}, session {before.id}: The session on {format_date(before.date)} "
        "is recorded as a RAR day while the person was in custody"
    ) in result.output
