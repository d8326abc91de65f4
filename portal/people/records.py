"""Everything the portal holds about one person, gathered in one place: what a subject access
request returns (portal.people.subject_access) and what the retention rule anonymises
(portal.people.retention) are the same list, so neither can miss a record the other sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select

from portal.audit.service import jsonable
from portal.delivery.models import Alert, EndOfServiceReport, EvidenceFile, Outcome, Session, SessionReschedule
from portal.extensions import db
from portal.invoicing.models import InvoiceEvent
from portal.people.models import Person
from portal.referrals.models import CaseNote, Referral, ReferralEvent
from portal.safeguarding.models import RiskSummary, SafeguardingConcern
from portal.ttg.models import ReleaseRecord

# Records that hang off a referral, in the order a reader meets them.
PER_REFERRAL = (
    ReferralEvent,
    CaseNote,
    Session,
    Alert,
    Outcome,
    EndOfServiceReport,
    InvoiceEvent,
    SafeguardingConcern,
    RiskSummary,
    ReleaseRecord,
)


@dataclass
class PersonRecords:
    person: Person
    referrals: list[Referral]
    by_kind: dict[str, list[Any]] = field(default_factory=dict)
    reschedules: list[SessionReschedule] = field(default_factory=list)
    evidence_files: list[EvidenceFile] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "person": row(self.person),
            "referrals": [
                {
                    **row(referral),
                    **{
                        kind: [row(record) for record in records if record.referral_id == referral.id]
                        for kind, records in self.by_kind.items()
                    },
                }
                for referral in self.referrals
            ],
            "session_reschedules": [row(record) for record in self.reschedules],
            "evidence_files": [row(record) for record in self.evidence_files],
        }

    def counts(self) -> dict[str, int]:
        return {
            "referrals": len(self.referrals),
            **{kind: len(records) for kind, records in self.by_kind.items()},
            "evidence_files": len(self.evidence_files),
        }


def row(record: Any) -> dict[str, Any]:
    """Every column of a record, as JSON: nothing chosen, so nothing left out."""
    return {column.key: jsonable(getattr(record, column.key)) for column in inspect(record).mapper.column_attrs}


def records_of(person: Person) -> PersonRecords:
    referrals = list(db.session.scalars(select(Referral).where(Referral.person_id == person.id).order_by(Referral.id)))
    ids = [referral.id for referral in referrals]
    found = PersonRecords(person=person, referrals=referrals)
    for model in PER_REFERRAL:
        found.by_kind[model.__tablename__] = list(
            db.session.scalars(select(model).where(model.referral_id.in_(ids)).order_by(model.id))
        )
    session_ids = [session.id for session in found.by_kind[Session.__tablename__]]
    outcome_ids = [outcome.id for outcome in found.by_kind[Outcome.__tablename__]]
    found.reschedules = list(
        db.session.scalars(select(SessionReschedule).where(SessionReschedule.session_id.in_(session_ids)))
    )
    found.evidence_files = list(
        db.session.scalars(
            select(EvidenceFile).where(EvidenceFile.outcome_id.in_(outcome_ids)).order_by(EvidenceFile.id)
        )
    )
    return found
