"""API fixtures: a client that calls the API with a user's token, as a partner's system would."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from portal.accounts import tokens
from portal.accounts.models import User
from portal.contracts.models import Contract, OutcomeType, Unit
from portal.dates import london_today
from portal.delivery.models import Outcome, Session
from portal.extensions import db
from portal.invoicing import service as invoicing
from portal.invoicing.models import Invoice
from portal.referrals.models import Referral, ReferralStatus
from portal.returns import service as returns
from portal.returns.models import ServiceReturn
from tests.factories import (
    OutcomeFactory,
    OutcomeTypeFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
    ReferralFactory,
    SessionFactory,
)


class ApiClient:
    """Calls /api/v1 with `Authorization: Bearer <token>`; JSON in, JSON out."""

    def __init__(self, client: Any, secret: str | None) -> None:
        self.client = client
        self.secret = secret

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return headers | (extra or {})

    def get(self, path: str, *, headers: dict[str, str] | None = None, **params: Any) -> TestResponse:
        return self.client.get(f"/api/v1{path}", query_string=params, headers=self.headers(headers))

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> TestResponse:
        body = data if data is not None else (jsonlib.dumps(json) if json is not None else b"")
        return self.client.post(f"/api/v1{path}", data=body, headers=self.headers(headers), content_type=content_type)

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        return self.client.open(f"/api/v1{path}", method=method, headers=self.headers(), **kwargs)


@pytest.fixture
def api_as(app: Flask):
    """api_as(user) -> an ApiClient calling with a new token of that user's."""

    def make(user: Any, name: str = "Test system") -> ApiClient:
        created = tokens.create_token(None, user, name=name)
        return ApiClient(app.test_client(), created.secret)

    return make


@pytest.fixture
def anonymous_api(app: Flask) -> ApiClient:
    return ApiClient(app.test_client(), None)


# --- a world with work in every state, for the role and scoping tests ------------------------------


def month_start(day: date, months_back: int = 0) -> date:
    year, month = day.year, day.month - months_back
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


@dataclass
class World:
    """A CRC, Nacro and St Giles Trust with work on their contracts, and everyone's API client."""

    clients: dict[str, ApiClient]
    contract: Contract
    sent: Referral  # waiting for Nacro's answer
    other_sent: Referral
    open: Referral  # in progress, with sessions, an outcome claim and invoices
    other_open: Referral  # in progress, with an outcome claim
    outcome: Outcome  # claimed, on `open`
    other_outcome: Outcome  # claimed, on `other_open`
    draft: Invoice
    submitted: Invoice
    approved: Invoice
    draft_return: ServiceReturn  # last month's, its narrative written
    submitted_return: ServiceReturn  # the month before's
    st_giles: dict[str, Any] = field(default_factory=dict)
    months: dict[str, date] = field(default_factory=dict)
    people: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, role: str) -> ApiClient:
        return self.clients[role]


NARRATIVE = {
    "achievements": "Two people housed on release.",
    "challenges": "A caseworker vacancy.",
    "case_study": "A woman in her forties, homeless on release, now holds a tenancy.",
    "safeguarding_concerns": "0",
}

ROLES = ("admin", "contract_manager", "referrer", "nacro_manager", "nacro_caseworker")


def _session(referral: Referral, day: date, recorder: User, minutes: int = 60) -> Session:
    return SessionFactory(referral=referral, date=day, recorded_by=recorder, duration_minutes=minutes)


def _priced_service(contract: Contract, prefix: str, service_code: str, outcome_code: str) -> OutcomeType:
    housed = OutcomeTypeFactory(contract=contract, code=outcome_code, name="Accommodation on the first night")
    for code, unit, pence, extra in (
        (f"{prefix}-REF", Unit.PER_REFERRAL, 15_000, {}),
        (f"{prefix}-SESSION", Unit.PER_SESSION, 4_500, {}),
        (f"{prefix}-OUTCOME", Unit.PER_OUTCOME, 40_000, {"outcome_type": housed}),
    ):
        item = RateCardItemFactory(
            contract=contract, code=code, service_code=service_code, unit=unit, name=f"{prefix} {unit.value}", **extra
        )
        RateCardPriceFactory(item=item, unit_price_pence=pence, effective_from=contract.start_date)
    return housed


@pytest.fixture
def world(
    app, admin, contract_manager, referrer, nacro_manager, nacro_caseworker, st_giles_manager, st_giles_caseworker,
    nacro_contract, st_giles_contract,
) -> World:  # fmt: skip
    today = london_today()
    this_month = month_start(today)
    months = {f"m{n}": month_start(today, n) for n in (1, 2, 3)}
    for contract in (nacro_contract, st_giles_contract):
        contract.start_date = month_start(today, 12)
        contract.end_date = date(this_month.year + 2, this_month.month, 1)
    # The CRC is VAT registered, and Nacro, a charity that is not, is reached at its GLN for e-invoices.
    nacro_contract.crc.vat_number = "GB987654321"
    nacro_contract.partner.peppol_id = "0088:5060123456783"
    db.session.commit()
    housed = _priced_service(nacro_contract, "ACC-TTG", "ACC-TTG", "accommodation_secured_first_night")
    st_giles_housed = _priced_service(st_giles_contract, "ETE-REL", "ETE-REL", "entered_employment")

    accepted = datetime.combine(months["m3"] + timedelta(days=1), time(11), tzinfo=UTC)
    open_referral = ReferralFactory(
        reference="AC1000AA",
        contract=nacro_contract,
        service_code="ACC-TTG",
        referrer=referrer,
        status=ReferralStatus.IN_PROGRESS,
        accepted_at=accepted,
        first_contact_at=accepted,
        caseworker=nacro_caseworker,
        rar_days=5,
    )
    other_open = ReferralFactory(
        reference="AC2000AA",
        contract=nacro_contract,
        service_code="ACC-TTG",
        referrer=referrer,
        status=ReferralStatus.IN_PROGRESS,
        accepted_at=accepted,
        first_contact_at=accepted,
        caseworker=nacro_caseworker,
    )
    sent = ReferralFactory(reference="SN1000AA", contract=nacro_contract, service_code="ACC-TTG", referrer=referrer)
    other_sent = ReferralFactory(
        reference="SN2000AA", contract=nacro_contract, service_code="ACC-TTG", referrer=referrer
    )
    for month in ("m3", "m2", "m1"):
        _session(open_referral, months[month] + timedelta(days=3), nacro_caseworker)
    outcome, other_outcome = (
        OutcomeFactory(
            referral=referral,
            outcome_type=housed,
            achieved_on=months["m1"] + timedelta(days=4),
            evidence="Tenancy agreement seen.",
            claimed_by=nacro_caseworker,
        )
        for referral in (open_referral, other_open)
    )

    approved = invoicing.generate_draft(nacro_manager, nacro_contract, months["m3"].strftime("%Y-%m"))
    invoicing.submit_invoice(nacro_manager, approved)
    invoicing.approve_invoice(contract_manager, approved)
    submitted = invoicing.generate_draft(nacro_manager, nacro_contract, months["m2"].strftime("%Y-%m"))
    invoicing.submit_invoice(nacro_manager, submitted)
    draft = invoicing.generate_draft(nacro_manager, nacro_contract, months["m1"].strftime("%Y-%m"))
    submitted_return = returns.create_return(nacro_manager, nacro_contract, months["m2"].strftime("%Y-%m"))
    returns.update_narrative(nacro_manager, submitted_return, NARRATIVE)
    returns.submit_return(nacro_manager, submitted_return)
    draft_return = returns.create_return(nacro_manager, nacro_contract, months["m1"].strftime("%Y-%m"))
    returns.update_narrative(nacro_manager, draft_return, NARRATIVE)

    # St Giles Trust: the same kinds of record, which no Nacro user may reach.
    st_giles_referral = ReferralFactory(
        reference="SG1000AA",
        contract=st_giles_contract,
        service_code="ETE-REL",
        referrer=referrer,
        status=ReferralStatus.IN_PROGRESS,
        accepted_at=accepted,
        first_contact_at=accepted,
        caseworker=st_giles_caseworker,
    )
    st_giles_sent = ReferralFactory(
        reference="SG2000AA", contract=st_giles_contract, service_code="ETE-REL", referrer=referrer
    )
    _session(st_giles_referral, months["m2"] + timedelta(days=3), st_giles_caseworker)
    st_giles_outcome = OutcomeFactory(
        referral=st_giles_referral,
        outcome_type=st_giles_housed,
        achieved_on=months["m1"] + timedelta(days=4),
        evidence="Payslip seen.",
        claimed_by=st_giles_caseworker,
    )
    st_giles_invoice = invoicing.generate_draft(st_giles_manager, st_giles_contract, months["m1"].strftime("%Y-%m"))
    st_giles_return = returns.create_return(st_giles_manager, st_giles_contract, months["m1"].strftime("%Y-%m"))

    people = {
        "admin": admin,
        "contract_manager": contract_manager,
        "referrer": referrer,
        "nacro_manager": nacro_manager,
        "nacro_caseworker": nacro_caseworker,
        "st_giles_manager": st_giles_manager,
        "st_giles_caseworker": st_giles_caseworker,
    }
    clients = {}
    for role, user in people.items():
        clients[role] = ApiClient(app.test_client(), tokens.create_token(None, user, name="Test system").secret)
    return World(
        clients=clients,
        contract=nacro_contract,
        sent=sent,
        other_sent=other_sent,
        open=open_referral,
        other_open=other_open,
        outcome=outcome,
        other_outcome=other_outcome,
        draft=draft,
        submitted=submitted,
        approved=approved,
        draft_return=draft_return,
        submitted_return=submitted_return,
        st_giles={
            "contract": st_giles_contract,
            "referral": st_giles_referral,
            "sent": st_giles_sent,
            "outcome": st_giles_outcome,
            "invoice": st_giles_invoice,
            "return": st_giles_return,
        },
        months=months,
        people=people,
    )
