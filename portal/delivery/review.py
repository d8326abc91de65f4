"""Records made before issue 15's rules, found for the contract manager to put right: sessions of
one person with one partner that overlap (the portal now refuses them, but accepted them before),
and RAR days recorded while a referral was in custody (refused now, and no longer billed, but the
service returns still count them until they are corrected). `flask records review` prints them by
contract, writes them as CSV, and records the review in the audit log; it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import click
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from portal.contracts.models import Contract
from portal.delivery.models import ATTENDED, Attendance, Session
from portal.delivery.outcome_rules import days_after
from portal.delivery.sessions import session_start
from portal.extensions import db
from portal.formatting import format_date, format_time
from portal.referrals.models import LocationType, Referral

OVERLAP = "overlapping_sessions"
RAR_IN_CUSTODY = "rar_day_in_custody"
CSV_COLUMNS = ("kind", "contract", "referral", "session_id", "session_date", "detail")


@dataclass(frozen=True)
class Finding:
    kind: str
    contract: str
    referral: str
    session_id: int
    session_date: date
    detail: str

    def row(self) -> list[str]:
        return [
            self.kind,
            self.contract,
            self.referral,
            str(self.session_id),
            self.session_date.isoformat(),
            self.detail,
        ]


def _happened() -> object:
    return or_(Session.attendance.is_(None), Session.attendance != Attendance.SESSION_DID_NOT_HAPPEN)


def overlapping_sessions(crc_id: int | None = None) -> list[Finding]:
    """Each pair of sessions of one person with one partner (any of their referrals to the partner's
    contracts) whose times overlap, as the portal now refuses them (portal.delivery.sessions): one
    query for the candidates (the same person and partner, a day apart at most), the times compared
    here because a session's end is its start plus its minutes on London's clock."""
    other_session, other_referral, other_contract = aliased(Session), aliased(Referral), aliased(Contract)
    statement = (
        select(Session, Referral.reference, Contract.reference, other_session, other_referral.reference)
        .join(Referral, Referral.id == Session.referral_id)
        .join(Contract, Contract.id == Referral.contract_id)
        .join(
            other_referral,
            or_(
                and_(Referral.person_id.is_not(None), other_referral.person_id == Referral.person_id),
                other_referral.id == Referral.id,
            ),
        )
        .join(other_contract, other_contract.id == other_referral.contract_id)
        .join(other_session, other_session.referral_id == other_referral.id)
        .where(
            other_contract.partner_id == Contract.partner_id,
            other_session.id > Session.id,
            # A session lasts at most a day, so only sessions a day apart at most can overlap.
            days_after(other_session.date, 1) >= Session.date,
            days_after(Session.date, 1) >= other_session.date,
            _happened(),
            or_(
                other_session.attendance.is_(None),
                other_session.attendance != Attendance.SESSION_DID_NOT_HAPPEN,
            ),
        )
        .order_by(Contract.reference, Session.date, Session.start_time, Session.id, other_session.id)
    )
    if crc_id is not None:
        statement = statement.where(Contract.crc_id == crc_id)
    findings = []
    seen: set[tuple[int, int]] = set()
    for first, reference, contract, second, other_reference in db.session.execute(statement).all():
        if abs((second.date - first.date).days) > 1 or (first.id, second.id) in seen:
            continue
        begins, other_begins = (
            session_start(first.date, first.start_time),
            session_start(second.date, second.start_time),
        )
        ends = begins + timedelta(minutes=first.duration_minutes)
        if not (other_begins < ends and begins < other_begins + timedelta(minutes=second.duration_minutes)):
            continue
        seen.add((first.id, second.id))
        whose = f" of referral {other_reference}" if other_reference != reference else ""
        findings.append(
            Finding(
                OVERLAP,
                contract,
                reference,
                first.id,
                first.date,
                f"The {first.kind.label.lower()} session on {format_date(first.date)} at "
                f"{format_time(begins)} overlaps the {second.kind.label.lower()} session{whose} on "
                f"{format_date(second.date)} at {format_time(other_begins)} (session {second.id})",
            )
        )
    return findings


def rar_days_in_custody(crc_id: int | None = None) -> list[Finding]:
    """Attended sessions marked as RAR days while their referral was in custody: on a referral still
    in custody, or before the day its person was released (a custody referral has no RAR days)."""
    from portal.ttg.models import ReleaseRecord

    released_after = exists().where(ReleaseRecord.referral_id == Referral.id, ReleaseRecord.released_on > Session.date)
    statement = (
        select(Session, Referral.reference, Contract.reference)
        .join(Referral, Referral.id == Session.referral_id)
        .join(Contract, Contract.id == Referral.contract_id)
        .where(
            Session.counts_as_rar_day.is_(True),
            Session.attendance.in_(ATTENDED),
            or_(Referral.location_type == LocationType.CUSTODY, released_after),
        )
        .order_by(Contract.reference, Referral.reference, Session.date, Session.id)
    )
    if crc_id is not None:
        statement = statement.where(Contract.crc_id == crc_id)
    return [
        Finding(
            RAR_IN_CUSTODY,
            contract,
            reference,
            session.id,
            session.date,
            f"The session on {format_date(session.date)} is recorded as a RAR day while the person was in "
            "custody: a custody referral has no RAR days, so untick 'counts as a RAR day' (the service "
            "returns count it until then; invoices no longer bill it)",
        )
        for session, reference, contract in db.session.execute(statement).all()
    ]


def review(crc_id: int | None = None) -> list[Finding]:
    return [*overlapping_sessions(crc_id), *rar_days_in_custody(crc_id)]


# --- the command ---------------------------------------------------------------------------------------


@click.group("records", help="Find records made before today's rules, for the contract manager to put right.")
def records_cli() -> None:
    pass


@records_cli.command(
    "review",
    help="List sessions of one person that overlap, and RAR days recorded in custody, made before the portal "
    "refused them (issue 15). Changes nothing; records the review in the audit log.",
)
@click.option("--crc", "crc_name", default=None, help="Only this CRC's contracts (its organisation name)")
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), default=None, help="Also write them as CSV"
)
def review_command(crc_name: str | None, csv_path: str | None) -> None:
    from portal.audit.service import record_event
    from portal.csv_files import csv_text
    from portal.organisations.models import Organisation, OrganisationKind

    crc_id = None
    if crc_name:
        crc_id = db.session.scalar(
            select(Organisation.id).where(Organisation.name == crc_name, Organisation.kind == OrganisationKind.CRC)
        )
        if crc_id is None:
            raise click.ClickException(f"No CRC is called {crc_name!r}")
    findings = review(crc_id)
    by_contract: dict[str, list[Finding]] = {}
    for finding in findings:
        by_contract.setdefault(finding.contract, []).append(finding)
    for contract, found in sorted(by_contract.items()):
        click.echo(f"{contract}: {len(found)} to put right")
        for finding in found:
            click.echo(f"  referral {finding.referral}, session {finding.session_id}: {finding.detail}")
    overlaps = sum(finding.kind == OVERLAP for finding in findings)
    click.echo(
        f"{overlaps} overlapping session pair(s) and {len(findings) - overlaps} RAR day(s) recorded in custody"
        + (f" in {len(by_contract)} contract(s)" if findings else "")
    )
    if csv_path:
        with open(csv_path, "w", encoding="utf-8", newline="") as handle:
            handle.write(csv_text(CSV_COLUMNS, [finding.row() for finding in findings]))
        click.echo(f"Written to {csv_path}")
    record_event(
        "records.reviewed",
        record_type="organisation" if crc_id else None,
        record_id=crc_id,
        details={
            "overlapping_sessions": overlaps,
            "rar_days_in_custody": len(findings) - overlaps,
            "contracts": sorted(by_contract),
        },
    )
    db.session.commit()
