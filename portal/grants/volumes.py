"""What a contract expects: starts a month by service (ExpectedStarts) and spend a month
(SpendProfile). The contract manager sets each from a CSV file, all or nothing, replacing what
was there, sets the starts of one service and month (page and API, `set_expected_starts`), or
of one service in each month of a range (page, `set_expected_starts_for_months`);
the figures compare the records against them (portal.returns.kpis, "Against the contract")."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select

from portal import access
from portal.audit.service import record_event
from portal.contracts.models import Contract, Service
from portal.csv_files import FileRejected, RowError, read_csv
from portal.dates import add_months, month_label, parse_month
from portal.errors import StaleRecord, ValidationFailed
from portal.extensions import db
from portal.grants.models import ExpectedStarts, SpendProfile
from portal.money import NotAnAmount, parse_pounds, pounds
from portal.persistence import check_version, commit, guards_versions, lock

STARTS_COLUMNS = ("month", "service_code", "expected_starts")
SPEND_COLUMNS = ("month", "expected_spend")
MAX_STARTS = 100_000


def service_codes(contract: Contract) -> set[str]:
    """The codes of the contract's services (its Service records, not its rate-card items: a
    grant's services have no items, and still expect starts)."""
    return set(db.session.scalars(select(Service.code).where(Service.contract_id == contract.id)))


def _month_problem(contract: Contract, day: date | None, which: str = "the month") -> str | None:
    """What is wrong with a month given as YYYY-MM (`day` as parse_month read it): not a month, or
    outside the contract (the start's month counts as within it). None when it is right."""
    if day is None:
        return f"Enter {which} as YYYY-MM, like 2027-04"
    if day > contract.end_date or day < contract.start_date.replace(day=1):
        return f"{month_label(day)} is outside the contract"
    return None


def _month(values: dict[str, str], contract: Contract, number: int, errors: list[RowError]) -> Any:
    month = parse_month(values.get("month", ""))
    problem = _month_problem(contract, month)
    if problem:
        errors.append(RowError(number, "month", problem))
        return None
    return month


@guards_versions("expected starts")
def import_expected_starts(actor: Any, contract: Contract, data: bytes) -> int:
    """Replace the contract's expected starts with a CSV file's (month, service_code,
    expected_starts; an empty service_code is the whole contract). Returns the rows kept."""
    access.require(actor, "manage", contract)
    lock(contract)
    rows = read_csv(data, STARTS_COLUMNS, max_bytes=500_000, max_rows=5_000, what="expected starts")
    codes = service_codes(contract)
    errors: list[RowError] = []
    seen: dict[tuple[Any, str], int] = {}
    kept: list[ExpectedStarts] = []
    for row in rows:
        month = _month(row.values, contract, row.number, errors)
        code = row.values.get("service_code", "").strip().upper()
        if code and code not in codes:
            errors.append(RowError(row.number, "service_code", f"{code} is not a service of {contract.reference}"))
        text = row.values.get("expected_starts", "").strip()
        if not (text.isascii() and text.isdigit() and int(text) <= MAX_STARTS):
            errors.append(
                RowError(row.number, "expected_starts", "Enter the expected starts as a whole number, like 12")
            )
            continue
        if month is None:
            continue
        if (month, code) in seen:
            errors.append(
                RowError(row.number, "month", f"Row {seen[(month, code)]} already gives this month and service")
            )
            continue
        seen[(month, code)] = row.number
        kept.append(ExpectedStarts(contract_id=contract.id, service_code=code, month=month, starts=int(text)))
    if errors:
        db.session.rollback()
        raise FileRejected(errors, "expected starts")
    # A figure the file sets again is changed in place, so its version moves on and a page read
    # before the import is stale; figures the file leaves out go.
    existing = {(row.month, row.service_code): row for row in expected_starts_of(contract)}
    for row in kept:
        found = existing.pop((row.month, row.service_code), None)
        if found is None:
            db.session.add(row)
        else:
            found.starts = row.starts
    for gone in existing.values():
        db.session.delete(gone)
    record_event(
        "contract.expected_starts_set",
        actor=actor,
        record=contract,
        details={
            "contract": contract.reference,
            "months": len({r.month for r in kept}),
            "total": sum(r.starts for r in kept),
        },
    )
    commit("contract")
    return len(kept)


# The checks the expected-starts form and the range form share: each puts its error under the
# field's name, for the form's error summary and the API's field errors.
def _checked_service_code(contract: Contract, service_code: Any, errors: dict[str, list[str]]) -> str:
    """The service code as kept (an empty code: the whole contract)."""
    code = str(service_code or "").strip().upper()
    if code and code not in service_codes(contract):
        errors["service_code"] = [f"{code} is not a service of {contract.reference}"]
    return code


def _checked_month(contract: Contract, value: Any, field: str, which: str, errors: dict[str, list[str]]) -> date | None:
    """The first day of the month given as YYYY-MM (None when it is not a month)."""
    day = parse_month(value)
    problem = _month_problem(contract, day, which)
    if problem:
        errors[field] = [problem]
    return day


def _checked_starts(starts: Any, blank: str, errors: dict[str, list[str]]) -> str:
    """The starts as typed; `blank` is the error when nothing was."""
    text = str(starts if starts is not None else "").strip()
    if not text:
        errors["expected_starts"] = [blank]
    elif not (text.isascii() and text.isdigit() and int(text) <= MAX_STARTS):
        errors["expected_starts"] = [f"Enter the expected starts as a whole number from 0 to {MAX_STARTS:,}"]
    return text


@guards_versions("expected starts")
def set_expected_starts(
    actor: Any, contract: Contract, *, service_code: Any, month: Any, starts: Any, version: Any = None
) -> ExpectedStarts:
    """Set the starts a contract expects of one service (an empty code: the whole contract) in one
    month, adding the figure or changing it. `version` is the one read: 0 when the figure was not
    set then (so one set meanwhile by someone else is not overwritten unseen); None (API) sets it
    whatever it is. Errors name the field: service_code, month, expected_starts."""
    access.require(actor, "manage", contract)
    lock(contract)  # two people setting one new figure at once: the second is told, not lost
    errors: dict[str, list[str]] = {}
    code = _checked_service_code(contract, service_code, errors)
    day = _checked_month(contract, month, "month", "the month", errors)
    text = _checked_starts(starts, "Enter the starts expected in the month, like 12", errors)
    if errors or day is None:
        raise ValidationFailed(errors)
    row = db.session.scalars(
        select(ExpectedStarts).where(
            ExpectedStarts.contract_id == contract.id,
            ExpectedStarts.service_code == code,
            ExpectedStarts.month == day,
        )
    ).first()
    read = None if version is None or version == "" else str(version)
    if row is None and read not in (None, "0"):
        raise StaleRecord("These expected starts were removed by someone else. Check the table and try again.")
    if row is not None and read == "0":
        raise StaleRecord(
            f"Someone else set these expected starts meanwhile, to {row.starts}. Check them and try again."
        )
    before = None
    if row is None:
        row = ExpectedStarts(contract_id=contract.id, service_code=code, month=day, starts=int(text))
        db.session.add(row)
    else:
        check_version(row, read, "expected starts")
        before = row.starts
        row.starts = int(text)
    db.session.flush()
    record_event(
        "contract.expected_starts_changed",
        actor=actor,
        record=contract,
        details={
            "contract": contract.reference,
            "service_code": code,
            "month": day.strftime("%Y-%m"),
            "before": before,
            "after": int(text),
        },
    )
    commit("contract")
    return row


def set_expected_starts_for_months(
    actor: Any, contract: Contract, *, service_code: Any, from_month: Any, to_month: Any, starts: Any
) -> list[ExpectedStarts]:
    """Set the starts a contract expects of one service (an empty code: the whole contract) in every
    month from `from_month` to `to_month`, adding figures or changing them in place (so a page read
    before is stale, as after a CSV import). One audit event for the range, with the figures it
    replaced. Errors name the field: service_code, from_month, to_month, expected_starts."""
    access.require(actor, "manage", contract)
    lock(contract)
    errors: dict[str, list[str]] = {}
    code = _checked_service_code(contract, service_code, errors)
    first = _checked_month(contract, from_month, "from_month", "the first month", errors)
    last = _checked_month(contract, to_month, "to_month", "the last month", errors)
    if first and last and "from_month" not in errors and "to_month" not in errors and last < first:
        errors["to_month"] = ["The last month must be the same as or after the first month"]
    text = _checked_starts(starts, "Enter the starts expected in each month, like 12", errors)
    if errors or first is None or last is None:
        raise ValidationFailed(errors)
    existing = {
        row.month: row
        for row in db.session.scalars(
            select(ExpectedStarts).where(
                ExpectedStarts.contract_id == contract.id,
                ExpectedStarts.service_code == code,
                ExpectedStarts.month >= first,
                ExpectedStarts.month <= last,
            )
        )
    }
    rows, replaced = [], {}
    month = first
    while month <= last:
        row = existing.get(month)
        if row is None:
            row = ExpectedStarts(contract_id=contract.id, service_code=code, month=month, starts=int(text))
            db.session.add(row)
        else:
            replaced[month.strftime("%Y-%m")] = row.starts
            row.starts = int(text)
        rows.append(row)
        month = add_months(month, 1)
    db.session.flush()
    record_event(
        "contract.expected_starts_set_for_months",
        actor=actor,
        record=contract,
        details={
            "contract": contract.reference,
            "service_code": code,
            "from_month": first.strftime("%Y-%m"),
            "to_month": last.strftime("%Y-%m"),
            "months": len(rows),
            "starts": int(text),
            "replaced": replaced,
        },
    )
    commit("contract")
    return rows


def import_spend_profile(actor: Any, contract: Contract, data: bytes) -> int:
    """Replace the contract's spend profile with a CSV file's (month, expected_spend in pounds)."""
    access.require(actor, "manage", contract)
    lock(contract)
    rows = read_csv(data, SPEND_COLUMNS, max_bytes=200_000, max_rows=1_000, what="spend profile")
    errors: list[RowError] = []
    seen: dict[Any, int] = {}
    kept: list[SpendProfile] = []
    for row in rows:
        month = _month(row.values, contract, row.number, errors)
        try:
            pence = parse_pounds(row.values.get("expected_spend", ""))
        except NotAnAmount:
            errors.append(RowError(row.number, "expected_spend", "Enter the expected spend in pounds, like 12500.00"))
            continue
        if month is None:
            continue
        if month in seen:
            errors.append(RowError(row.number, "month", f"Row {seen[month]} already gives this month"))
            continue
        seen[month] = row.number
        kept.append(SpendProfile(contract_id=contract.id, month=month, expected_pence=pence))
    total = sum(r.expected_pence for r in kept)
    if not errors and total > contract.value_cap_pence:
        errors.append(
            RowError(None, "expected_spend", f"The profile adds up to £{pounds(total)}, more than the contract's cap")
        )
    if errors:
        db.session.rollback()
        raise FileRejected(errors, "spend profile")
    db.session.execute(delete(SpendProfile).where(SpendProfile.contract_id == contract.id))
    db.session.add_all(kept)
    record_event(
        "contract.spend_profile_set",
        actor=actor,
        record=contract,
        details={"contract": contract.reference, "months": len(kept), "total_pence": total},
    )
    commit("contract")
    return len(kept)


def expected_starts_of(contract: Contract) -> list[ExpectedStarts]:
    return list(
        db.session.scalars(
            select(ExpectedStarts)
            .where(ExpectedStarts.contract_id == contract.id)
            .order_by(ExpectedStarts.month, ExpectedStarts.service_code)
        )
    )


def spend_profile_of(contract: Contract) -> list[SpendProfile]:
    return list(
        db.session.scalars(
            select(SpendProfile).where(SpendProfile.contract_id == contract.id).order_by(SpendProfile.month)
        )
    )
