"""No list costs more queries for more rows: what each item shows is loaded with it (eager loads),
never with one query a row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.accounts.models import Role
from portal.contracts.models import OutcomeType
from portal.dates import london_today
from portal.extensions import db
from portal.invoicing import service as invoicing
from portal.referrals.models import ReferralStatus
from portal.returns import service as returns
from tests.api.conftest import NARRATIVE, World, _session
from tests.factories import ContractFactory, OutcomeFactory, ReferralFactory, UserFactory
from tests.helpers import QueryCounter

LISTS = [
    ("referrer", "/contracts"),
    ("nacro_manager", "/contracts/BENCH-ACC-01"),
    ("referrer", "/referrals"),
    ("nacro_manager", "/referrals"),
    ("nacro_manager", "/referrals/AC1000AA/sessions"),
    ("referrer", "/outcomes"),
    ("nacro_manager", "/referrals/AC1000AA/outcomes"),
    ("contract_manager", "/invoices"),
    ("nacro_manager", "/invoices"),
    ("contract_manager", "/service-returns"),
    ("nacro_manager", "/service-returns"),
]


def queries_for(app, world: World, role: str, path: str) -> int:
    world[role].get(path)  # a token's last use is written at most once a minute: keep it out of the count
    with QueryCounter(app) as counter:
        response = world[role].get(path, per_page=200)
    assert response.status_code == 200
    return counter.count


def more_of_everything(world: World, crc, nacro) -> None:
    """Three more of each thing a list shows, each with its own people, caseworkers and contracts."""
    manager, caseworker = world.people["nacro_manager"], world.people["nacro_caseworker"]
    for number in range(3):
        colleague = UserFactory(email=f"colleague{number}@nacro.example", organisation=nacro)
        ReferralFactory(
            reference=f"MR{number:04d}AA",
            contract=world.contract,
            service_code="ACC-TTG",
            referrer=world.people["referrer"],
            status=ReferralStatus.IN_PROGRESS,
            accepted_at=world.open.accepted_at,
            caseworker=colleague,
        )
        _session(world.open, london_today() - timedelta(days=2 + number), colleague)
        OutcomeFactory(
            referral=world.open,
            outcome_type=db.session.get(OutcomeType, world.outcome.outcome_type_id),
            achieved_on=world.outcome.achieved_on,
            evidence="Seen.",
            claimed_by=caseworker,
        )
        contract = ContractFactory(
            reference=f"BENCH-MORE-{number}", crc=crc, partner=nacro, start_date=world.contract.start_date
        )
        writer = UserFactory(email=f"manager{number}@nacro.example", organisation=nacro, role=Role.PROVIDER_MANAGER)
        service_return = returns.create_return(writer, contract, world.months["m1"].strftime("%Y-%m"))
        returns.update_narrative(writer, service_return, NARRATIVE)
        returns.submit_return(writer, service_return)
        if number:
            returns.accept_return(world.people["contract_manager"], service_return)
    db.session.commit()
    draft = invoicing.generate_draft(manager, world.contract, world.months["m1"].strftime("%Y-%m"))
    invoicing.submit_invoice(manager, draft)
    invoicing.generate_draft(manager, world.contract, london_today().strftime("%Y-%m"), early_reason="The month so far")


@pytest.mark.parametrize(("role", "path"), LISTS)
def test_a_list_costs_the_same_queries_for_more_rows(app, world: World, role: str, path: str, crc, nacro):
    before = queries_for(app, world, role, path)
    more_of_everything(world, crc, nacro)
    assert queries_for(app, world, role, path) == before
