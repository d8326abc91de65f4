"""Importing referrals from a CSV extract: every row checked, a preview, then all sent or none.

The columns mirror the API's POST /referrals body, flattened (see COLUMNS and the import page).
Checking a file writes nothing; importing runs as a background job that reports its progress
and saves every referral in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from portal import access
from portal.accounts.models import User
from portal.audit.service import record_event
from portal.contracts.models import Contract
from portal.csv_files import FileRejected, RowError, read_csv, sort_errors
from portal.dates import london_today
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.jobs import report_progress
from portal.referrals import service, validation
from portal.referrals.models import ImportStatus, Referral, ReferralImport

COLUMNS = (
    "contract",
    "service",
    "service_code",
    "crn",
    "given_name",
    "family_name",
    "date_of_birth",
    "gender",
    "ethnicity",
    "disability",
    "prison_number",
    "interpreter_language",
    "location_type",
    "prison",
    "expected_release_date",
    "community_office",
    "postcode",
    "contact_details",
    "rosh_level",
    "risk_flags",
    "risk_summary",
    "complexity",
    "desired_outcomes",
    "reason",
    "rar_days",
    "sentence_end_date",
    "urgent",
    "reoffending",
    "c2c",
    "colour_band",
    "colour_band_reason",
)
# A row names its service by `service` (its name) or by `service_code`, or both.
OPTIONAL_COLUMNS = (
    "service",
    "service_code",
    "prison_number",
    "interpreter_language",
    "prison",
    "expected_release_date",
    "community_office",
    "postcode",
    "contact_details",
    "risk_flags",
    "rar_days",
    "urgent",
    "reoffending",
    "c2c",
    "colour_band",
    "colour_band_reason",
)
REQUIRED_COLUMNS = tuple(column for column in COLUMNS if column not in OPTIONAL_COLUMNS)
# Field names the checks use, where they differ from the file's column names.
COLUMN_FOR_FIELD = {"contract_id": "contract"}
MAX_BYTES = 5_000_000
MAX_ROWS = 5_000
# Rows sent together: a batch's queries are as few as one row's, and progress is reported after each.
SEND_BATCH = 250


@dataclass(frozen=True)
class CheckedRow:
    number: int
    data: dict[str, Any]  # cleaned, ready for service.send_checked
    service: Any = None  # the Service referred to, loaded with the file's other look-ups


def _fields(values: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = dict(values)
    fields["risk_flags"] = [flag for flag in values["risk_flags"].split(";") if flag.strip()]
    fields["desired_outcomes"] = [outcome for outcome in values["desired_outcomes"].split("|") if outcome.strip()]
    return fields


def check_file(actor: Any, data: bytes, today: date | None = None) -> list[CheckedRow]:
    """Every row checked as the API would check it; FileRejected lists every problem."""
    access.require(actor, "send", Referral)
    today = today or london_today()
    rows = read_csv(
        data, COLUMNS, max_bytes=MAX_BYTES, max_rows=MAX_ROWS, required_columns=REQUIRED_COLUMNS, what="referrals file"
    )
    # Contracts, services and places are looked up once for the file, not once a row: a file of
    # 5,000 rows is checked with the queries of a file of one.
    contracts = {contract.reference: contract for contract in validation.referrable_contracts(actor, today)}
    lookups = validation.Lookups.load(actor.organisation_id, [contract.id for contract in contracts.values()])
    services = {
        contract.id: {
            code: service.name
            for (contract_id, code), service in lookups.services.items()
            if contract_id == contract.id and service.open_to_referrals
        }
        for contract in contracts.values()
    }

    def service_check(fields: dict[str, Any]) -> dict[str, Any]:
        contract = contracts.get((fields.get("contract") or "").strip().upper())
        if contract is None:
            raise ValidationFailed.single("contract_id", "Use the reference of an active contract your CRC holds")
        code = validation.service_code_for(services[contract.id], fields, contract)
        return {"contract_id": contract.id, "service_code": code}

    checked: list[CheckedRow] = []
    errors: list[RowError] = []
    for row in rows:
        try:
            data_row = validation.check_everything(
                actor, _fields(row.values), today, service_check=service_check, lookups=lookups
            )
        except ValidationFailed as failure:
            for field, messages in failure.errors.items():
                errors.extend(RowError(row.number, COLUMN_FOR_FIELD.get(field, field), message) for message in messages)
        else:
            service_record = lookups.services.get((data_row["contract_id"], data_row["service_code"]))
            checked.append(CheckedRow(row.number, data_row, service_record))
    errors.extend(_duplicates(checked))
    if errors:
        raise FileRejected(sort_errors(errors, COLUMNS), "referrals file")
    return checked


def _duplicates(rows: list[CheckedRow]) -> list[RowError]:
    """The same person referred to the same service twice in one file is almost always a mistake."""
    seen: dict[tuple[str, int, str], int] = {}
    errors = []
    for row in rows:
        key = (row.data["crn"], row.data["contract_id"], row.data["service_code"])
        if key in seen:
            errors.append(
                RowError(row.number, "crn", f"This person is already referred to this service in row {seen[key]}")
            )
        seen.setdefault(key, row.number)
    return errors


def upload(actor: Any, filename: str, data: bytes) -> ReferralImport:
    """Check a file and keep it for the preview. Raises FileRejected; stores nothing then."""
    rows = check_file(actor, data)
    referral_import = ReferralImport(
        crc_id=actor.organisation_id,
        created_by_id=actor.id,
        filename=(filename or "referrals.csv")[:200],
        content=data,
        row_count=len(rows),
        status=ImportStatus.CHECKED,
    )
    db.session.add(referral_import)
    db.session.flush()
    record_event(
        "referral_import.checked",
        actor=actor,
        record=referral_import,
        details={"filename": referral_import.filename, "rows": len(rows)},
    )
    db.session.commit()
    return referral_import


def preview_rows(actor: Any, referral_import: ReferralImport, limit: int = 100) -> list[CheckedRow]:
    return check_file(actor, referral_import.content)[:limit]


def confirm(actor: Any, referral_import: ReferralImport) -> None:
    """Start importing a checked file in the background (the page then shows its progress)."""
    from portal.jobs import start_job

    access.require(actor, "confirm", referral_import)
    if referral_import.status != ImportStatus.CHECKED:
        raise ValidationFailed.single("import", "This file has already been imported or is being imported")
    referral_import.status = ImportStatus.IMPORTING
    record_event("referral_import.started", actor=actor, record=referral_import)
    db.session.commit()
    job = start_job(
        "referral_import", "portal.referrals.bulk_import:run_import", referral_import.id, actor.id, owner_id=actor.id
    )
    referral_import.job_id = job.id
    db.session.commit()


def run_import(import_id: int, user_id: int) -> dict[str, Any]:
    """The background job: check again (things change), then send every referral in one
    transaction, reporting progress. Any failure saves nothing and records why."""
    referral_import = db.session.get(ReferralImport, import_id)
    actor = db.session.get(User, user_id)
    try:
        rows = check_file(actor, referral_import.content)
        total = len(rows)
        report_progress(0, total, "Sending referrals")
        references = []
        # In batches, each saved with the queries of one (not of each row), reporting progress after each.
        for start in range(0, total, SEND_BATCH):
            batch = rows[start : start + SEND_BATCH]
            sent = service.send_checked_rows(actor, [(row.number, row.data, row.service) for row in batch])
            references.extend(referral.reference for referral in sent)
            done = start + len(batch)
            report_progress(done, total, f"{done} of {total} referrals sent")
        referral_import = db.session.get(ReferralImport, import_id)
        referral_import.status = ImportStatus.IMPORTED
        referral_import.result = {"references": references}
        record_event(
            "referral_import.imported",
            actor=actor,
            record=referral_import,
            details={"rows": total, "first": references[:1], "last": references[-1:]},
        )
        db.session.commit()
        return {"references": references}
    except FileRejected as rejected:
        db.session.rollback()
        _record_failure(import_id, actor, [str(error) for error in rejected.errors])
        raise
    except Exception:
        db.session.rollback()
        _record_failure(import_id, actor, ["Something went wrong while saving. Nothing was saved: try again."])
        raise


def _record_failure(import_id: int, actor: Any, errors: list[str]) -> None:
    referral_import = db.session.get(ReferralImport, import_id)
    referral_import.status = ImportStatus.FAILED
    referral_import.result = {"errors": errors}
    record_event("referral_import.failed", actor=actor, record=referral_import, details={"errors": errors[:20]})
    db.session.commit()


def imports_of(actor: Any) -> list[ReferralImport]:
    return list(
        db.session.scalars(
            select(ReferralImport)
            .where(ReferralImport.created_by_id == actor.id)
            .order_by(ReferralImport.id.desc())
            .limit(10)
        ).all()
    )


def contract_reference(contract_id: int) -> str:
    return db.session.get(Contract, contract_id).reference
