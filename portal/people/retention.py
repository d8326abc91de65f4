"""The retention rule: a person's records are kept RETENTION_YEARS (default 7) after their last
referral ended, then anonymised.

Anonymising keeps what the money and the figures need — referrals' references, dates, statuses,
services and RAR days; sessions' dates, minutes and attendance; outcomes' types and decisions;
invoice lines and events untouched, so every invoice still adds up — and removes everything that
identifies or describes the person: name, CRN, date of birth, prison number, contact details, risk
and needs text, case notes, session notes, evidence text and files, end-of-service comments, the
referral changelog's details. Equality categories (gender, ethnicity, disability) stay, detached from
anyone, so past equality monitoring still counts. The audit log is not touched (it is append-only
and has its own retention); the anonymisation itself is audited.

Case notes are final for people (the ORM refuses to change them), so this module rewrites them in
SQL: the retention rule is the one thing allowed to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from portal.audit.service import record_event
from portal.dates import london_day, london_today
from portal.db import utcnow
from portal.delivery import evidence
from portal.delivery.models import Alert, EndOfServiceReport, EvidenceFile, Outcome, Session, SessionReschedule
from portal.extensions import db
from portal.people.models import Person
from portal.people.records import records_of
from portal.referrals.models import CaseNote, Referral, ReferralEvent, ReferralStatus
from portal.safeguarding.models import RiskSummary, SafeguardingConcern
from portal.ttg.models import ReleaseRecord

REMOVED = "[removed under the retention rule]"
ENDED = (ReferralStatus.COMPLETED, ReferralStatus.WITHDRAWN, ReferralStatus.DECLINED)


@dataclass(frozen=True)
class Due:
    person_id: int
    last_ended_on: date | None  # None: never referred; counted from when the record was made


def cutoff(today: date | None = None) -> date:
    """People whose last referral ended before this day are due."""
    today = today or london_today()
    years = current_app.config["RETENTION_YEARS"]
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February, `years` back, is not a day: the day after is
        return today.replace(year=today.year - years, month=3, day=1)


def _ended_at() -> Any:
    return func.coalesce(Referral.completed_at, Referral.withdrawn_at, Referral.declined_at)


def people_due(today: date | None = None) -> list[Due]:
    """People past the rule: every referral of theirs has ended (a live one keeps them all), the
    last of them before the cutoff; never anonymised before."""
    limit = cutoff(today)
    live = select(Referral.person_id).where(Referral.status.not_in(ENDED), Referral.person_id.is_not(None))
    last_ended = (
        select(Referral.person_id, func.max(_ended_at()).label("last_ended"))
        .where(Referral.person_id.is_not(None))
        .group_by(Referral.person_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Person.id, Person.created_at, last_ended.c.last_ended)
        .outerjoin(last_ended, last_ended.c.person_id == Person.id)
        .where(Person.id.not_in(live), Person.anonymised_at.is_(None))
        .order_by(Person.id)
    ).all()
    due = []
    for person_id, created_at, last in rows:
        day = london_day(last or created_at)
        if day < limit:
            due.append(Due(person_id, day if last else None))
    return due


def anonymise(person_id: int) -> dict[str, int]:
    """Anonymise one person and everything about them (one transaction); returns what was changed."""
    person = db.session.get(Person, person_id)
    found = records_of(person)
    referral_ids = [r.id for r in found.referrals]
    person.crn = f"#{person.id:06d}"[-7:]  # no CRN looks like this: one letter and six digits
    person.given_name = "Anonymised"
    person.family_name = "person"
    person.date_of_birth = date(1900, 1, 1)
    person.prison_number = None
    person.interpreter_language = None
    person.anonymised_at = utcnow()

    if referral_ids:
        db.session.execute(
            update(Referral)
            .where(Referral.id.in_(referral_ids))
            .values(
                contact_details=None,
                postcode=None,
                risk_summary=REMOVED,
                reason=REMOVED,
                desired_outcomes=[],
                decline_detail=None,
                withdraw_detail=None,
                version=Referral.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        for model, values in (
            (ReferralEvent, {"summary": REMOVED, "details": {}}),
            (CaseNote, {"body": REMOVED}),
            (Session, {"summary": None, "concern_detail": None}),
            (Alert, {"detail": None}),
            (Outcome, {"evidence": REMOVED, "rejection_reason": None}),
            (EndOfServiceReport, {"summary": REMOVED, "further_needs": None, "outcomes": []}),
            (SafeguardingConcern, {"what_happened": REMOVED, "outcome_detail": None}),
            (
                RiskSummary,
                {
                    "nature": REMOVED,
                    "when_greatest": None,
                    "protective_factors": None,
                    "lone_working_restrictions": None,
                    "reason": None,
                },
            ),
            (ReleaseRecord, {"first_night_address": None, "address_area": None}),
        ):
            db.session.execute(
                update(model)
                .where(model.referral_id.in_(referral_ids))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        session_ids = select(Session.id).where(Session.referral_id.in_(referral_ids))
        db.session.execute(
            update(SessionReschedule)
            .where(SessionReschedule.session_id.in_(session_ids))
            .values(reason=REMOVED)
            .execution_options(synchronize_session=False)
        )
    stored = [file.stored_name for file in found.evidence_files]
    if stored:
        db.session.execute(
            update(EvidenceFile)
            .where(EvidenceFile.id.in_([file.id for file in found.evidence_files]))
            .values(original_name="removed")
            .execution_options(synchronize_session=False)
        )
    record_event(
        "person.anonymised",
        record=person,
        details={"rule_years": current_app.config["RETENTION_YEARS"], **found.counts()},
    )
    db.session.commit()
    # The files go once the database no longer needs them; a file already gone is no matter.
    for name in stored:
        evidence.path_of(name).unlink(missing_ok=True)
    return found.counts()


def apply_rule(*, dry_run: bool, today: date | None = None) -> list[Due]:
    due = people_due(today)
    if not dry_run:
        for item in due:
            anonymise(item.person_id)
    return due
