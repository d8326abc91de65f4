"""A grant's schedule of instalments and its grant payments: the contract manager sets the schedule
(one instalment at a time, or a CSV file, all or nothing); the partner's manager raises each
instalment as a grant payment once it is released, which takes the next number of the partner's
invoice sequence; the contract manager approves, queries, rejects or marks it paid, as an invoice.

A grant paid by a schedule has no unit prices: once a contract has a schedule it is not invoiced
from a rate card (`refuse_rate_card_invoice`, which invoicing asks, and `paid_by_schedule`, which
keeps it off the contracts to invoice), and a contract already invoiced from its rate card cannot
be given a schedule. Its services need no priced item to take referrals: setting the schedule
opens any the portal closed for want of one (portal.contracts.services.open_for_a_schedule).

Each operation checks who is acting and the instalment's state, writes the change with its audit
event and commits, or raises a domain error and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select

from portal import access
from portal.audit.service import record_event
from portal.contracts.models import Contract, ContractStatus, ContractTier
from portal.contracts.services import open_for_a_schedule
from portal.csv_files import FileRejected, RowError, read_csv
from portal.dates import london_day, london_today, parse_user_date
from portal.errors import InvalidTransition, ValidationFailed
from portal.extensions import db
from portal.formatting import format_date, format_money
from portal.grants.models import RAISED_STATUSES, GrantInstalment, GrantPaymentStatus, Timing
from portal.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from portal.money import NotAnAmount, parse_pounds, pounds
from portal.organisations.models import Organisation
from portal.persistence import check_version, commit, guards_versions, lock
from portal.returns.models import ReturnStatus, ServiceReturn
from portal.workflow import StateMachine, Transition

S = GrantPaymentStatus
GRANT_WORKFLOW = StateMachine(
    "grant_payment",
    [
        Transition(
            "submit",
            frozenset({S.SCHEDULED, S.QUERIED}),
            S.SUBMITTED,
            "Only a scheduled instalment or a queried grant payment can be submitted",
        ),
        Transition("approve", frozenset({S.SUBMITTED}), S.APPROVED, "Only a submitted grant payment can be approved"),
        Transition("query", frozenset({S.SUBMITTED}), S.QUERIED, "Only a submitted grant payment can be queried"),
        Transition("reject", frozenset({S.SUBMITTED}), S.REJECTED, "Only a submitted grant payment can be rejected"),
        Transition("pay", frozenset({S.APPROVED}), S.PAID, "Only an approved grant payment can be marked paid"),
    ],
)
MAX_REASON = 2000
CSV_COLUMNS = ("period_start", "period_end", "due_on", "amount", "timing", "needs_accepted_return")


# --- what a schedule is ------------------------------------------------------------------------------


def has_schedule(contract: Contract) -> bool:
    return bool(db.session.scalar(select(exists().where(GrantInstalment.contract_id == contract.id))))


def paid_by_schedule() -> Any:
    """A clause true of a contract (joined as Contract) that is a grant paid by its schedule."""
    return (Contract.tier == ContractTier.GRANT) & exists().where(GrantInstalment.contract_id == Contract.id)


def refuse_rate_card_invoice(contract: Contract) -> None:
    """A grant paid by its schedule of instalments has no unit prices: no rate-card invoice."""
    if contract.tier == ContractTier.GRANT and has_schedule(contract):
        raise ValidationFailed.single(
            "contract",
            f"{contract.reference} is a grant paid by its schedule of instalments: raise its grant payments "
            "instead of invoicing it",
        )


def schedule_of(contract: Contract) -> list[GrantInstalment]:
    return list(
        db.session.scalars(
            select(GrantInstalment)
            .where(GrantInstalment.contract_id == contract.id)
            .order_by(GrantInstalment.period_start, GrantInstalment.id)
        )
    )


def live_schedule_of(contract: Contract) -> list[GrantInstalment]:
    """The schedule less rejected instalments: a rejected one keeps its period for the record, but
    its period may be funded again (by a replacement)."""
    return [i for i in schedule_of(contract) if i.status != S.REJECTED]


def paid_to_date_pence(contract: Contract) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(GrantInstalment.amount_pence), 0)).where(
                GrantInstalment.contract_id == contract.id, GrantInstalment.status == S.PAID
            )
        )
        or 0
    )


def grant_spend_pence(contract: Contract) -> int:
    """What the contract's grant payments add to spend against its cap: raised and not rejected."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(GrantInstalment.amount_pence), 0)).where(
                GrantInstalment.contract_id == contract.id, GrantInstalment.status.in_(RAISED_STATUSES)
            )
        )
        or 0
    )


# --- setting the schedule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalmentFields:
    period_start: date | None
    period_end: date | None
    due_on: date | None
    amount_pence: int | None
    timing: str | None
    needs_accepted_return: bool


def _problems(contract: Contract, fields: InstalmentFields, others: list[GrantInstalment]) -> dict[str, str]:
    """What is wrong with one instalment, by field (empty when nothing is)."""
    errors: dict[str, str] = {}
    if fields.period_start is None:
        errors["period_start"] = "Enter the first day of the period the instalment funds"
    if fields.period_end is None:
        errors["period_end"] = "Enter the last day of the period the instalment funds"
    if fields.due_on is None:
        errors["due_on"] = "Enter the date the instalment is due to be paid"
    if fields.amount_pence is None:
        errors["amount"] = "Enter the amount in pounds, like 10000 or 12,500.00"
    elif fields.amount_pence <= 0:
        errors["amount"] = "The amount must be more than £0"
    if fields.timing not in {timing.value for timing in Timing}:
        errors["timing"] = "Select whether the instalment is paid in advance or in arrears"
    start, end, due = fields.period_start, fields.period_end, fields.due_on
    if start and end:
        if end < start:
            errors["period_end"] = "The period must end on or after the day it starts"
        elif start < contract.start_date or end > contract.end_date:
            errors["period_start"] = (
                f"The period must be within the contract, {format_date(contract.start_date)} to "
                f"{format_date(contract.end_date)}"
            )
        else:
            for other in others:
                if other.period_start <= end and start <= other.period_end:
                    errors["period_start"] = (
                        f"The period overlaps the instalment for {format_date(other.period_start)} to "
                        f"{format_date(other.period_end)}"
                    )
                    break
    if start and end and due and "timing" not in errors and "period_end" not in errors:
        if fields.timing == Timing.ADVANCE and due > start:
            errors["due_on"] = "An instalment paid in advance is due on or before the first day of its period"
        if fields.timing == Timing.ARREARS and due <= end:
            errors["due_on"] = "An instalment paid in arrears is due after the last day of its period"
    return errors


def _check_contract_takes_a_schedule(contract: Contract) -> None:
    if contract.tier != ContractTier.GRANT:
        raise ValidationFailed.single("contract", "Only a grant (Tier III) is paid by a schedule of instalments")
    if contract.status == ContractStatus.ENDED:
        raise InvalidTransition("The contract has ended: its schedule can no longer change")
    invoiced = db.session.scalar(
        select(
            exists().where(
                Invoice.contract_id == contract.id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status != InvoiceStatus.DRAFT,
            )
        )
    )
    if invoiced:
        raise ValidationFailed.single(
            "contract",
            f"{contract.reference} has already been invoiced from its rate card, so it cannot also be paid by "
            "a schedule of instalments",
        )


def _check_cap(contract: Contract, adding_pence: int, *, field: str = "amount") -> None:
    scheduled = int(
        db.session.scalar(
            select(func.coalesce(func.sum(GrantInstalment.amount_pence), 0)).where(
                GrantInstalment.contract_id == contract.id, GrantInstalment.status != S.REJECTED
            )
        )
        or 0
    )
    if scheduled + adding_pence > contract.value_cap_pence:
        raise ValidationFailed.single(
            field,
            f"The schedule would come to {format_money(scheduled + adding_pence)}, more than the contract's "
            f"value cap of {format_money(contract.value_cap_pence)}",
        )


def add_instalment(actor: Any, contract: Contract, fields: InstalmentFields) -> GrantInstalment:
    """Add one instalment to a grant's schedule."""
    access.require(actor, "manage", contract)
    lock(contract)  # two additions at once must not both pass the overlap and cap checks
    _check_contract_takes_a_schedule(contract)
    errors = _problems(contract, fields, live_schedule_of(contract))
    if errors:
        raise ValidationFailed({key: [message] for key, message in errors.items()})
    _check_cap(contract, fields.amount_pence or 0)
    instalment = _instalment(actor, contract, fields)
    db.session.flush()
    record_event("grant.instalment_added", actor=actor, record=instalment, details=_described(contract, instalment))
    open_for_a_schedule(actor, contract)
    commit("grant schedule")
    return instalment


def _instalment(actor: Any, contract: Contract, fields: InstalmentFields) -> GrantInstalment:
    instalment = GrantInstalment(
        contract_id=contract.id,
        partner_id=contract.partner_id,
        period_start=fields.period_start,
        period_end=fields.period_end,
        due_on=fields.due_on,
        amount_pence=fields.amount_pence,
        timing=Timing(fields.timing),
        needs_accepted_return=fields.needs_accepted_return,
        status=S.SCHEDULED,
        created_by_id=actor.id,
    )
    db.session.add(instalment)
    return instalment


def _described(contract: Contract, instalment: GrantInstalment) -> dict[str, Any]:
    return {
        "contract": contract.reference,
        "period_start": instalment.period_start,
        "period_end": instalment.period_end,
        "due_on": instalment.due_on,
        "amount_pence": instalment.amount_pence,
        "timing": instalment.timing.value,
        "needs_accepted_return": instalment.needs_accepted_return,
    }


@guards_versions("instalment")
def remove_instalment(actor: Any, instalment: GrantInstalment, *, version: int | None = None) -> None:
    """Take an instalment not yet raised off the schedule."""
    contract = db.session.get(Contract, instalment.contract_id)
    access.require(actor, "manage", contract)
    lock(instalment)
    check_version(instalment, version, "instalment")
    if instalment.status != S.SCHEDULED:
        raise InvalidTransition("A grant payment already raised stays on the schedule")
    details = _described(contract, instalment)
    record_event("grant.instalment_removed", actor=actor, record=instalment, details=details)
    db.session.delete(instalment)
    commit("grant schedule")


def import_schedule(actor: Any, contract: Contract, data: bytes) -> list[GrantInstalment]:
    """Replace the instalments not yet raised with those of a CSV file (columns CSV_COLUMNS), all or
    nothing: errors name the row (the header is row 1) and the column."""
    access.require(actor, "manage", contract)
    lock(contract)
    _check_contract_takes_a_schedule(contract)
    rows = read_csv(
        data,
        CSV_COLUMNS,
        max_bytes=200_000,
        max_rows=500,
        required_columns=CSV_COLUMNS[:5],
        what="schedule",
    )
    raised = [i for i in live_schedule_of(contract) if i.status != S.SCHEDULED]
    errors: list[RowError] = []
    accepted: list[InstalmentFields] = []
    placed: list[GrantInstalment] = list(raised)
    for row in rows:
        fields, parse_errors = _fields_from_row(row.values)
        problems = {**_problems(contract, fields, placed), **parse_errors}
        for field_name, message in problems.items():
            column = "amount" if field_name == "amount" else field_name
            errors.append(RowError(row.number, column, message))
        if not problems:
            accepted.append(fields)
            placed.append(
                GrantInstalment(
                    period_start=fields.period_start, period_end=fields.period_end, amount_pence=fields.amount_pence
                )
            )
    total = sum(i.amount_pence for i in raised if i.status != S.REJECTED) + sum(f.amount_pence or 0 for f in accepted)
    if not errors and total > contract.value_cap_pence:
        errors.append(
            RowError(
                None,
                "amount",
                f"The schedule would come to {format_money(total)}, more than the contract's value cap of "
                f"{format_money(contract.value_cap_pence)}",
            )
        )
    if errors:
        db.session.rollback()
        raise FileRejected(errors, "schedule")
    removed = db.session.execute(
        delete(GrantInstalment).where(GrantInstalment.contract_id == contract.id, GrantInstalment.status == S.SCHEDULED)
    ).rowcount
    db.session.flush()
    made = [_instalment(actor, contract, fields) for fields in accepted]
    db.session.flush()
    record_event(
        "grant.schedule_imported",
        actor=actor,
        record=contract,
        details={
            "contract": contract.reference,
            "instalments_replaced": removed,
            "instalments": [_described(contract, instalment) for instalment in made],
        },
    )
    open_for_a_schedule(actor, contract)
    commit("grant schedule")
    return made


def _fields_from_row(values: dict[str, str]) -> tuple[InstalmentFields, dict[str, str]]:
    errors: dict[str, str] = {}

    def day(column: str, what: str) -> date | None:
        text = values.get(column, "")
        parsed = _iso_date(text)
        if text and parsed is None:
            errors[column] = f"Enter {what} as YYYY-MM-DD, like 2027-04-01"
        return parsed

    amount: int | None = None
    if values.get("amount"):
        try:
            amount = parse_pounds(values["amount"])
        except NotAnAmount:
            errors["amount"] = "Enter the amount in pounds, like 10000 or 12500.00"
    needs = (values.get("needs_accepted_return") or "no").strip().lower()
    if needs not in ("yes", "no"):
        errors["needs_accepted_return"] = "Enter yes or no"
    fields = InstalmentFields(
        period_start=day("period_start", "the period's first day"),
        period_end=day("period_end", "the period's last day"),
        due_on=day("due_on", "the due date"),
        amount_pence=amount,
        timing=(values.get("timing") or "").strip().lower() or None,
        needs_accepted_return=needs == "yes",
    )
    return fields, errors


def _iso_date(text: str) -> date | None:
    try:
        parsed = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if 1900 <= parsed.year <= 2099 else None


def schedule_csv(contract: Contract) -> list[list[str]]:
    """The schedule as the rows of the CSV file the import takes (an export to edit and import)."""
    return [
        [
            i.period_start.isoformat(),
            i.period_end.isoformat(),
            i.due_on.isoformat(),
            pounds(i.amount_pence),
            i.timing.value,
            "yes" if i.needs_accepted_return else "no",
        ]
        for i in schedule_of(contract)
    ]


# --- when an instalment may be raised --------------------------------------------------------------------


def raise_from(contract: Contract, instalment: GrantInstalment) -> date:
    """The first day it may be raised: in advance, its due date less the contract's payment terms
    (so that, paid within terms, it is paid when due); in arrears, once its period has ended."""
    if instalment.timing == Timing.ADVANCE:
        return instalment.due_on - timedelta(days=contract.payment_terms_days)
    return instalment.period_end + timedelta(days=1)


Returns = list[tuple[date, date]]


def accepted_returns(contract_ids: list[int]) -> dict[int, Returns]:
    """The periods of each contract's accepted service returns: one query for any number of contracts."""
    found: dict[int, Returns] = {contract_id: [] for contract_id in contract_ids}
    for contract_id, start, end in db.session.execute(
        select(ServiceReturn.contract_id, ServiceReturn.period_start, ServiceReturn.period_end).where(
            ServiceReturn.contract_id.in_(contract_ids), ServiceReturn.status == ReturnStatus.ACCEPTED
        )
    ):
        found[contract_id].append((start, end))
    return found


def months_without_accepted_return(instalment: GrantInstalment, returns: Returns | None = None) -> list[date]:
    """The months of the instalment's period that no accepted service return of its contract covers."""
    if returns is None:
        returns = accepted_returns([instalment.contract_id])[instalment.contract_id]
    missing = []
    month = instalment.period_start.replace(day=1)
    while month <= instalment.period_end:
        if not any(start <= month and end >= month for start, end in returns):
            missing.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return missing


def why_not_released(
    contract: Contract, instalment: GrantInstalment, today: date, returns: Returns | None = None
) -> str | None:
    """None when the instalment may be raised now; else why not, in words."""
    first = raise_from(contract, instalment)
    if today < first:
        return f"It can be raised from {format_date(first)}"
    if instalment.needs_accepted_return and months_without_accepted_return(instalment, returns):
        return "It is released when the service returns for its period have been accepted"
    return None


def state_of(contract: Contract, instalment: GrantInstalment, today: date, returns: Returns | None = None) -> str:
    """What the schedule page says of an instalment not yet raised: "not_yet", "awaiting_return"
    or "ready"."""
    if today < raise_from(contract, instalment):
        return "not_yet"
    if instalment.needs_accepted_return and months_without_accepted_return(instalment, returns):
        return "awaiting_return"
    return "ready"


# --- the grant payment's workflow ------------------------------------------------------------------------


def _contract(instalment: GrantInstalment) -> Contract:
    return db.session.get(Contract, instalment.contract_id)


def _tell(event: str, instalment: GrantInstalment, actor: Any, **context: Any) -> None:
    """Hand the news to portal/notifications/rules.py, which decides who is told (as invoices do:
    a raised payment to the contract managers, a decision on it to the partner's managers)."""
    from portal.notifications.rules import notify

    contract = _contract(instalment)
    notify(
        event,
        instalment,
        actor=actor,
        instalment=instalment,
        contract=contract,
        partner=db.session.get(Organisation, contract.partner_id),
        **context,
    )


@guards_versions("grant payment")
def submit_payment(actor: Any, instalment: GrantInstalment, *, version: int | None = None) -> GrantInstalment:
    """Raise a released instalment as a grant payment (it takes the partner's next number), or
    resubmit a queried one under its number."""
    from portal.invoicing.service import ensure_sequence, take_number

    access.require(actor, "claim", instalment)
    lock(instalment)
    contract = _contract(instalment)
    check_version(instalment, version, "grant payment")
    GRANT_WORKFLOW.check(instalment, "submit")
    today = london_today()
    first_submission = instalment.number is None
    if first_submission:
        reason = why_not_released(contract, instalment, today)
        if reason:
            raise InvalidTransition(f"This instalment is not released yet. {reason}")
        ensure_sequence(db.session.get(Organisation, contract.partner_id))
        instalment.number = take_number(contract.partner_id)
        instalment.payment_due_on = max(instalment.due_on, today + timedelta(days=contract.payment_terms_days))
    from portal.remittance.service import freeze_remittance

    # Each submission issues it again, with the partner's confirmed details of that day; its PDF
    # then never changes after a later change of bank account.
    freeze_remittance(instalment, contract)
    GRANT_WORKFLOW.apply(
        instalment,
        "submit",
        actor,
        details={
            "number": instalment.number,
            "amount_pence": instalment.amount_pence,
            "resubmitted": not first_submission,
            "contract": contract.reference,
        },
    )
    _tell("grant_payment_submitted", instalment, actor, resubmitted=not first_submission)
    commit("grant payment")
    return instalment


@guards_versions("grant payment")
def approve_payment(actor: Any, instalment: GrantInstalment, *, version: int | None = None) -> GrantInstalment:
    access.require(actor, "decide", instalment)
    lock(instalment)
    check_version(instalment, version, "grant payment")
    GRANT_WORKFLOW.apply(
        instalment, "approve", actor, details={"number": instalment.number, "amount_pence": instalment.amount_pence}
    )
    _tell(
        "grant_payment_decided",
        instalment,
        actor,
        decision="approved",
        next_step=f"It is due for payment on {format_date(instalment.payment_due_on)}.",
    )
    commit("grant payment")
    return instalment


def _reason(reason: Any, missing: str) -> str:
    text = str(reason or "").strip()
    if not text:
        raise ValidationFailed.single("reason", missing)
    if len(text) > MAX_REASON:
        raise ValidationFailed.single("reason", f"The reason must be {MAX_REASON:,} characters or fewer")
    return text


@guards_versions("grant payment")
def query_payment(
    actor: Any, instalment: GrantInstalment, *, reason: str, version: int | None = None
) -> GrantInstalment:
    access.require(actor, "decide", instalment)
    lock(instalment)
    check_version(instalment, version, "grant payment")
    GRANT_WORKFLOW.check(instalment, "query")
    text = _reason(reason, "Say what the partner needs to check or change")
    instalment.query_reason = text
    GRANT_WORKFLOW.apply(instalment, "query", actor, details={"number": instalment.number, "reason": text})
    _tell(
        "grant_payment_decided",
        instalment,
        actor,
        decision="queried",
        reason=text,
        next_step="Check what the CRC asks, then resubmit the grant payment from its page.",
    )
    commit("grant payment")
    return instalment


@guards_versions("grant payment")
def reject_payment(
    actor: Any, instalment: GrantInstalment, *, reason: str, version: int | None = None
) -> GrantInstalment:
    access.require(actor, "decide", instalment)
    lock(instalment)
    check_version(instalment, version, "grant payment")
    GRANT_WORKFLOW.check(instalment, "reject")
    text = _reason(reason, "Say why the grant payment is rejected")
    instalment.rejection_reason = text
    GRANT_WORKFLOW.apply(instalment, "reject", actor, details={"number": instalment.number, "reason": text})
    _tell(
        "grant_payment_decided",
        instalment,
        actor,
        decision="rejected",
        reason=text,
        next_step="The instalment for this period can be replaced from the grant payment's page.",
    )
    commit("grant payment")
    return instalment


@guards_versions("grant payment")
def mark_paid(
    actor: Any,
    instalment: GrantInstalment,
    *,
    paid_on: Any,
    payment_reference: str,
    version: int | None = None,
) -> GrantInstalment:
    access.require(actor, "decide", instalment)
    lock(instalment)
    check_version(instalment, version, "grant payment")
    GRANT_WORKFLOW.check(instalment, "pay")
    day = paid_on if isinstance(paid_on, date) else parse_user_date(paid_on)
    if day is None:
        raise ValidationFailed.single("paid_on", "Enter the date it was paid")
    if day > london_today():
        raise ValidationFailed.single("paid_on", "The date paid cannot be in the future")
    submitted_on = london_day(instalment.submitted_at)
    if submitted_on and day < submitted_on:
        raise ValidationFailed.single("paid_on", "The date paid cannot be before the grant payment was raised")
    reference = str(payment_reference or "").strip()
    if not reference:
        raise ValidationFailed.single(
            "payment_reference", "Enter the payment reference from the bank or finance system"
        )
    if len(reference) > 60:
        raise ValidationFailed.single("payment_reference", "The payment reference must be 60 characters or fewer")
    instalment.paid_on, instalment.payment_reference = day, reference
    GRANT_WORKFLOW.apply(
        instalment, "pay", actor, details={"number": instalment.number, "paid_on": day, "payment_reference": reference}
    )
    _tell(
        "grant_payment_decided",
        instalment,
        actor,
        decision="paid",
        next_step=f"Paid on {format_date(day)}, payment reference {reference}.",
    )
    commit("grant payment")
    return instalment


def actions_for(actor: Any, instalment: GrantInstalment) -> frozenset[str]:
    """The buttons a page offers `actor` on this instalment now (the operations check again)."""
    actions: set[str] = set()
    if access.can(actor, "claim", instalment) and instalment.status in (S.SCHEDULED, S.QUERIED):
        actions.add("submit")
    if access.can(actor, "decide", instalment):
        if instalment.status == S.SUBMITTED:
            actions |= {"approve", "query", "reject"}
        if instalment.status == S.APPROVED:
            actions.add("pay")
    if access.can(actor, "manage", _contract(instalment)) and instalment.status == S.SCHEDULED:
        actions.add("remove")
    if may_replace(actor, instalment) and replacement_of(instalment) is None:
        actions.add("replace")
    return frozenset(actions)


# --- replacing a rejected grant payment --------------------------------------------------------------


def replacement_of(instalment: GrantInstalment) -> GrantInstalment | None:
    """The instalment raised again for a rejected one's period, if any (the newest)."""
    return db.session.scalars(
        select(GrantInstalment)
        .where(GrantInstalment.replaces_id == instalment.id)
        .order_by(GrantInstalment.id.desc())
        .limit(1)
    ).first()


def may_replace(actor: Any, instalment: GrantInstalment) -> bool:
    """Whether `actor` may put a replacement on the schedule for this rejected grant payment: the
    contract manager (who keeps the schedule), or the partner's manager (who raises it)."""
    if instalment.status != S.REJECTED:
        return False
    return access.can(actor, "manage", _contract(instalment)) or access.can(actor, "claim", instalment)


@guards_versions("grant payment")
def replace_rejected(
    actor: Any,
    rejected: GrantInstalment,
    *,
    amount_pence: int | None = None,
    due_on: date | None = None,
    version: int | None = None,
) -> GrantInstalment:
    """Put a new instalment on the schedule for a rejected grant payment's period, keeping the
    rejected one (its number, reason and history stay as they were). The replacement is scheduled
    and raised as any instalment, taking a new number.

    The grant's rules: the schedule is the contract manager's, so only a contract manager may change
    the amount or the due date; the partner's manager may replace a rejected payment only as it was
    scheduled (the CRC decides on it again when it is raised)."""
    contract = _contract(rejected)
    manages = access.can(actor, "manage", contract)
    if not manages:
        access.require(actor, "claim", rejected)
    lock(contract)  # two replacements at once must not both pass the checks below
    lock(rejected)
    check_version(rejected, version, "grant payment")
    if rejected.status != S.REJECTED:
        raise InvalidTransition("Only a rejected grant payment can be replaced")
    already = replacement_of(rejected)
    if already is not None:
        raise InvalidTransition(
            f"This grant payment has already been replaced ({already.number or 'an instalment not yet raised'})"
        )
    if contract.status == ContractStatus.ENDED:
        raise InvalidTransition("The contract has ended: its schedule can no longer change")
    if not manages and (amount_pence is not None or due_on is not None):
        changed = "amount" if amount_pence is not None else "due_on"
        raise ValidationFailed.single(
            changed, "Only the CRC's contract manager can change the amount or due date of an instalment"
        )
    fields = InstalmentFields(
        period_start=rejected.period_start,
        period_end=rejected.period_end,
        due_on=due_on or rejected.due_on,
        amount_pence=rejected.amount_pence if amount_pence is None else amount_pence,
        timing=rejected.timing.value,
        needs_accepted_return=rejected.needs_accepted_return,
    )
    others = [i for i in live_schedule_of(contract) if i.id != rejected.id]
    errors = _problems(contract, fields, others)
    if errors:
        raise ValidationFailed({key: [message] for key, message in errors.items()})
    _check_cap(contract, fields.amount_pence or 0)
    replacement = _instalment(actor, contract, fields)
    replacement.replaces_id = rejected.id
    db.session.flush()
    record_event(
        "grant.instalment_replaced",
        actor=actor,
        record=replacement,
        details=_described(contract, replacement) | {"replaces": rejected.number, "replaces_id": rejected.id},
    )
    commit("grant schedule")
    return replacement


def register_hooks() -> None:
    """Grant payments count against the contract's value cap, as invoices do."""
    from portal.contracts import service as contracts_service

    if grant_spend_pence not in contracts_service.spend_calculators:
        contracts_service.spend_calculators.append(grant_spend_pence)
