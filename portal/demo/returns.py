"""Demo service returns: for each demo contract that has run, a year of monthly returns made from
whatever records exist, in every status (accepted, returned for changes, submitted and a draft),
through the same operations the pages use, so each step is audited. Call after the contracts,
referrals, sessions and invoices are loaded: `load_demo_returns()`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.contracts.models import Contract, ContractStatus
from portal.dates import london_today
from portal.extensions import db
from portal.returns import service
from portal.returns.models import ServiceReturn
from portal.returns.periods import Period, PeriodKind, add_months

MONTHS = 12
NARRATIVE = {
    "achievements": (
        "Every referral was read and answered, with the risk information checked first. People housed on "
        "release and into training, and the first outcomes verified."
    ),
    "challenges": "One caseworker post was vacant for part of the month; prison movements delayed two first contacts.",
    "case_study": (
        "A man in his thirties, homeless on release, met his caseworker in custody two weeks before release. "
        "On the day he left prison he moved into supported housing, and he has kept every appointment since."
    ),
    "safeguarding_concerns": "1",
    "safeguarding_note": "One concern about a child's welfare, passed to the responsible officer the same day.",
    "complaints": "None this month.",
    "staffing": "Fully staffed from the third week.",
}


def _first(role: Role, organisation_id: int) -> User | None:
    return db.session.scalars(
        select(User)
        .where(User.role == role, User.organisation_id == organisation_id, User.active.is_(True))
        .order_by(User.id)
    ).first()


def _months(contract: Contract, today: date) -> list[Period]:
    """Up to twelve whole months the contract ran, ending with last month."""
    last = add_months(min(today, contract.end_date).replace(day=1), -1 if contract.end_date >= today else 0)
    months = [Period(PeriodKind.MONTH, add_months(last, -offset)) for offset in range(MONTHS - 1, -1, -1)]
    return [month for month in months if month.end >= contract.start_date and month.end < today]


def load_demo_returns() -> int:
    """Create the returns (skipping any period already reported); returns how many were made."""
    today = london_today()
    made = 0
    contracts = db.session.scalars(
        select(Contract).where(Contract.status != ContractStatus.DRAFT).order_by(Contract.reference)
    ).all()
    for contract in contracts:
        manager = _first(Role.PROVIDER_MANAGER, contract.partner_id)
        decider = _first(Role.CONTRACT_MANAGER, contract.crc_id)
        if manager is None or decider is None:
            continue
        periods = _months(contract, today)
        existing = set(
            db.session.scalars(select(ServiceReturn.period_start).where(ServiceReturn.contract_id == contract.id))
        )
        for index, period in enumerate(periods):
            if period.start in existing:
                continue
            from_end = len(periods) - index  # 1 for last month
            service_return = service.create_return(manager, contract, period)
            made += 1
            if from_end == 1 and contract.status == ContractStatus.ACTIVE:
                service.update_narrative(manager, service_return, {"achievements": NARRATIVE["achievements"]})
                continue  # last month's return is still being written
            service.update_narrative(manager, service_return, NARRATIVE)
            service.submit_return(manager, service_return, today=today)
            if from_end == 2 and contract.status == ContractStatus.ACTIVE:
                continue  # waiting for the contract manager
            if from_end == 3 and contract.status == ContractStatus.ACTIVE:
                service.return_return(
                    decider, service_return, reason="Please say how the vacancy is being covered, and resubmit."
                )
                continue
            service.accept_return(decider, service_return)
    return made
