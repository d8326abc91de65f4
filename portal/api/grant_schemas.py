"""The API's models for grants (schedules of instalments, grant payments, grant-funded activity)
and a contract's expected volumes, kept apart from portal.api.schemas so each area reads alone."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field

from portal.api.schemas import Body, ContractVolumes, Out, SyncQuery, Timestamp, Version, page_of
from portal.grants.models import ActivityKind, GrantPaymentStatus, Timing


class GrantPayment(Out):
    """An instalment of a grant's schedule: `scheduled` until the partner raises it as a grant payment."""

    id: int
    contract: str = Field(description="The contract's reference.")
    number: str | None = Field(description="Null until raised; then the next of the partner's invoice numbers.")
    status: GrantPaymentStatus
    period_start: date = Field(description="The first day of the period it funds.")
    period_end: date
    timing: Timing = Field(description="advance: due on or before the period starts; arrears: after it ends.")
    needs_accepted_return: bool = Field(description="Released only once the period's service returns are accepted.")
    amount_pence: int
    due_on: date = Field(description="The scheduled due date.")
    raise_from: date = Field(description="The first day it may be raised.")
    released: bool = Field(description="Whether it may be raised now (always false once raised).")
    not_released_because: str | None
    payment_due_on: date | None = Field(description="Once raised: when payment is due.")
    submitted_at: Timestamp | None
    approved_at: Timestamp | None
    paid_on: date | None
    payment_reference: str | None
    query_reason: str | None
    rejection_reason: str | None
    replaces_id: int | None = Field(description="The rejected grant payment this instalment replaces, if any.")
    version: int
    created_at: Timestamp
    updated_at: Timestamp


GrantPaymentPage = page_of(GrantPayment)


class GrantPaymentQuery(SyncQuery):
    status: GrantPaymentStatus | None = None
    contract: str | None = Field(None, description="A contract's reference.")


class GrantSchedule(Out):
    contract: str
    value_cap_pence: int
    scheduled_pence: int = Field(description="The instalments' total, less those rejected.")
    paid_pence: int = Field(description="Grant payments paid to date.")
    instalments: list[GrantPayment]


class NewInstalment(Body):
    period_start: date
    period_end: date
    due_on: date
    amount_pence: int = Field(gt=0)
    timing: Timing
    needs_accepted_return: bool = False

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period_start": "2027-04-01",
                    "period_end": "2027-06-30",
                    "due_on": "2027-04-01",
                    "amount_pence": 2500000,
                    "timing": "advance",
                    "needs_accepted_return": False,
                }
            ]
        }
    )


class GrantPaymentAction(Body):
    version: Version = None


class GrantPaymentReplacement(Body):
    amount_pence: int | None = Field(
        None, gt=0, description="Contract manager only; the rejected payment's amount when left out."
    )
    due_on: date | None = Field(None, description="Contract manager only; the rejected payment's when left out.")
    version: Version = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"amount_pence": 1850000, "version": 4}]})


class GrantPaymentReason(Body):
    reason: str
    version: Version = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Which bank account should we pay?"}]})


class GrantPaymentPaid(Body):
    paid_on: date
    payment_reference: str = Field(description="From the bank or finance system, up to 60 characters.")
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paid_on": "2026-12-07", "payment_reference": "BACS 4471"}]}
    )


class NewActivity(Body):
    date: date
    kind: ActivityKind
    attendees: int = Field(description="How many people came, 1 to 500.")
    duration_minutes: int = Field(60, description="1 to 600.")
    description: str | None = Field(None, description="What it was, up to 200 characters; no names.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"date": "2026-11-03", "kind": "drop_in", "attendees": 9, "duration_minutes": 120}]
        }
    )


class Activity(Out):
    id: int
    contract: str
    date: date
    kind: ActivityKind
    attendees: int
    duration_minutes: int
    description: str | None
    created_at: Timestamp


class Activities(Out):
    items: list[Activity] = Field(description="The latest 200, newest first.")


class ExpectedStartsRow(Out):
    month: str = Field(examples=["2027-04"])
    service_code: str = Field(description="Empty for the whole contract.")
    expected_starts: int
    version: int = Field(description="Give it back to change this figure (PUT).")


class SetExpectedStarts(Body):
    month: str = Field(description="YYYY-MM, within the contract.", examples=["2027-04"])
    service_code: str = Field("", description="A service of the contract's rate card; empty for the whole contract.")
    expected_starts: int = Field(description="0 to 100,000.")
    version: Version = Field(
        None,
        description="The figure's `version` you read, or 0 to set it only if it is not set yet; left out, the "
        "figure is set whatever it is. If it has changed since, the answer is 409.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"month": "2027-04", "service_code": "ETE-1", "expected_starts": 12, "version": 0}]
        }
    )


class SpendProfileRow(Out):
    month: str = Field(examples=["2027-04"])
    expected_spend_pence: int


class ContractExpectations(Out):
    """What the contract expects, and where it stands to date (today, or its end if sooner)."""

    contract: str
    expected_starts: list[ExpectedStartsRow]
    spend_profile: list[SpendProfileRow] = Field(
        description="Empty when none is set: expected spend is then the cap spread evenly over the months."
    )
    to_date: ContractVolumes
    flags: list[Literal["crc_under_referral", "partner_under_delivery"]]
