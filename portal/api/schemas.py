"""The API's request and response bodies as pydantic models: they parse JSON, name every bad field,
and are where the OpenAPI document's schemas come from.

Request models forbid unknown fields and take JSON strictly (no "10" for 10). They check only
shape and type, with the domain's own enums; every rule about values (a CRN's format, a date in
the past, a state) is the service's, so the web and the API cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from portal.contracts.models import ContractStatus, ContractTier, OutcomeFrom, Pathway, Setting, Unit
from portal.dates import OUTSIDE_BOUNDS, PeriodKind, within_bounds
from portal.delivery.models import Achievement, Attendance, NonAttendanceReason, OutcomeStatus, SessionKind
from portal.invoicing.models import InvoiceKind, InvoiceStatus
from portal.people.models import ETHNICITY_CODES, Disability, Gender
from portal.referrals.models import (
    C2C,
    ColourBand,
    Complexity,
    DeclineReason,
    LocationType,
    ReferralStatus,
    ReleaseType,
    Reoffending,
    RiskFlag,
    RoshLevel,
    WithdrawReason,
)
from portal.returns.models import ReturnStatus
from portal.safeguarding.models import AtRisk, CheckStatus

MAX_PER_PAGE = 200
MAX_PAGE = 100_000

# Timestamps go out as ISO 8601 with an explicit offset: 2026-10-14T09:30:00+00:00.
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.astimezone(UTC).isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-10-14T09:30:00+00:00"]}),
]
Ethnicity = Literal[ETHNICITY_CODES]  # type: ignore[valid-type]
Version = Annotated[
    int | None,
    Field(description="The `version` you read the record at: if it has changed since, the answer is 409."),
]


class Body(BaseModel):
    """A request body: unknown fields are refused, and JSON types are taken as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _dates_within_bounds(cls, value: Any) -> Any:
        """Every date a body gives lies in the portal's bounds (9999-12-31 is a slip, and breaks
        date arithmetic), as on the pages."""
        if isinstance(value, date) and not isinstance(value, datetime) and not within_bounds(value):
            raise PydanticCustomError("date_out_of_bounds", f"The date {OUTSIDE_BOUNDS}")
        return value


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- pages and problems ----------------------------------------------------------------------


class PageQuery(BaseModel):
    """?page=N&per_page=M: lists come in pages, oldest record first (by id), so pages never shift."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Which page, from 1.")
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE, description=f"Records a page, at most {MAX_PER_PAGE}.")
    after: str | None = Field(
        None,
        max_length=1000,
        description="The `next` value of the page before: the page after it, read from where that one "
        "ended (as fast deep in a long list as at its start; `page` is then ignored).",
    )


class SyncQuery(PageQuery):
    updated_since: AwareDatetime | None = Field(
        None,
        description="Only records changed at or after this moment (ISO 8601 with an offset, e.g. "
        "2026-10-01T00:00:00Z). For a sync, use the time your previous sync started.",
    )

    @field_validator("updated_since", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        """Only an ISO 8601 timestamp: pydantic alone would also take a number as seconds since 1970."""
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) and "T" in value else None
        except ValueError:
            moment = None
        if moment is None:
            raise ValueError("Give an ISO 8601 timestamp with an offset, like 2026-10-01T00:00:00Z")
        if moment.tzinfo is None:
            raise ValueError("Give the timestamp's offset from UTC, like 2026-10-01T00:00:00+01:00 or …Z")
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("Give a moment between the years 1 and 9999") from None


class Problem(BaseModel):
    """An error, as RFC 9457 application/problem+json."""

    type: str = Field(description="A URI naming the kind of problem: its anchor on /api/docs explains it.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = Field(None, description="Quote this if you report a problem.")
    errors: dict[str, list[str]] | None = Field(
        None, description="For 422: every bad field (dotted for nested ones, like person.crn) and what is wrong."
    )


def page_of(model: type[BaseModel], name: str | None = None) -> type[BaseModel]:
    """The list page model for `model`: {"items", "page", "per_page", "total"}."""
    return create_model(
        name or f"{model.__name__}Page",
        __base__=Out,
        items=(list[model], ...),  # type: ignore[valid-type]
        page=(int, ...),
        per_page=(int, ...),
        total=(int, Field(description="Records matching the filters, on every page.")),
        next=(
            str | None,
            Field(None, description="Send as `?after=` (with the same filters) for the next page; null on the last."),
        ),
    )


# --- contracts and rate cards ---------------------------------------------------------------------


class ContractQuery(SyncQuery):
    status: ContractStatus | None = None


class Price(Out):
    unit_price_pence: int
    effective_from: date
    effective_to: date | None = Field(description="Inclusive; null while the price is open-ended.")


class RateCardItem(Out):
    code: str = Field(description="Unique within the contract.")
    service_code: str = Field(description="Several items may price one service (a referral fee and a session fee).")
    name: str
    pathway: Pathway
    setting: Setting
    unit: Unit
    outcome_type: str | None = Field(description="For per_outcome items: the outcome type's code.")
    max_units_per_referral: int | None
    session_kinds: list[SessionKind] = Field(
        description="For per_session, per_hour and per_rar_day items: the kinds of session the item prices. "
        "Empty: every kind. Within a service, no two items of one measure (a session fee, per session or per hour; "
        "or a RAR-day fee) share a kind on the same dates, so a session is billed at most once per measure."
    )
    active: bool
    prices: list[Price]


class OutcomeType(Out):
    code: str
    name: str
    pathway: Pathway
    active: bool
    outcome_from: OutcomeFrom | None = Field(
        description="The event its days count from: `start` (first contact), `release` (release from custody; "
        "first contact for a community referral), or null (acceptance of the referral)."
    )
    outcome_earliest_days: int = Field(
        description="It can be achieved this many whole days after that event at the earliest."
    )
    outcome_latest_days: int | None = Field(description="At the latest this many days after it; null: no limit.")
    max_per_referral: int | None = Field(description="At most this many per referral; null: no limit.")
    evidence_required: bool = Field(
        description="A claim needs an evidence file (attached on the referral's page): one without is refused."
    )
    recorded_unpaid: bool = Field(
        description="Recorded but never paid: claimable on a referral whose service has no price for it."
    )
    version: int = Field(description="Send it back when changing the rule, to guard against changes made since.")


class ChangeOutcomeRule(Body):
    """Only the fields sent change; the others keep their values."""

    outcome_from: OutcomeFrom | None = Field(
        None, description="`start` (first contact), `release` (release from custody), or null (acceptance)."
    )
    outcome_earliest_days: int = Field(0, ge=0, le=3660)
    outcome_latest_days: int | None = Field(None, ge=0, le=3660, description="Null: no limit.")
    max_per_referral: int | None = Field(None, ge=1, le=1000, description="Null: no limit.")
    evidence_required: bool = False
    recorded_unpaid: bool = False
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"outcome_from": "start", "outcome_earliest_days": 91, "max_per_referral": 1, "version": 1}]
        }
    )


class Eligibility(Out):
    sex: str | None = Field(description="`female` or `male` (the person's recorded gender); null: anyone.")
    min_age: int | None
    max_age: int | None
    setting: Setting = Field(description="Custody, community or both: where the person must be.")
    counties: list[str] = Field(description="In the community: the counties of the offices it takes; empty: any.")
    prisons: list[str] = Field(description="In custody: the prisons it works in; empty: any.")
    probation_offices: list[str] = Field(description="In the community: the offices it takes; empty: any.")


class Service(Out):
    code: str = Field(description="The `service_code` of the rate-card items that price it.")
    name: str = Field(description="Referrals may name the service by this (`service`).")
    description: str | None
    pathway: Pathway
    setting: Setting
    open_to_referrals: bool
    eligibility: Eligibility
    version: int


class ServiceList(Out):
    items: list[Service]


class Contract(Out):
    reference: str
    title: str
    crc: str = Field(description="The CRC's name.")
    partner: str = Field(description="The partner's name.")
    tier: ContractTier
    status: ContractStatus
    start_date: date
    end_date: date
    value_cap_pence: int
    vat_rate: str = Field(description="As a decimal, e.g. 0.2000 for 20%.", examples=["0.2000"])
    payment_terms_days: int
    version: int
    updated_at: Timestamp


class ContractWithRateCard(Contract):
    rate_card: list[RateCardItem]
    outcome_types: list[OutcomeType]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reference": "BENCH-ACC-01",
                    "title": "Through the Gate accommodation",
                    "crc": "BeNCH CRC",
                    "partner": "Nacro",
                    "tier": "subcontract",
                    "status": "active",
                    "start_date": "2026-04-01",
                    "end_date": "2028-03-31",
                    "value_cap_pence": 25000000,
                    "vat_rate": "0.0000",
                    "payment_terms_days": 30,
                    "version": 3,
                    "updated_at": "2026-09-01T08:00:00+00:00",
                    "rate_card": [
                        {
                            "code": "ACC-TTG-REF",
                            "service_code": "ACC-TTG",
                            "name": "Through the Gate referral fee",
                            "pathway": "accommodation",
                            "setting": "both",
                            "unit": "per_referral",
                            "outcome_type": None,
                            "max_units_per_referral": 1,
                            "session_kinds": [],
                            "active": True,
                            "prices": [
                                {"unit_price_pence": 15000, "effective_from": "2026-04-01", "effective_to": None}
                            ],
                        },
                        {
                            "code": "ACC-TTG-SESSION",
                            "service_code": "ACC-TTG",
                            "name": "Through the Gate one-to-one session",
                            "pathway": "accommodation",
                            "setting": "both",
                            "unit": "per_session",
                            "outcome_type": None,
                            "max_units_per_referral": None,
                            "session_kinds": ["one_to_one", "in_custody"],
                            "active": True,
                            "prices": [
                                {"unit_price_pence": 4500, "effective_from": "2026-04-01", "effective_to": None}
                            ],
                        },
                    ],
                    "outcome_types": [
                        {
                            "code": "accommodation_secured_first_night",
                            "name": "Accommodation on the first night",
                            "pathway": "accommodation",
                            "active": True,
                            "outcome_from": "release",
                            "outcome_earliest_days": 0,
                            "outcome_latest_days": 7,
                            "max_per_referral": 1,
                            "evidence_required": False,
                            "recorded_unpaid": False,
                            "version": 1,
                        }
                    ],
                }
            ]
        }
    )


# --- referrals -------------------------------------------------------------------------------------


class PersonIn(Body):
    crn: str = Field(description="nDelius case reference number: a letter and six digits.", examples=["X123456"])
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    ethnicity: Ethnicity = Field(description="An ONS 2021 category code, or not_stated.")
    disability: Disability
    prison_number: str | None = Field(None, examples=["A1234BC"])
    interpreter_language: str | None = None


class LocationIn(Body):
    type: LocationType
    prison: str | None = Field(
        None, description="In custody: the prison, by its name in the CRC's list.", examples=["HMP Peterborough (male)"]
    )
    expected_release_date: date | None = Field(None, description="In custody: when the person is due out.")
    reception_date: date | None = Field(None, description="In custody: when they came into custody (optional).")
    release_type: ReleaseType | None = Field(None, description="In custody: how they are to be released (optional).")
    community_office: str | None = Field(
        None, description="In the community: the probation office they report to, by its name in the CRC's list."
    )
    postcode: str | None = None
    contact_details: str | None = None


class RiskDetailsIn(Body):
    """The structured risk summary (risk that travels). Amending it keeps every earlier version."""

    at_risk: list[AtRisk] = Field(default_factory=list, description="Who is at risk.")
    nature: str = Field(description="The nature of the risk (or that none is known).")
    when_greatest: str | None = None
    protective_factors: str | None = None
    police_da_check: CheckStatus = CheckStatus.NOT_REQUESTED
    police_da_check_on: date | None = Field(
        None, description="When requested or answered; needed unless not requested."
    )
    childrens_services_check: CheckStatus = CheckStatus.NOT_REQUESTED
    childrens_services_check_on: date | None = Field(
        None, description="When requested or answered; needed unless not requested."
    )
    mappa: bool = False
    iom: bool = False
    lone_working_restrictions: str | None = None


class NewReferral(Body):
    contract: str = Field(description="The contract's reference.", examples=["BENCH-ACC-01"])
    service_code: str | None = Field(
        None,
        description="The service's code; or give `service`, its name (both: they must agree).",
        examples=["ACC-TTG"],
    )
    service: str | None = Field(
        None,
        description="The service's name, as GET /contracts/{reference}/services lists it.",
        examples=["Through the Gate resettlement: accommodation, finance, benefit and debt"],
    )
    person: PersonIn
    location: LocationIn
    rosh_level: RoshLevel
    risk_flags: list[RiskFlag] = Field(default_factory=list)
    risk_summary: str = Field(description="The risk information the partner must read before accepting.")
    complexity: Complexity
    desired_outcomes: list[str]
    reason: str = Field(description="Why the person is referred; what they need.")
    rar_days: int | None = Field(
        None,
        description="Days of a Rehabilitation Activity Requirement ordered: community orders only "
        "(a custody referral with RAR days is a 422).",
    )
    sentence_end_date: date
    urgent: bool = False
    reoffending: Reoffending | None = Field(
        None, description="Likelihood of reoffending; with `rosh_level` it suggests the colour band (Annex 3)."
    )
    c2c: C2C | None = Field(
        None,
        description="C2C, Annex 3's third banding factor: with high `reoffending`, high C2C suggests red. "
        "Empty: banded as low.",
    )
    colour_band: ColourBand | None = Field(
        None, description="Empty: the suggested band (when `reoffending` is given). Another needs `colour_band_reason`."
    )
    colour_band_reason: str | None = None
    risk_details: RiskDetailsIn | None = Field(
        None, description="The structured risk summary, recorded with the referral (optional)."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contract": "BENCH-ACC-01",
                    "service_code": "ACC-TTG",
                    "person": {
                        "crn": "X123456",
                        "given_name": "Sam",
                        "family_name": "Smith",
                        "date_of_birth": "1990-04-01",
                        "gender": "male",
                        "ethnicity": "white_british",
                        "disability": "no",
                        "prison_number": "A1234BC",
                        "interpreter_language": None,
                    },
                    "location": {
                        "type": "custody",
                        "prison": "HMP Bedford",
                        "expected_release_date": "2026-12-01",
                    },
                    "rosh_level": "medium",
                    "risk_flags": ["domestic_abuse"],
                    "risk_summary": "History of domestic abuse towards a former partner. Do not meet at home.",
                    "complexity": "medium",
                    "desired_outcomes": ["Find settled accommodation"],
                    "reason": "Homeless on release and needs support to find accommodation.",
                    "rar_days": None,
                    "sentence_end_date": "2027-06-30",
                    "urgent": False,
                }
            ]
        }
    )


class ReferralQuery(SyncQuery):
    status: ReferralStatus | None = None
    contract: str | None = Field(None, description="A contract's reference.")
    service_code: str | None = None


class Person(Out):
    crn: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    ethnicity: str
    disability: Disability
    prison_number: str | None
    interpreter_language: str | None


class Location(Out):
    type: LocationType
    prison: str | None
    expected_release_date: date | None
    reception_date: date | None = None
    release_type: ReleaseType | None = None
    released_on: date | None = Field(None, description="The day the person was released (Through the Gate).")
    community_office: str | None
    postcode: str | None
    contact_details: str | None


class StaffMember(Out):
    name: str
    email: str


class EndOfServiceOutcome(Out):
    desired_outcome: str
    achievement: Achievement
    comment: str | None


class EndOfServiceReport(Out):
    summary: str
    outcomes: list[EndOfServiceOutcome]
    further_needs: str | None
    submitted_at: Timestamp


class Referral(Out):
    reference: str
    status: ReferralStatus
    version: int
    contract: str = Field(description="The contract's reference.")
    service_code: str
    person: Person
    location: Location
    rosh_level: RoshLevel
    risk_flags: list[RiskFlag]
    risk_summary: str
    complexity: Complexity
    desired_outcomes: list[str]
    reason: str
    rar_days: int | None
    sentence_end_date: date
    urgent: bool
    reoffending: Reoffending | None
    c2c: C2C | None
    colour_band: ColourBand | None
    colour_band_reason: str | None
    referrer: StaffMember
    caseworker: StaffMember | None
    sent_at: Timestamp | None
    accept_due_on: date | None
    accepted_at: Timestamp | None
    first_contact_due_on: date | None
    first_contact_at: Timestamp | None
    declined_at: Timestamp | None
    decline_reason_code: DeclineReason | None
    decline_detail: str | None
    withdrawn_at: Timestamp | None
    withdraw_reason_code: WithdrawReason | None
    withdraw_detail: str | None
    completed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class ReferralWithReport(Referral):
    end_of_service_report: EndOfServiceReport | None


class AcceptReferral(Body):
    risk_information_read: bool = Field(description="Must be true: you have read the referral's risk information.")
    caseworker_email: str | None = Field(None, description="A caseworker of yours to hold the case.")
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"risk_information_read": True, "caseworker_email": "cas@nacro.example"}]}
    )


class DeclineReferral(Body):
    reason_code: DeclineReason
    detail: str
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason_code": "no_capacity", "detail": "Our caseload is full until March."}]}
    )


class WithdrawReferral(Body):
    reason_code: WithdrawReason
    detail: str
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason_code": "recalled", "detail": "Recalled to custody on 3 October."}]}
    )


class EndOfServiceOutcomeIn(Body):
    desired_outcome: str = Field(description="One of the referral's desired outcomes, word for word.")
    achievement: Achievement
    comment: str | None = None


class CompleteReferral(Body):
    summary: str
    outcomes: list[EndOfServiceOutcomeIn] = Field(description="One for each of the referral's desired outcomes.")
    further_needs: str | None = None
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "summary": "Housed in supported accommodation and linked with a GP.",
                    "outcomes": [
                        {
                            "desired_outcome": "Find settled accommodation",
                            "achievement": "achieved",
                            "comment": "Tenancy signed.",
                        }
                    ],
                }
            ]
        }
    )


# --- sessions and outcomes -------------------------------------------------------------------------


class NewSession(Body):
    date: date
    start_time: str = Field(description="24-hour clock, London time.", examples=["10:30"])
    duration_minutes: int
    kind: SessionKind
    attendance: Attendance | None = Field(None, description="Null or absent: scheduled, not yet held.")
    non_attendance_reason: NonAttendanceReason | None = Field(
        None, description="For did_not_attend and session_did_not_happen."
    )
    counts_as_rar_day: bool = False
    summary: str | None = None
    behaviour_concern: bool = False
    concern_detail: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-10-14",
                    "start_time": "10:30",
                    "duration_minutes": 60,
                    "kind": "one_to_one",
                    "attendance": "attended",
                    "counts_as_rar_day": True,
                    "summary": "Completed a housing application together.",
                    "behaviour_concern": False,
                }
            ]
        }
    )


class Session(Out):
    id: int
    referral: str = Field(description="The referral's reference.")
    date: date
    start_time: Annotated[
        time,
        PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
        WithJsonSchema({"type": "string"}),
    ]
    duration_minutes: int
    kind: SessionKind
    attendance: Attendance | None
    non_attendance_reason: NonAttendanceReason | None
    counts_as_rar_day: bool
    summary: str | None
    behaviour_concern: bool
    concern_detail: str | None
    group_session: bool = Field(description="True if recorded as part of a group session.")
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class RecordedSession(Session):
    warnings: list[str] = Field(description="Things to know, e.g. days with RAR activity beyond the order.")


class NewOutcome(Body):
    outcome_type: str = Field(description="An outcome type's code on the referral's contract.")
    achieved_on: date
    evidence: str = Field(description="What evidence you have seen.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome_type": "accommodation_secured_first_night",
                    "achieved_on": "2026-10-20",
                    "evidence": "Tenancy agreement seen and copied to the case file.",
                }
            ]
        }
    )


class OutcomeQuery(SyncQuery):
    status: OutcomeStatus | None = None
    contract: str | None = Field(None, description="A contract's reference.")
    referral: str | None = Field(None, description="A referral's reference.")


class Outcome(Out):
    id: int
    referral: str = Field(description="The referral's reference.")
    outcome_type: str = Field(description="The outcome type's code.")
    achieved_on: date
    evidence: str
    status: OutcomeStatus
    claimed_at: Timestamp
    verified_at: Timestamp | None
    rejected_at: Timestamp | None
    rejection_reason: str | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class VerifyOutcome(Body):
    version: Version = None


class RejectOutcome(Body):
    reason: str
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The tenancy agreement is not signed: send the signed copy."}]}
    )


# --- invoices ---------------------------------------------------------------------------------------


class NewInvoice(Body):
    contract: str = Field(description="The contract's reference.", examples=["BENCH-ACC-01"])
    period: str = Field(description="The month billed, YYYY-MM.", examples=["2026-10"])
    early_reason: str | None = Field(
        None,
        description="Required to invoice a month still running before its last working day (England and "
        "Wales): why it must be invoiced early. Recorded, audited and shown on the invoice; ignored otherwise.",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"contract": "BENCH-ACC-01", "period": "2026-10"}]})


class InvoiceQuery(SyncQuery):
    status: InvoiceStatus | None = None
    contract: str | None = Field(None, description="A contract's reference.")
    period: str | None = Field(None, description="YYYY-MM", examples=["2026-10"])


class InvoiceLine(Out):
    item_code: str
    service_code: str
    description: str
    unit: Unit
    quantity: str = Field(description="A decimal string with two places, e.g. 12.50 (hours).", examples=["12.50"])
    unit_price_pence: int
    amount_pence: int
    includes_earlier_work: bool = Field(description="True if some of the work is from before the period.")


class Invoice(Out):
    id: int
    kind: InvoiceKind
    number: str | None = Field(description="Null until submitted.")
    contract: str = Field(description="The contract's reference.")
    period: str = Field(description="YYYY-MM", examples=["2026-10"])
    status: InvoiceStatus
    lines: list[InvoiceLine]
    subtotal_pence: int
    vat_rate: str = Field(description="As a decimal, e.g. 0.2000 for 20%.")
    vat_pence: int
    total_pence: int
    due_date: date | None
    submitted_at: Timestamp | None
    approved_at: Timestamp | None
    paid_on: date | None
    payment_reference: str | None = Field(description="The reference on the bank transfer, once paid.")
    received_on: date | None = Field(description="The London day the CRC first received it: the payment clock starts.")
    days_held: int = Field(description="Days the payment clock stood stopped while the invoice was queried.")
    days_to_pay: int | None = Field(description="Once paid: received to paid, in days, less the days held.")
    paid_late: bool | None = Field(description="Once paid: whether it was paid after its due date.")
    early_reason: str | None = Field(description="Why a month still running was invoiced before its last working day.")
    credited_pence: int | None = Field(
        description="Taken off by approved credit notes (positive); null on a credit note."
    )
    outstanding_pence: int | None = Field(
        description="Still to be paid after approved credit notes (0 once paid); null on a credit note."
    )
    query_reason: str | None
    rejection_reason: str | None
    cap_excess_pence: int = Field(description="How far the invoice takes spend past the contract's value cap.")
    needs_excess_approval: bool
    credited_invoice_id: int | None = Field(description="On a credit note: the invoice it corrects.")
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class InvoiceAction(Body):
    version: Version = None


class InvoiceReason(Body):
    reason: str
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Line 2 bills a session that was cancelled: please check."}]}
    )


class MarkPaid(Body):
    paid_on: date
    payment_reference: str | None = Field(
        None,
        description="Required: the reference on the bank transfer (up to 60 characters).",
        examples=["BACS 004417"],
    )
    version: Version = None


class NewInvoiceMessage(Body):
    body: str = Field(description="The message, up to 2,000 characters.")

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"body": "The session on the 10th was attended late: see the case notes."}]},
    )


class InvoiceMessage(Out):
    id: int
    kind: str = Field(description="query (the CRC queries), reply (the partner), answer (the CRC again)")
    author: str = Field(description="Who wrote it.")
    organisation: str = Field(description="The author's organisation.")
    body: str
    created_at: Timestamp


class InvoiceMessages(Out):
    items: list[InvoiceMessage]

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paid_on": "2026-11-28", "payment_reference": "BACS 004417"}]}
    )


# --- service returns ---------------------------------------------------------------------------------


class NewServiceReturn(Body):
    contract: str = Field(description="The contract's reference.", examples=["BENCH-ACC-01"])
    period: str = Field(
        description="A month, YYYY-MM, or a calendar quarter, YYYY-Qn (2026-Q3 is July to September 2026).",
        examples=["2026-Q3"],
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"contract": "BENCH-ACC-01", "period": "2026-Q3"}]})


class ServiceReturnQuery(SyncQuery):
    status: ReturnStatus | None = None
    contract: str | None = Field(None, description="A contract's reference.")
    period: str | None = Field(None, description="YYYY-MM or YYYY-Qn", examples=["2026-Q3"])


class Narrative(Out):
    achievements: str | None
    challenges: str | None
    case_study: str | None = Field(description="Anonymised: no names, CRNs or dates of birth.")
    safeguarding_concerns: int | None = Field(
        description="Deprecated: the number typed before safeguarding concerns were records of their own; null "
        "on returns written since. The count is the figure `concerns_raised` in `kpis`.",
        json_schema_extra={"deprecated": True},
    )
    safeguarding_note: str | None = Field(description="What kind of concerns were raised and what happened next.")
    complaints: str | None
    staffing: str | None


class WriteNarrative(Body):
    """Only the fields sent change; null (or "") clears one. Achievements, challenges, the case study
    must be written before the return is submitted. The number of safeguarding concerns is counted from the
    concerns recorded on referrals (`kpis`): `safeguarding_concerns` is deprecated and ignored."""

    achievements: str | None = None
    challenges: str | None = None
    case_study: str | None = Field(None, description="Anonymised: no names, CRNs or dates of birth.")
    safeguarding_concerns: int | None = Field(
        None,
        description="Deprecated and ignored: the count comes from the concerns recorded on referrals "
        "(`POST /referrals/{reference}/concerns`).",
        json_schema_extra={"deprecated": True},
    )
    safeguarding_note: str | None = Field(None, description="What kind of concerns were raised and what happened next.")
    complaints: str | None = None
    staffing: str | None = None
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "achievements": "Eleven people housed on release.",
                    "challenges": "Two caseworker vacancies.",
                    "case_study": "A man in his thirties, homeless on release, now holds a tenancy.",
                    "safeguarding_note": "One concern about a child, passed to the referrer the same day.",
                    "version": 1,
                }
            ]
        }
    )


class Ratio(Out):
    """n out of d: shown as a percentage of d to one decimal place, rounded half up (6 of 7 is
    85.7%); no figure when d is 0."""

    n: int
    d: int


FigureValue = Annotated[
    int | Ratio | str | None,
    Field(
        description="By the row's `kind`: count, an integer; money, integer pence; percent, a ratio "
        '{"n", "d"}; decimal, a decimal string like "2.5", or null when there is nothing to measure.'
    ),
]
Suppressed = Literal["fewer than 5", "hidden"]


class FigureValues(Out):
    period: FigureValue
    previous: FigureValue
    ytd: FigureValue


class FigureRow(Out):
    key: str = Field(description="Steady across returns, e.g. received, attendance_rate, invoiced_pence.")
    label: str
    kind: Literal["count", "percent", "decimal", "money"]
    values: FigureValues
    indent: bool = Field(description="A breakdown of the row above it.")


class FigureSection(Out):
    key: str
    title: str
    rows: list[FigureRow]


class FigurePeriod(Out):
    code: str = Field(examples=["2026-Q3"])
    kind: PeriodKind
    label: str = Field(examples=["July to September 2026"])
    start: date
    end: date


class FigureColumn(Out):
    label: str
    start: date
    end: date


class FigureColumns(Out):
    period: FigureColumn
    previous: FigureColumn = Field(description="The period before, of the same length.")
    ytd: FigureColumn = Field(description="The financial year to date (from 1 April, or the contract's start).")


class OutcomeTypeFigures(Out):
    pathway: str
    pathway_label: str
    outcome_type: str = Field(description="The outcome type's code.")
    label: str
    claimed: int
    verified: int
    rejected: int


class EqualityCell(Out):
    count: int | Suppressed = Field(
        description=(
            'Counts from 1 to 4 are "fewer than 5"; where one alone would be given away by the total, '
            'the next smallest count is "hidden" too.'
        )
    )
    percent: str | None = Field(description='Of the column\'s total, like "12.5"; null when hidden.')


class EqualityValues(Out):
    period: EqualityCell
    previous: EqualityCell
    ytd: EqualityCell


class EqualityRow(Out):
    key: str
    label: str
    values: EqualityValues


class EqualityTotals(Out):
    period: int | Suppressed
    previous: int | Suppressed
    ytd: int | Suppressed


class EqualityTable(Out):
    key: str = Field(description="gender, ethnicity, age or disability: of the people starting.")
    title: str
    rows: list[EqualityRow]
    totals: EqualityTotals


class SpendFigures(Out):
    to_period_end_pence: int = Field(description="Spend against the cap (before VAT) at the end of the period.")
    cap_pence: int
    percent_of_cap: Ratio


class ContractVolumes(Out):
    contract_id: int
    contract: str = Field(description="The contract's reference.")
    has_expected_starts: bool
    expected_starts: int | None = Field(description="Starts expected from the contract's start to `as_of`.")
    expected_starts_whole: int | None = Field(description="Starts expected over the whole contract.")
    received: int = Field(description="Referrals received from the contract's start to `as_of`.")
    accepted: int
    started: int
    accepted_not_started: int = Field(description="Accepted, first contact overdue, not started and not ended.")
    starts_forecast: int | None = Field(description="Starts at the contract's end, on a straight line.")
    spend_pence: int = Field(description="Spend against the cap (before VAT) to `as_of`.")
    expected_spend_pence: int = Field(description="The spend profile to `as_of` (without one, the cap spread evenly).")
    expected_spend_whole_pence: int
    spend_forecast_pence: int | None = Field(description="Spend at the contract's end, on a straight line.")
    profiled: bool = Field(description="Whether the contract has a spend profile of its own.")
    crc_under_referral: bool = Field(description="Referrals received are under 80% of the starts expected.")
    partner_under_delivery: bool = Field(
        description="Starts are under 80% of what the partner could have started, or accepted referrals wait past "
        "their first-contact date."
    )


class VolumeFigures(Out):
    """Actual against expected, from each contract's start to `as_of` (the period's end, or today)."""

    as_of: date
    as_of_label: str = Field(examples=["7 December 2026"])
    expected_starts: int | None
    expected_starts_whole: int | None
    received: int
    accepted: int
    started: int
    accepted_not_started: int
    starts_forecast: int | None
    spend_pence: int
    expected_spend_pence: int
    expected_spend_whole_pence: int
    spend_forecast_pence: int | None
    crc_under_referral: list[int] = Field(description="Ids of the contracts the CRC under-refers.")
    partner_under_delivery: list[int] = Field(description="Ids of the contracts the partner under-delivers.")
    contracts: list[ContractVolumes]


class GrantFigures(Out):
    paid_to_period_end_pence: int = Field(description="Grant payments paid by the end of the period.")
    is_grant: bool


class MonthFigures(Out):
    month: str = Field(examples=["2026-09"])
    label: str
    received: int
    accepted: int
    outcomes_claimed: int
    outcomes_verified: int
    attended: int
    late: int
    missed: int
    did_not_happen: int


class HeadlineFigure(Out):
    key: str
    label: str
    value: Ratio
    shown: str = Field(examples=["95.0%", "no data"])
    target: str = Field(examples=["at least 95%"])
    status: Literal["met", "not_met", "no_data"]


class Figures(Out):
    """A return's figures, for the period with the previous period and the year to date beside it:
    the same figures the return's page and PDF show."""

    model_config = ConfigDict(serialize_by_alias=True)

    schema_version: int = Field(alias="schema", description="The version of this layout of figures.")
    period: FigurePeriod
    columns: FigureColumns
    headline: list[HeadlineFigure] = Field(description="The headline figures, each against its target.")
    sections: list[FigureSection]
    outcomes_by_type: list[OutcomeTypeFigures]
    equality: list[EqualityTable] = Field(description="Equality monitoring of people starting, small numbers hidden.")
    spend: SpendFigures
    months: list[MonthFigures] = Field(description="Up to 12 months to the end of the period, for charts.")
    volumes: VolumeFigures | None = Field(
        default=None, description="Against the contract (absent from returns submitted before it was added)."
    )
    grant: GrantFigures | None = Field(default=None, description="Grant payments (absent from older returns).")


class ServiceReturnSummary(Out):
    id: int
    contract: str = Field(description="The contract's reference.")
    period: str = Field(description="YYYY-MM or YYYY-Qn", examples=["2026-Q3"])
    period_kind: PeriodKind
    period_label: str = Field(examples=["July to September 2026"])
    period_start: date
    period_end: date
    status: ReturnStatus
    version: int
    narrative: Narrative
    missing_narrative: dict[str, list[str]] = Field(
        description="While it can be edited: what must still be written before it is submitted, by narrative field."
    )
    return_reason: str | None = Field(description="Why the contract manager returned it for changes.")
    submitted_at: Timestamp | None
    submitted_by: StaffMember | None
    returned_at: Timestamp | None
    returned_by: StaffMember | None
    accepted_at: Timestamp | None
    accepted_by: StaffMember | None
    created_at: Timestamp
    updated_at: Timestamp


class ServiceReturn(ServiceReturnSummary):
    figures_frozen: bool = Field(
        description="True once submitted: `kpis` are then the figures as they stood at submission, never "
        "recomputed. Until then they are computed from the records as they are now."
    )
    kpis: Figures


class ReturnAction(Body):
    version: Version = None


class ReturnReason(Body):
    reason: str = Field(description="What needs to change: the partner is shown it.")
    version: Version = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The case study names the person: please anonymise it."}]}
    )


def decimal_string(value: Decimal, places: str = "0.01") -> str:
    return str(value.quantize(Decimal(places)))


def as_json_schema_example(model: type[BaseModel]) -> Any:
    """The first example a model declares, if any (for the docs page)."""
    extra = model.model_config.get("json_schema_extra") or {}
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return examples[0] if examples else None


# --- list pages (made once, so the OpenAPI document names them steadily) ----------------------------

ContractPage = page_of(Contract)
ReferralPage = page_of(Referral)
SessionPage = page_of(Session)
OutcomePage = page_of(Outcome)
InvoicePage = page_of(Invoice)
ServiceReturnPage = page_of(ServiceReturnSummary, "ServiceReturnPage")
