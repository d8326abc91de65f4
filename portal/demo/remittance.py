"""Demo remittance details: every partner's bank account confirmed by the CRC, its remittance email
and a purchase order number per contract; one partner's change of bank account awaits confirmation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.contracts.models import Contract
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.remittance import service

# Invented accounts: sort codes in a range no UK bank uses for customer accounts.
SORT_CODE_BASE = 990000


def load(managers: dict[int, Any], contract_manager: Any) -> None:
    """`managers`: each partner organisation's id -> one of its partner managers."""
    organisations = [db.session.get(Organisation, organisation_id) for organisation_id in sorted(managers)]
    for index, organisation in enumerate(organisations):
        manager = managers[organisation.id]
        change = service.request_bank_change(
            manager,
            organisation,
            account_name=organisation.name[:70],
            sort_code=f"{SORT_CODE_BASE + index * 11:06d}",
            account_number=f"{40000000 + organisation.id * 1009:08d}",
        )
        service.confirm_bank_change(contract_manager, organisation, change_id=change.id)
        contracts = db.session.scalars(
            select(Contract).where(Contract.partner_id == organisation.id).order_by(Contract.reference)
        ).all()
        domain = manager.email.split("@", 1)[1]
        service.update_remittance(
            manager,
            organisation,
            remittance_email=f"finance@{domain}",
            purchase_orders_by_contract={
                contract.id: f"PO-{4100 + contract.id:05d}" for n, contract in enumerate(contracts) if n % 3 != 2
            },
        )
    if organisations:
        # The first partner has moved bank: its new account waits for the contract manager's telephone check.
        first = organisations[0]
        service.request_bank_change(
            managers[first.id],
            first,
            account_name=f"{first.name} (operating account)"[:70],
            sort_code=f"{SORT_CODE_BASE + 99:06d}",
            account_number=f"{70000000 + first.id * 1009:08d}",
        )
