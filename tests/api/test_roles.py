"""Every endpoint, for every role: the API lets each role do exactly what the pages let it do, and a
refused request changes nothing (no record, no audit event)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.dates import london_today
from portal.extensions import db
from tests.api.conftest import ROLES, World

CRC_ROLES = ("admin", "contract_manager", "referrer")
PARTNER_ROLES = ("nacro_manager", "nacro_caseworker")
EVERYONE = {role: 200 for role in ROLES}
RETURN_READERS = {"nacro_manager": 200, "contract_manager": 200}  # as on the return pages


def only(allowed: dict[str, int]) -> dict[str, int]:
    """The roles given succeed with their status; every other role is refused (403)."""
    return {role: allowed.get(role, 403) for role in ROLES}


def new_referral(world: World, role: str) -> dict[str, Any]:
    today = london_today()
    return {
        "contract": world.contract.reference,
        "service_code": "ACC-TTG",
        "person": {
            "crn": {"referrer": "X200001", "contract_manager": "X200002"}.get(role, "X200009"),
            "given_name": "Sam",
            "family_name": "Smith",
            "date_of_birth": "1990-04-01",
            "gender": "male",
            "ethnicity": "white_british",
            "disability": "no",
        },
        "location": {"type": "community", "community_office": "Bedford probation office", "postcode": "MK40 1QJ"},
        "rosh_level": "medium",
        "risk_flags": ["domestic_abuse"],
        "risk_summary": "History of domestic abuse towards a former partner.",
        "complexity": "medium",
        "desired_outcomes": ["Find settled accommodation"],
        "reason": "Homeless and needs support to find accommodation.",
        "rar_days": 5,
        "sentence_end_date": (today + timedelta(days=365)).isoformat(),
    }


def yesterday() -> str:
    return (london_today() - timedelta(days=1)).isoformat()


@dataclass
class Case:
    method: str
    path: Callable[[World, str], str]
    expected: dict[str, int]
    body: Callable[[World, str], Any] = field(default=lambda world, role: None)
    mimetype: str = "application/json"  # of a successful answer

    def call(self, world: World, role: str) -> Any:
        client = world[role]
        path = self.path(world, role)
        if self.method == "GET":
            return client.get(path)
        if self.method == "PUT":
            return client.request("PUT", path, json=self.body(world, role) or {})
        return client.post(path, self.body(world, role) or {})


def grant_of(world: World) -> dict[str, Any]:
    """A grant of the world's partner with an instalment in each state (made once per world)."""
    made = getattr(world, "grant_records", None)
    if made is not None:
        return made
    from portal.contracts.models import ContractTier
    from portal.dates import add_months
    from portal.db import utcnow
    from portal.grants.models import GrantInstalment, GrantPaymentStatus, Timing
    from tests.factories import ContractFactory

    contract = ContractFactory(
        reference="BENCH-WOM-09",
        crc=world.contract.crc,
        partner=world.contract.partner,
        tier=ContractTier.GRANT,
        payment_terms_days=14,
    )
    start = contract.start_date

    def instalment(quarter: int, status: GrantPaymentStatus) -> GrantInstalment:
        raised = status != GrantPaymentStatus.SCHEDULED
        record = GrantInstalment(
            contract_id=contract.id,
            partner_id=contract.partner_id,
            period_start=add_months(start, 3 * quarter),
            period_end=add_months(start, 3 * quarter + 3) - timedelta(days=1),
            due_on=add_months(start, 3 * quarter),
            amount_pence=1_000_00,
            timing=Timing.ADVANCE,
            status=status,
            number=f"GRANT-{quarter:06d}" if raised else None,
            submitted_at=utcnow() if raised else None,
            payment_due_on=london_today() if raised else None,
            created_by_id=world.people["contract_manager"].id,
        )
        db.session.add(record)
        return record

    made = {
        "contract": contract,
        "scheduled": instalment(0, GrantPaymentStatus.SCHEDULED),
        "submitted": instalment(1, GrantPaymentStatus.SUBMITTED),
        "approved": instalment(2, GrantPaymentStatus.APPROVED),
        "rejected": instalment(3, GrantPaymentStatus.REJECTED),
        "other_rejected": instalment(4, GrantPaymentStatus.REJECTED),
    }
    db.session.commit()
    world.grant_records = made  # type: ignore[attr-defined]
    return made


def first_or_second(first: Callable[[World], Any], second: Callable[[World], Any], second_roles: tuple[str, ...]):
    """Where two roles may both act, each acts on its own record."""
    return lambda world, role: second(world) if role in second_roles else first(world)


def a_concern(world: World, *, acknowledged: bool = False) -> int:
    """A safeguarding concern on `open`, raised by Nacro (one each way, made on first use)."""
    key = "acknowledged_concern" if acknowledged else "concern"
    if key not in world.st_giles:
        from portal.safeguarding.service import acknowledge_concern, raise_concern

        concern = raise_concern(
            world.open.caseworker or world.people.get("nacro_caseworker") or _nacro_user(world),
            world.open,
            {"category": "other", "what_happened": "A worry.", "urgency": "standard"},
        )
        if acknowledged:
            acknowledge_concern(_referrer_of(world), concern)
        world.st_giles[key] = concern.id
    return world.st_giles[key]


def _nacro_user(world: World) -> Any:
    from portal.accounts.models import Role, User

    return db.session.scalars(
        select(User).where(User.organisation_id == world.contract.partner_id, User.role == Role.PROVIDER_MANAGER)
    ).first()


def _referrer_of(world: World) -> Any:
    from portal.accounts.models import User

    return db.session.get(User, world.open.referrer_id)


def in_custody(world: World, role: str) -> Any:
    """A custody referral of `open`'s contract, one for each role that records releases (made on first use)."""
    key = f"custody_{role}"
    if key not in world.st_giles:
        from portal.referrals.models import LocationType
        from tests.factories import ReferralFactory

        world.st_giles[key] = ReferralFactory(
            contract=world.contract,
            service_code=world.open.service_code,
            referrer=_referrer_of(world),
            in_progress=True,
            location_type=LocationType.CUSTODY,
            prison="HMP Bedford",
            expected_release_date=london_today(),
            community_office=None,
            rar_days=None,
        ).reference
    return world.st_giles[key]


def planned(world: World, key: str, status: str = "") -> str:
    """A referral of `open`'s contract (one per key, made on first use) with its action plan in `status`
    ("" for none yet), or, for status "review", accepted 12 weeks ago with a review submitted."""
    if key not in world.st_giles:
        from portal.db import utcnow
        from portal.plans import service
        from tests.factories import ReferralFactory

        referral = ReferralFactory(
            contract=world.contract,
            service_code=world.open.service_code,
            referrer=_referrer_of(world),
            in_progress=True,
            desired_outcomes=["Find settled accommodation"],
            accepted_at=utcnow() - timedelta(weeks=12),
        )
        partner = _nacro_user(world)
        if status in ("draft", "submitted"):
            service.save_plan(partner, referral, activities=PLAN["activities"], rar_days_planned=1)
        if status == "submitted":
            service.submit_plan(partner, referral)
        if status == "review":
            world.st_giles[f"{key}_review"] = service.submit_review(partner, referral, REVIEW).id
        world.st_giles[key] = referral.reference
    return world.st_giles[key]


PLAN = {
    "activities": [
        {"desired_outcome": "Find settled accommodation", "description": "Advice", "sessions": 4, "frequency": "weekly"}
    ],
    "rar_days_planned": 1,
}
REVIEW = {
    "outcomes": [{"desired_outcome": "Find settled accommodation", "progress": "some_progress", "comment": "Bidding."}],
    "risk_observations": "None seen.",
}


def each(role: str) -> str:
    """The partner roles that may act each act on their own record; the refused try the first role's."""
    return role if role in PARTNER_ROLES else ROLES[0]


def a_review(world: World) -> int:
    planned(world, "reviewed", "review")
    return world.st_giles["reviewed_review"]


RELEASE = {
    "released_on": "2026-01-05",
    "release_type": "conditional_release",
    "community_office": "Bedford probation office",
    "first_night": "supported_housing",
}

CONCERN = {"category": "domestic_abuse", "urgency": "urgent", "what_happened": "Threats about an ex-partner."}

CASES = {
    "GET /contracts": Case("GET", lambda w, r: "/contracts", EVERYONE),
    "GET /contracts/{reference}": Case("GET", lambda w, r: f"/contracts/{w.contract.reference}", EVERYONE),
    "POST /contracts/{reference}/outcome-types/{code}": Case(
        "POST",
        lambda w, r: f"/contracts/{w.contract.reference}/outcome-types/accommodation_secured_first_night",
        only({"contract_manager": 200}),
        lambda w, r: {"outcome_from": "release", "outcome_latest_days": 7},
    ),
    "GET /contracts/{reference}/services": Case(
        "GET", lambda w, r: f"/contracts/{w.contract.reference}/services", EVERYONE
    ),
    "POST /referrals": Case(
        "POST", lambda w, r: "/referrals", only({"referrer": 201, "contract_manager": 201}), new_referral
    ),
    "GET /referrals": Case("GET", lambda w, r: "/referrals", EVERYONE),
    "GET /referrals/{reference}": Case("GET", lambda w, r: f"/referrals/{w.open.reference}", EVERYONE),
    "POST /referrals/{reference}/accept": Case(
        "POST",
        lambda w, r: f"/referrals/{w.sent.reference}/accept",
        only({"nacro_manager": 200}),
        lambda w, r: {"risk_information_read": True},
    ),
    "POST /referrals/{reference}/decline": Case(
        "POST",
        lambda w, r: f"/referrals/{w.sent.reference}/decline",
        only({"nacro_manager": 200}),
        lambda w, r: {"reason_code": "no_capacity", "detail": "Our caseload is full."},
    ),
    "POST /referrals/{reference}/withdraw": Case(
        "POST",
        lambda w, r: f"/referrals/{w.sent.reference}/withdraw",
        only({"referrer": 200}),
        lambda w, r: {"reason_code": "recalled", "detail": "Recalled to custody."},
    ),
    "POST /referrals/{reference}/complete": Case(
        "POST",
        first_or_second(
            lambda w: f"/referrals/{w.open.reference}/complete",
            lambda w: f"/referrals/{w.other_open.reference}/complete",
            ("nacro_caseworker",),
        ),
        only({"nacro_manager": 200, "nacro_caseworker": 200}),
        lambda w, r: {
            "summary": "Housed in supported accommodation.",
            "outcomes": [{"desired_outcome": "Find settled accommodation", "achievement": "achieved"}],
        },
    ),
    "POST /referrals/{reference}/sessions": Case(
        "POST",
        lambda w, r: f"/referrals/{w.open.reference}/sessions",
        only({"nacro_manager": 201, "nacro_caseworker": 201}),
        # Each role records a different hour: one person's sessions never overlap.
        lambda w, r: {
            "date": yesterday(),
            "start_time": "14:00" if r == "nacro_caseworker" else "10:00",
            "duration_minutes": 60,
            "kind": "one_to_one",
            "attendance": "attended",
        },
    ),
    "GET /referrals/{reference}/sessions": Case(
        "GET", lambda w, r: f"/referrals/{w.open.reference}/sessions", EVERYONE
    ),
    "POST /referrals/{reference}/outcomes": Case(
        "POST",
        lambda w, r: f"/referrals/{w.open.reference}/outcomes",
        only({"nacro_manager": 201, "nacro_caseworker": 201}),
        # Each role claims a different day: the same outcome twice for one day is refused.
        lambda w, r: {
            "outcome_type": "accommodation_secured_first_night",
            "achieved_on": (london_today() - timedelta(days=2 if r == "nacro_caseworker" else 1)).isoformat(),
            "evidence": "Tenancy agreement seen.",
        },
    ),
    "GET /referrals/{reference}/outcomes": Case(
        "GET", lambda w, r: f"/referrals/{w.open.reference}/outcomes", EVERYONE
    ),
    "GET /outcomes": Case("GET", lambda w, r: "/outcomes", EVERYONE),
    "GET /outcomes/{id}": Case("GET", lambda w, r: f"/outcomes/{w.outcome.id}", EVERYONE),
    "POST /outcomes/{id}/verify": Case(
        "POST",
        first_or_second(
            lambda w: f"/outcomes/{w.outcome.id}/verify",
            lambda w: f"/outcomes/{w.other_outcome.id}/verify",
            ("contract_manager",),
        ),
        only({"referrer": 200, "contract_manager": 200}),
    ),
    "POST /outcomes/{id}/reject": Case(
        "POST",
        first_or_second(
            lambda w: f"/outcomes/{w.outcome.id}/reject",
            lambda w: f"/outcomes/{w.other_outcome.id}/reject",
            ("contract_manager",),
        ),
        only({"referrer": 200, "contract_manager": 200}),
        lambda w, r: {"reason": "The agreement is not signed."},
    ),
    "POST /invoices": Case(
        "POST",
        lambda w, r: "/invoices",
        only({"nacro_manager": 201}),
        lambda w, r: {"contract": w.contract.reference, "period": w.months["m1"].strftime("%Y-%m")},
    ),
    "GET /invoices": Case("GET", lambda w, r: "/invoices", EVERYONE),
    "GET /invoices/{id}": Case("GET", lambda w, r: f"/invoices/{w.submitted.id}", EVERYONE),
    "GET /invoices/{id}.pdf": Case(
        "GET", lambda w, r: f"/invoices/{w.submitted.id}.pdf", EVERYONE, mimetype="application/pdf"
    ),
    "GET /invoices/{id}.xml": Case(
        "GET", lambda w, r: f"/invoices/{w.submitted.id}.xml", EVERYONE, mimetype="application/xml"
    ),
    "POST /invoices/{id}/submit": Case(
        "POST", lambda w, r: f"/invoices/{w.draft.id}/submit", only({"nacro_manager": 200})
    ),
    "POST /invoices/{id}/approve": Case(
        "POST", lambda w, r: f"/invoices/{w.submitted.id}/approve", only({"contract_manager": 200})
    ),
    "POST /invoices/{id}/query": Case(
        "POST",
        lambda w, r: f"/invoices/{w.submitted.id}/query",
        only({"contract_manager": 200}),
        lambda w, r: {"reason": "Line 1 looks high."},
    ),
    "POST /invoices/{id}/reject": Case(
        "POST",
        lambda w, r: f"/invoices/{w.submitted.id}/reject",
        only({"contract_manager": 200}),
        lambda w, r: {"reason": "Billed to the wrong contract."},
    ),
    "POST /invoices/{id}/mark-paid": Case(
        "POST",
        lambda w, r: f"/invoices/{w.approved.id}/mark-paid",
        only({"contract_manager": 200}),
        lambda w, r: {"paid_on": london_today().isoformat(), "payment_reference": "BACS 1"},
    ),
    "GET /invoices/{id}/thread": Case("GET", lambda w, r: f"/invoices/{w.submitted.id}/thread", EVERYONE),
    # Not queried: the two sides who write in a thread are told there is none yet; others may not write.
    "POST /invoices/{id}/messages": Case(
        "POST",
        lambda w, r: f"/invoices/{w.submitted.id}/messages",
        only({"nacro_manager": 409, "contract_manager": 409}),
        lambda w, r: {"body": "About line 1."},
    ),
    "POST /service-returns": Case(
        "POST",
        lambda w, r: "/service-returns",
        only({"nacro_manager": 201}),
        lambda w, r: {"contract": w.contract.reference, "period": w.months["m3"].strftime("%Y-%m")},
    ),
    "GET /service-returns": Case("GET", lambda w, r: "/service-returns", only(RETURN_READERS)),
    "GET /service-returns/{id}": Case(
        "GET", lambda w, r: f"/service-returns/{w.draft_return.id}", only(RETURN_READERS)
    ),
    "GET /service-returns/{id}.pdf": Case(
        "GET",
        lambda w, r: f"/service-returns/{w.submitted_return.id}.pdf",
        only(RETURN_READERS),
        mimetype="application/pdf",
    ),
    "POST /service-returns/{id}/narrative": Case(
        "POST",
        lambda w, r: f"/service-returns/{w.draft_return.id}/narrative",
        only({"nacro_manager": 200}),
        lambda w, r: {"staffing": "A new caseworker starts next month."},
    ),
    "POST /service-returns/{id}/submit": Case(
        "POST", lambda w, r: f"/service-returns/{w.draft_return.id}/submit", only({"nacro_manager": 200})
    ),
    "POST /service-returns/{id}/accept": Case(
        "POST", lambda w, r: f"/service-returns/{w.submitted_return.id}/accept", only({"contract_manager": 200})
    ),
    "POST /referrals/{reference}/concerns": Case(
        "POST",
        lambda w, r: f"/referrals/{w.open.reference}/concerns",
        only({"nacro_manager": 201, "nacro_caseworker": 201}),
        lambda w, r: CONCERN,
    ),
    "GET /referrals/{reference}/concerns": Case(
        "GET", lambda w, r: f"/referrals/{w.open.reference}/concerns", EVERYONE
    ),
    "GET /concerns/{concern_id}": Case("GET", lambda w, r: f"/concerns/{a_concern(w)}", EVERYONE),
    "POST /concerns/{concern_id}/acknowledge": Case(
        "POST", lambda w, r: f"/concerns/{a_concern(w)}/acknowledge", only({"referrer": 200})
    ),
    "POST /concerns/{concern_id}/close": Case(
        "POST",
        lambda w, r: f"/concerns/{a_concern(w, acknowledged=True)}/close",
        only({"referrer": 200}),
        lambda w, r: {"outcome": "no_further_action", "outcome_detail": "Checked with the police."},
    ),
    "GET /referrals/{reference}/risk-summary": Case(
        "GET", lambda w, r: f"/referrals/{w.open.reference}/risk-summary", EVERYONE
    ),
    "POST /referrals/{reference}/risk-summary": Case(
        "POST",
        lambda w, r: f"/referrals/{w.open.reference}/risk-summary",
        only({"referrer": 201}),
        lambda w, r: {"at_risk": ["public"], "nature": "Threats to neighbours."},
    ),
    "POST /referrals/{reference}/release": Case(
        "POST",
        lambda w, r: f"/referrals/{in_custody(w, r)}/release",
        only({"nacro_manager": 201, "nacro_caseworker": 201, "referrer": 201}),
        lambda w, r: RELEASE | {"released_on": yesterday()},
    ),
    "GET /referrals/{reference}/release": Case(
        "GET", lambda w, r: f"/referrals/{w.open.reference}/release", {role: 404 for role in ROLES}
    ),
    "POST /service-returns/{id}/return": Case(
        "POST",
        lambda w, r: f"/service-returns/{w.submitted_return.id}/return",
        only({"contract_manager": 200}),
        lambda w, r: {"reason": "The case study names the person."},
    ),
    "GET /contracts/{reference}/grant-schedule": Case(
        "GET", lambda w, r: f"/contracts/{grant_of(w)['contract'].reference}/grant-schedule", EVERYONE
    ),
    "POST /contracts/{reference}/grant-schedule": Case(
        "POST",
        lambda w, r: f"/contracts/{grant_of(w)['contract'].reference}/grant-schedule",
        only({"contract_manager": 201}),
        lambda w, r: {
            "period_start": grant_of(w)["contract"]
            .start_date.replace(year=grant_of(w)["contract"].start_date.year + 1)
            .isoformat(),
            "period_end": (
                grant_of(w)["contract"].start_date.replace(year=grant_of(w)["contract"].start_date.year + 1)
                + timedelta(days=30)
            ).isoformat(),
            "due_on": grant_of(w)["contract"]
            .start_date.replace(year=grant_of(w)["contract"].start_date.year + 1)
            .isoformat(),
            "amount_pence": 500_00,
            "timing": "advance",
        },
    ),
    "GET /grant-payments": Case("GET", lambda w, r: "/grant-payments", EVERYONE),
    "GET /grant-payments/{payment_id}": Case(
        "GET", lambda w, r: f"/grant-payments/{grant_of(w)['submitted'].id}", EVERYONE
    ),
    "GET /grant-payments/{payment_id}.pdf": Case(
        "GET", lambda w, r: f"/grant-payments/{grant_of(w)['submitted'].id}.pdf", EVERYONE, mimetype="application/pdf"
    ),
    "GET /grant-payments/{payment_id}.xml": Case(
        "GET", lambda w, r: f"/grant-payments/{grant_of(w)['submitted'].id}.xml", EVERYONE, mimetype="application/xml"
    ),
    "POST /grant-payments/{payment_id}/submit": Case(
        "POST", lambda w, r: f"/grant-payments/{grant_of(w)['scheduled'].id}/submit", only({"nacro_manager": 200})
    ),
    "POST /grant-payments/{payment_id}/approve": Case(
        "POST", lambda w, r: f"/grant-payments/{grant_of(w)['submitted'].id}/approve", only({"contract_manager": 200})
    ),
    "POST /grant-payments/{payment_id}/query": Case(
        "POST",
        lambda w, r: f"/grant-payments/{grant_of(w)['submitted'].id}/query",
        only({"contract_manager": 200}),
        lambda w, r: {"reason": "Which account?"},
    ),
    "POST /grant-payments/{payment_id}/reject": Case(
        "POST",
        lambda w, r: f"/grant-payments/{grant_of(w)['submitted'].id}/reject",
        only({"contract_manager": 200}),
        lambda w, r: {"reason": "Not due."},
    ),
    "POST /grant-payments/{payment_id}/mark-paid": Case(
        "POST",
        lambda w, r: f"/grant-payments/{grant_of(w)['approved'].id}/mark-paid",
        only({"contract_manager": 200}),
        lambda w, r: {"paid_on": london_today().isoformat(), "payment_reference": "BACS 1"},
    ),
    "GET /contracts/{reference}/grant-activity": Case(
        "GET", lambda w, r: f"/contracts/{grant_of(w)['contract'].reference}/grant-activity", EVERYONE
    ),
    "POST /contracts/{reference}/grant-activity": Case(
        "POST",
        lambda w, r: f"/contracts/{grant_of(w)['contract'].reference}/grant-activity",
        only({"nacro_manager": 201, "nacro_caseworker": 201}),
        lambda w, r: {"date": yesterday(), "kind": "drop_in", "attendees": 7},
    ),
    "GET /referrals/{reference}/action-plan": Case(
        "GET", lambda w, r: f"/referrals/{planned(w, 'with_plan', 'submitted')}/action-plan", EVERYONE
    ),
    "PUT /referrals/{reference}/action-plan": Case(
        "PUT",
        lambda w, r: f"/referrals/{planned(w, f'to_plan_{each(r)}')}/action-plan",
        only({"nacro_manager": 200, "nacro_caseworker": 200}),
        lambda w, r: PLAN,
    ),
    "POST /referrals/{reference}/action-plan/submit": Case(
        "POST",
        lambda w, r: f"/referrals/{planned(w, f'drafted_{each(r)}', 'draft')}/action-plan/submit",
        only({"nacro_manager": 200, "nacro_caseworker": 200}),
    ),
    "POST /referrals/{reference}/action-plan/approve": Case(
        "POST",
        lambda w, r: f"/referrals/{planned(w, 'to_approve', 'submitted')}/action-plan/approve",
        only({"referrer": 200}),
    ),
    "POST /referrals/{reference}/action-plan/request-changes": Case(
        "POST",
        lambda w, r: f"/referrals/{planned(w, 'to_send_back', 'submitted')}/action-plan/request-changes",
        only({"referrer": 200}),
        lambda w, r: {"reason": "Add the work towards employment."},
    ),
    "GET /referrals/{reference}/progress-reviews": Case(
        "GET", lambda w, r: f"/referrals/{w.open.reference}/progress-reviews", EVERYONE
    ),
    "POST /referrals/{reference}/progress-reviews": Case(
        "POST",
        lambda w, r: f"/referrals/{planned(w, f'review_due_{each(r)}')}/progress-reviews",
        only({"nacro_manager": 201, "nacro_caseworker": 201}),
        lambda w, r: REVIEW,
    ),
    "GET /progress-reviews/{review_id}": Case("GET", lambda w, r: f"/progress-reviews/{a_review(w)}", EVERYONE),
    "POST /progress-reviews/{review_id}/read": Case(
        "POST", lambda w, r: f"/progress-reviews/{a_review(w)}/read", only({"referrer": 200})
    ),
    "GET /contracts/{reference}/volumes": Case(
        "GET", lambda w, r: f"/contracts/{w.contract.reference}/volumes", EVERYONE
    ),
    "POST /grant-payments/{payment_id}/replace": Case(
        "POST",
        first_or_second(
            lambda w: f"/grant-payments/{grant_of(w)['rejected'].id}/replace",
            lambda w: f"/grant-payments/{grant_of(w)['other_rejected'].id}/replace",
            ("nacro_manager",),
        ),
        only({"contract_manager": 201, "nacro_manager": 201}),
    ),
    "PUT /contracts/{reference}/volumes/expected-starts": Case(
        "PUT",
        lambda w, r: f"/contracts/{w.contract.reference}/volumes/expected-starts",
        only({"contract_manager": 200}),
        lambda w, r: {"month": w.contract.start_date.strftime("%Y-%m"), "expected_starts": 3},
    ),
}


def audit_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_every_api_route_has_a_case_for_every_role(app):
    documented = {
        re.sub(r"\{(outcome|invoice|return)_id\}", "{id}", f"{method} {path}")
        for path, operations in app.test_client().get("/api/v1/openapi.json").get_json()["paths"].items()
        for method in (name.upper() for name in operations)
    }
    assert documented == set(CASES), f"add cases for {sorted(documented - set(CASES))}"


def test_every_role_reads_what_it_may_see(world: World):
    """Reading changes nothing, so one world serves every GET."""
    for name, case in CASES.items():
        if case.method != "GET":
            continue
        for role in ROLES:
            response = case.call(world, role)
            assert response.status_code == case.expected[role], f"{role} {name}: {response.get_json()}"
            assert response.mimetype == (case.mimetype if response.status_code < 400 else "application/problem+json")
            if response.mimetype == "application/pdf":
                assert response.data.startswith(b"%PDF-"), f"{role} {name}"


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.method in ("POST", "PUT")])
def test_each_role_may_do_exactly_what_the_pages_let_it(world: World, name: str):
    case = CASES[name]
    refused = [role for role in ROLES if case.expected[role] >= 400]
    allowed = [role for role in ROLES if case.expected[role] < 400]
    case.path(world, ROLES[0])  # a record the path names is made (and audited) before counting
    for role in refused:  # first, so the record is still in the state the action needs
        before = audit_count()
        response = case.call(world, role)
        assert response.status_code == case.expected[role], f"{role}: {response.get_json()}"
        assert response.mimetype == "application/problem+json"
        assert audit_count() == before, f"{role}'s refused {name} wrote something"
    for role in allowed:
        before = audit_count()
        response = case.call(world, role)
        assert response.status_code == case.expected[role], f"{role}: {response.get_json()}"
        assert response.mimetype == "application/json"
        assert audit_count() > before, f"{role}'s {name} was not audited"
