"""Queues of delivery work across referrals: outcome claims (to verify, oldest first; rejected, to
claim again) and alerts (to acknowledge), with filters and CSV exports of what is filtered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from flask_login import current_user, login_required
from sqlalchemy import Select
from sqlalchemy.orm import aliased, contains_eager, joinedload

from portal import access
from portal.audit.service import record_read
from portal.contracts.models import Contract, OutcomeType
from portal.csv_files import csv_response, stream_rows
from portal.dates import london_today
from portal.delivery.models import Alert, Outcome, OutcomeStatus
from portal.delivery.views import bp
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.people.models import Person
from portal.referrals.models import Referral
from portal.urls import as_id
from portal.web import paginate

PAGE_SIZE = 50


@dataclass
class QueueFilters:
    status: str
    contract: str
    partner_id: str
    mine: bool

    @classmethod
    def from_args(cls, args: Any, *, default_status: str) -> QueueFilters:
        # Whoever writes referrals sees their own by default: the ones they answer for (a link shows everyone's).
        mine_default = "yes" if access.can(current_user, "create", Referral) else ""
        return cls(
            status=args.get("status", default_status)[:20],
            contract=args.get("contract", "")[:30].upper(),
            partner_id=args.get("partner_id", "")[:10],
            mine=args.get("mine", mine_default) == "yes",
        )

    def audit_details(self) -> dict[str, Any]:
        """What an export was filtered by, for the audit event that records who downloaded it."""
        return {"status": self.status, "contract": self.contract, "partner_id": self.partner_id, "mine": self.mine}


def _filtered(statement: Select, filters: QueueFilters) -> Select:
    user = current_user
    if filters.contract:
        statement = statement.where(Contract.reference == filters.contract)
    partner_id = as_id(filters.partner_id)
    if user.is_crc_user and partner_id is not None:
        statement = statement.where(Contract.partner_id == partner_id)
    if filters.mine:
        statement = statement.where(
            Referral.referrer_id == user.id if user.is_crc_user else Referral.caseworker_id == user.id
        )
    return statement


def _choices() -> dict[str, Any]:
    contracts = db.session.scalars(access.visible(Contract, current_user).order_by(Contract.reference)).all()
    partners = (
        db.session.scalars(
            access.visible(Organisation, current_user).where(Organisation.id != current_user.organisation_id)
        ).all()
        if current_user.is_crc_user
        else []
    )
    return {
        "contracts": {"": "All contracts"} | {c.reference: f"{c.reference}: {c.title}" for c in contracts},
        "partners": {"": "All partners"} | {str(p.id): p.name for p in sorted(partners, key=lambda p: p.name)},
    }


def _with_case(statement: Select, *columns: Any) -> Select:
    """An export's statement (a queue's, which joins the referral, its contract and person) reading
    plain columns: the case's five (_case_cells), then `columns`."""
    partner = aliased(Organisation)
    return statement.join(partner, partner.id == Contract.partner_id).with_only_columns(
        Referral.reference,
        Person.crn,
        Person.given_name,
        Person.family_name,
        Contract.reference,
        partner.name,
        *columns,
    )


def _case_cells(row: Any) -> tuple[str, ...]:
    """The referral, CRN, person's name, contract and partner of a _with_case row; its own columns
    follow from row[6]."""
    name = f"{row[2]} {row[3]}" if row[2] is not None else ""
    return (row[0], row[1] or "", name, row[4], row[5])


# --- outcome claims -------------------------------------------------------------------------------------

OUTCOME_STATUSES = {
    "claimed": "Waiting to be verified",
    "rejected": "Rejected",
    "verified": "Verified",
    "credited": "Credited",
    "": "Any",
}


def _outcome_claims(filters: QueueFilters) -> Select:
    """Outcome claims the user can see, oldest claim first: the one waiting longest is verified first."""
    from portal.main.work_items import rejected_not_claimed_again

    user = current_user
    if filters.status == "rejected":
        statement = rejected_not_claimed_again(user)
    else:
        statement = access.visible(Outcome, user)
        if filters.status in {status.value for status in OutcomeStatus}:
            statement = statement.where(Outcome.status == OutcomeStatus(filters.status))
    statement = (
        statement.join(Referral, Referral.id == Outcome.referral_id)
        .join(Contract, Contract.id == Referral.contract_id)
        .outerjoin(Person, Person.id == Referral.person_id)
        .order_by(Outcome.claimed_at, Outcome.id)
    )
    return _filtered(statement, filters)


def _outcomes(filters: QueueFilters) -> Select:
    return _outcome_claims(filters).options(
        contains_eager(Outcome.referral).contains_eager(Referral.person),
        contains_eager(Outcome.referral).contains_eager(Referral.contract),
        joinedload(Outcome.outcome_type),
    )


def _default_outcome_status() -> str:
    return "claimed" if current_user.is_crc_user else "rejected"


@bp.route("/outcomes/")
@login_required
def outcomes_queue():  # type: ignore[no-untyped-def]
    filters = QueueFilters.from_args(request.args, default_status=_default_outcome_status())
    page = paginate(_outcomes(filters), per_page=PAGE_SIZE)
    return render_template(
        "delivery/outcomes_queue.html",
        page=page,
        filters=filters,
        statuses=OUTCOME_STATUSES,
        can_decide=access.can(current_user, "decide", Outcome),
        today=london_today(),
        **_choices(),
    )


@bp.route("/outcomes/export.csv")
@login_required
def outcomes_csv():  # type: ignore[no-untyped-def]
    filters = QueueFilters.from_args(request.args, default_status=_default_outcome_status())
    # One row per claim with the person's CRN and name: an export of personal data.
    record_read(current_user, "export.outcomes_downloaded", details=filters.audit_details())
    # The export's columns only, read as rows: a record per claim, its referral, person and
    # contract costs five times as much at 80,000 claims (28 s to 6 s for the CRC's every claim).
    statement = _with_case(
        _outcome_claims(filters).join(OutcomeType, OutcomeType.id == Outcome.outcome_type_id),
        OutcomeType.code,
        OutcomeType.name,
        Outcome.achieved_on,
        Outcome.claimed_at,
        Outcome.status,
        Outcome.rejection_reason,
    )
    rows = (
        (
            *_case_cells(row),
            row[6],
            row[7],
            row[8].isoformat(),
            row[9].isoformat(),
            row[10].value,
            row[11] or "",
        )
        for row in stream_rows(statement)
    )
    header = (
        "referral",
        "crn",
        "name",
        "contract",
        "partner",
        "outcome_type",
        "outcome_name",
        "achieved_on",
        "claimed_at",
        "status",
        "rejection_reason",
    )
    return csv_response(header, rows, "outcomes.csv")


# --- alerts ------------------------------------------------------------------------------------------------

ALERT_STATUSES = {"open": "Waiting to be acknowledged", "acknowledged": "Acknowledged", "": "Any"}


def _alert_list(filters: QueueFilters) -> Select:
    statement = access.visible(Alert, current_user)
    if filters.status == "open":
        statement = statement.where(Alert.acknowledged_at.is_(None))
    elif filters.status == "acknowledged":
        statement = statement.where(Alert.acknowledged_at.is_not(None))
    statement = (
        statement.join(Referral, Referral.id == Alert.referral_id)
        .join(Contract, Contract.id == Referral.contract_id)
        .outerjoin(Person, Person.id == Referral.person_id)
        .order_by(Alert.raised_at, Alert.id)
    )
    return _filtered(statement, filters)


def _alerts(filters: QueueFilters) -> Select:
    return _alert_list(filters).options(
        contains_eager(Alert.referral).contains_eager(Referral.person),
        contains_eager(Alert.referral).contains_eager(Referral.contract),
    )


def _alert_filters() -> QueueFilters:
    return QueueFilters.from_args(request.args, default_status="open")


@bp.route("/alerts/")
@login_required
def alerts_queue():  # type: ignore[no-untyped-def]
    filters = _alert_filters()
    page = paginate(_alerts(filters), per_page=PAGE_SIZE)
    return render_template(
        "delivery/alerts_queue.html",
        page=page,
        filters=filters,
        statuses=ALERT_STATUSES,
        can_acknowledge=access.can(current_user, "acknowledge", Alert),
        **_choices(),
    )


@bp.route("/alerts/export.csv")
@login_required
def alerts_csv():  # type: ignore[no-untyped-def]
    filters = _alert_filters()
    record_read(current_user, "export.alerts_downloaded", details=filters.audit_details())
    # Columns, not records, as the outcome claims' export: 100,000 alerts at national scale.
    statement = _with_case(_alert_list(filters), Alert.kind, Alert.detail, Alert.raised_at, Alert.acknowledged_at)
    rows = (
        (
            *_case_cells(row),
            row[6].value,
            row[7] or "",
            row[8].isoformat(),
            row[9].isoformat() if row[9] else "",
        )
        for row in stream_rows(statement)
    )
    header = ("referral", "crn", "name", "contract", "partner", "kind", "detail", "raised_at", "acknowledged_at")
    return csv_response(header, rows, "alerts.csv")
