"""Operations on a partner's remittance details: its partner managers keep the remittance email
and purchase order numbers and ask to change the bank account; a contract manager confirms (or
rejects) a change of bank account before it takes effect. Each writes its audit event."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from portal import access
from portal.accounts.models import Role, User
from portal.audit.service import record_event
from portal.contracts.models import Contract
from portal.db import utcnow
from portal.errors import InvalidTransition, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.persistence import check_version, commit, guards_versions, lock
from portal.remittance.models import BankDetailsChange, ChangeStatus, PurchaseOrder, RemittanceDetails

MAX_ACCOUNT_NAME = 70
MAX_PURCHASE_ORDER = 40


# --- reading -------------------------------------------------------------------------------------------


def details_of(organisation_id: int) -> RemittanceDetails | None:
    return db.session.scalars(
        select(RemittanceDetails).where(RemittanceDetails.organisation_id == organisation_id)
    ).first()


def pending_change(organisation_id: int) -> BankDetailsChange | None:
    return db.session.scalars(
        select(BankDetailsChange).where(
            BankDetailsChange.organisation_id == organisation_id, BankDetailsChange.status == ChangeStatus.PENDING
        )
    ).first()


def changes_of(organisation_id: int, limit: int = 10) -> list[BankDetailsChange]:
    return list(
        db.session.scalars(
            select(BankDetailsChange)
            .where(BankDetailsChange.organisation_id == organisation_id)
            .order_by(BankDetailsChange.requested_at.desc(), BankDetailsChange.id.desc())
            .limit(limit)
        )
    )


def purchase_orders(contract_ids: list[int]) -> dict[int, PurchaseOrder]:
    if not contract_ids:
        return {}
    return {
        order.contract_id: order
        for order in db.session.scalars(select(PurchaseOrder).where(PurchaseOrder.contract_id.in_(contract_ids)))
    }


@dataclass(frozen=True)
class Remittance:
    """What an invoice prints: the confirmed bank account, the remittance email, the purchase order."""

    account_name: str | None
    sort_code: str | None
    account_number: str | None
    remittance_email: str | None
    purchase_order: str | None

    @property
    def sort_code_text(self) -> str:
        from portal.remittance.models import sort_code_text

        return sort_code_text(self.sort_code)

    @property
    def has_bank_account(self) -> bool:
        return bool(self.sort_code and self.account_number)


def remittance_for(contract: Contract) -> Remittance:
    """The remittance details an invoice of `contract` carries (its partner's confirmed account)."""
    details = details_of(contract.partner_id)
    order = purchase_orders([contract.id]).get(contract.id)
    return Remittance(
        account_name=details.account_name if details else None,
        sort_code=details.sort_code if details else None,
        account_number=details.account_number if details else None,
        remittance_email=details.remittance_email if details else None,
        purchase_order=order.number if order else None,
    )


def remittance_of(invoice: Any, contract: Contract) -> Remittance:
    """What an invoice or credit note prints: the details frozen when it was issued, or (a draft)
    the partner's confirmed details now."""
    if invoice.remittance:
        return Remittance(**invoice.remittance)
    return remittance_for(contract)


def freeze_remittance(invoice: Any, contract: Contract) -> None:
    """Keep on the invoice the details it is issued with (each submission issues it again)."""
    invoice.remittance = asdict(remittance_for(contract))


def pending_changes_for(user: User) -> list[tuple[Organisation, BankDetailsChange]]:
    """Bank detail changes awaiting confirmation, of the partners `user` sees, oldest first."""
    rows = db.session.execute(
        select(Organisation, BankDetailsChange)
        .join(BankDetailsChange, BankDetailsChange.organisation_id == Organisation.id)
        .where(BankDetailsChange.status == ChangeStatus.PENDING, access.visibility_clause(Organisation, user))
        .order_by(BankDetailsChange.requested_at, BankDetailsChange.id)
    ).all()
    return [(organisation, change) for organisation, change in rows]


# --- checking what people type -------------------------------------------------------------------------


def _digits(value: Any) -> str:
    return re.sub(r"[\s-]", "", str(value or ""))


def check_bank_account(account_name: Any, sort_code: Any, account_number: Any) -> tuple[str, str, str]:
    """The account as stored (name trimmed, six and eight digits), or ValidationFailed naming each field."""
    errors: dict[str, list[str]] = {}
    name = " ".join(str(account_name or "").split())
    if not name:
        errors["account_name"] = ["Enter the name on the account"]
    elif len(name) > MAX_ACCOUNT_NAME:
        errors["account_name"] = [f"The name on the account must be {MAX_ACCOUNT_NAME} characters or fewer"]
    code = _digits(sort_code)
    if not code:
        errors["sort_code"] = ["Enter a sort code"]
    elif not re.fullmatch(r"\d{6}", code):
        errors["sort_code"] = ["Enter a valid sort code like 309430"]
    number = _digits(account_number)
    if not number:
        errors["account_number"] = ["Enter an account number"]
    elif not re.fullmatch(r"\d{6,8}", number):
        errors["account_number"] = ["Enter a valid account number like 00733445"]
    elif len(number) < 8:
        errors["account_number"] = ["Account number must be 8 digits; if yours has 6 or 7, add zeros at the start"]
    if errors:
        raise ValidationFailed(errors)
    return name, code, number


def _check_partner(organisation: Organisation) -> None:
    if not organisation.is_partner:
        raise InvalidTransition("Only a partner organisation has remittance details")


def _details_for_update(actor: Any, organisation: Organisation) -> RemittanceDetails:
    details = details_of(organisation.id)
    if details is None:
        details = RemittanceDetails(organisation_id=organisation.id, updated_by_id=actor.id)
        db.session.add(details)
        db.session.flush()
    return details


# --- the partner's managers ----------------------------------------------------------------------------


@guards_versions("bank details change")
def request_bank_change(
    actor: Any, organisation: Organisation, *, account_name: Any, sort_code: Any, account_number: Any
) -> BankDetailsChange:
    """Ask to be paid into this account. It takes effect when a contract manager confirms it; a
    request waiting for confirmation is replaced by this one."""
    access.require(actor, "keep_remittance", organisation)
    _check_partner(organisation)
    lock(organisation)  # two requests at once: the second replaces the first, never both pending
    name, code, number = check_bank_account(account_name, sort_code, account_number)
    replaced = pending_change(organisation.id)
    if replaced is not None:
        replaced.status = ChangeStatus.WITHDRAWN
        replaced.decided_at, replaced.decided_by_id = utcnow(), actor.id
        db.session.flush()
    change = BankDetailsChange(
        organisation_id=organisation.id,
        account_name=name,
        sort_code=code,
        account_number=number,
        status=ChangeStatus.PENDING,
        requested_at=utcnow(),
        requested_by_id=actor.id,
    )
    db.session.add(change)
    db.session.flush()
    record_event(
        "remittance.bank_change_requested",
        actor=actor,
        record=organisation,
        details={
            "change": change.id,
            "replaces_change": replaced.id if replaced else None,
            # Never the whole account in the log: enough to recognise it.
            "sort_code": code,
            "account_number_ends": number[-4:],
        },
    )
    commit("bank details change")
    return change


@guards_versions("remittance details")
def update_remittance(
    actor: Any,
    organisation: Organisation,
    *,
    remittance_email: Any,
    purchase_orders_by_contract: dict[int, Any],
    version: int | str | None = None,
) -> RemittanceDetails:
    """The remittance email and each contract's purchase order number (empty clears it). These take
    effect at once: they say where advice goes and what to quote, not where money goes."""
    access.require(actor, "keep_remittance", organisation)
    _check_partner(organisation)
    lock(organisation)
    details = _details_for_update(actor, organisation)
    check_version(details, version, "remittance details")
    errors: dict[str, list[str]] = {}
    email = str(remittance_email or "").strip()
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["remittance_email"] = ["Enter an email address in the correct format, like finance@example.org"]
    contracts = {
        contract.id: contract
        for contract in db.session.scalars(select(Contract).where(Contract.partner_id == organisation.id))
    }
    numbers: dict[int, str] = {}
    for contract_id, value in purchase_orders_by_contract.items():
        if contract_id not in contracts:
            continue  # only the organisation's own contracts
        number = " ".join(str(value or "").split())
        if len(number) > MAX_PURCHASE_ORDER:
            errors[f"po_{contract_id}"] = [
                f"The purchase order number for {contracts[contract_id].reference} must be "
                f"{MAX_PURCHASE_ORDER} characters or fewer"
            ]
        numbers[contract_id] = number
    if errors:
        raise ValidationFailed(errors)
    before = {"remittance_email": details.remittance_email}
    details.remittance_email = email or None
    details.updated_by_id = actor.id
    existing = purchase_orders(list(numbers))
    changed_orders = {}
    for contract_id, number in numbers.items():
        order = existing.get(contract_id)
        old = order.number if order else ""
        if number == old:
            continue
        changed_orders[contracts[contract_id].reference] = {"before": old or None, "after": number or None}
        if order is None:
            db.session.add(PurchaseOrder(contract_id=contract_id, number=number, updated_by_id=actor.id))
        elif number:
            order.number, order.updated_by_id = number, actor.id
        else:
            db.session.delete(order)
    record_event(
        "remittance.details_updated",
        actor=actor,
        record=organisation,
        details={
            "remittance_email": {"before": before["remittance_email"], "after": details.remittance_email},
            "purchase_orders": changed_orders,
        },
    )
    commit("remittance details")
    return details


# --- the CRC's contract managers -----------------------------------------------------------------------


def _decidable(actor: Any, organisation: Organisation, change_id: Any) -> BankDetailsChange:
    access.require(actor, "confirm_bank_details", organisation)
    lock(organisation)
    change = pending_change(organisation.id)
    if change is None:
        raise InvalidTransition("There is no change of bank details awaiting confirmation")
    if change_id is not None and str(change_id) != str(change.id):
        raise StaleRecord("The partner changed its request while you were reading it. Check the new details")
    if change.requested_by_id == actor.id:
        raise InvalidTransition("Someone other than who asked for it confirms a change of bank details")
    return change


@guards_versions("bank details change")
def confirm_bank_change(actor: Any, organisation: Organisation, *, change_id: Any = None) -> BankDetailsChange:
    """The change takes effect: invoices print the new account from now on. The partner's managers
    are told (by email), so a change they did not ask for is noticed."""
    change = _decidable(actor, organisation, change_id)
    details = _details_for_update(actor, organisation)
    before = {"sort_code": details.sort_code, "account_number_ends": (details.account_number or "")[-4:] or None}
    details.account_name, details.sort_code, details.account_number = (
        change.account_name,
        change.sort_code,
        change.account_number,
    )
    details.bank_confirmed_at, details.bank_confirmed_by_id = utcnow(), actor.id
    change.status = ChangeStatus.CONFIRMED
    change.decided_at, change.decided_by_id = utcnow(), actor.id
    record_event(
        "remittance.bank_change_confirmed",
        actor=actor,
        record=organisation,
        details={
            "change": change.id,
            "before": before,
            "after": {"sort_code": change.sort_code, "account_number_ends": change.account_number[-4:]},
        },
    )
    _tell("bank_details_confirmed", organisation, change, actor)
    commit("bank details change")
    return change


@guards_versions("bank details change")
def reject_bank_change(
    actor: Any, organisation: Organisation, *, reason: Any, change_id: Any = None
) -> BankDetailsChange:
    """The change does not take effect (for example, the partner did not confirm it by telephone)."""
    change = _decidable(actor, organisation, change_id)
    text = str(reason or "").strip()
    if not text:
        raise ValidationFailed.single("reason", "Say why the change is rejected")
    if len(text) > 2000:
        raise ValidationFailed.single("reason", "The reason must be 2,000 characters or fewer")
    change.status = ChangeStatus.REJECTED
    change.decided_at, change.decided_by_id = utcnow(), actor.id
    change.rejection_reason = text
    record_event(
        "remittance.bank_change_rejected",
        actor=actor,
        record=organisation,
        details={"change": change.id, "reason": text},
    )
    _tell("bank_details_rejected", organisation, change, actor)
    commit("bank details change")
    return change


def _tell(event: str, organisation: Organisation, change: BankDetailsChange, actor: Any) -> None:
    from portal.notifications.rules import notify

    notify(event, change, actor=actor, organisation=organisation, change=change, actor_name=actor.name)


def partner_managers(organisation_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(
                User.organisation_id == organisation_id, User.role == Role.PROVIDER_MANAGER, User.active.is_(True)
            )
        )
    )
