"""Demo service returns: for each active demo contract, its last twelve months reported in every
status, through the same operations the pages use. The history (portal.demo.history) calls these
on the days they happen: a month's return is written and submitted early in the next month and
decided a few days later, so the audit log and the returns list read as real work did."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from portal.accounts.models import User
from portal.contracts.models import Contract
from portal.dates import Period, PeriodKind, add_months
from portal.returns import service
from portal.returns.models import ServiceReturn

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
    "safeguarding_note": "Each concern in the figures was passed to the responsible officer the same day.",
    "complaints": "None this month.",
    "staffing": "Fully staffed from the third week.",
}
RETURNED_REASON = "Please say how the vacancy is being covered, and resubmit."


class Stage(StrEnum):
    """Where a month's return has got to today."""

    DRAFT = "draft"  # last month's: still being written
    SUBMITTED = "submitted"  # the month before: waiting for the contract manager
    RETURNED = "returned"  # the one before that: sent back for changes
    ACCEPTED = "accepted"  # every earlier month


def months_to_report(contract: Contract, today: date) -> list[tuple[Period, Stage]]:
    """Up to twelve whole months the contract ran before `today`, oldest first, each with its stage."""
    last = add_months(today.replace(day=1), -1)
    months = [Period(PeriodKind.MONTH, add_months(last, -offset)) for offset in range(MONTHS - 1, -1, -1)]
    months = [m for m in months if m.start >= contract.start_date and m.end <= contract.end_date and m.end < today]
    stages = {1: Stage.DRAFT, 2: Stage.SUBMITTED, 3: Stage.RETURNED}
    return [(month, stages.get(len(months) - index, Stage.ACCEPTED)) for index, month in enumerate(months)]


def write(manager: User, contract: Contract, period: Period, stage: Stage) -> ServiceReturn:
    """The partner manager starts the return, writes its narrative and, unless still writing, submits it."""
    service_return = service.create_return(manager, contract, period)
    if stage == Stage.DRAFT:
        service.update_narrative(manager, service_return, {"achievements": NARRATIVE["achievements"]})
        return service_return
    service.update_narrative(manager, service_return, NARRATIVE)
    service.submit_return(manager, service_return)
    return service_return


def decide(decider: User, service_return: ServiceReturn, stage: Stage) -> None:
    """The contract manager accepts the return, or sends it back."""
    if stage == Stage.RETURNED:
        service.return_return(decider, service_return, reason=RETURNED_REASON)
    elif stage == Stage.ACCEPTED:
        service.accept_return(decider, service_return)
