"""The one place that decides what a user may see and do.

Seeing: every query for records that belong to an organisation starts from `visible(Model, user)`
or `get_visible_or_404(...)`; no view or API handler builds its own ownership filter. A record a
user may not see is reported as missing (404), never as forbidden, so its existence does not leak.

Doing: `can(actor, verb, record)` and `require(actor, verb, record)` decide every action, from
the rules at the bottom of this module (one per kind of record and verb: the roles that may, and
any further condition). A record the actor cannot see is NotFound; one they can see but may not
act on is NotAllowed. `record` may also be a model class, for what is done to no record in
particular ("create a contract", "read the audit log"): then only the roles and conditions count.
Services, views, buttons, navigation and the API all ask these two functions; `flask
permissions-table` prints the rules as the table in the README.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from flask import has_request_context, request
from sqlalchemy import ColumnElement, Select, and_, false, literal, or_, select, true

from portal.accounts.models import CRC_ROLES, PARTNER_ROLES, ApiToken, Role, User
from portal.audit.models import AuditEvent
from portal.contracts.models import Contract, OutcomeType, RateCardItem, RateCardPrice, Service
from portal.delivery.models import Alert, EndOfServiceReport, EvidenceFile, GroupSession, Outcome, Session
from portal.errors import NotAllowed, NotFound
from portal.extensions import db
from portal.grants.models import ExpectedStarts, GrantActivity, GrantInstalment, SpendProfile
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceLine, InvoiceMessage
from portal.organisations.models import Organisation, OrganisationKind
from portal.people.models import Person
from portal.places.models import County, Prison, ProbationOffice
from portal.plans.models import ActionPlan, ActionPlanVersion, ProgressReview
from portal.referrals.models import CaseNote, Referral, ReferralEvent, ReferralImport, ReferralStatus
from portal.remittance.models import BankDetailsChange, PurchaseOrder, RemittanceDetails
from portal.returns.models import ServiceReturn
from portal.safeguarding.models import RiskSummary, SafeguardingConcern
from portal.ttg.models import ReleaseRecord

M = TypeVar("M")

# model -> function(user) -> WHERE clause limiting that model to what the user may see
_VISIBILITY: dict[type, Callable[[User], ColumnElement[bool]]] = {}
# model -> (attribute naming its parent, parent model): seen exactly when the parent is seen
_PARENTS: dict[type, tuple[str, type]] = {}


def visibility_rule(model: type) -> Callable:
    def register(rule: Callable[[User], ColumnElement[bool]]) -> Callable:
        _VISIBILITY[model] = rule
        return rule

    return register


def seen_with(model: type, attribute: str, parent: type) -> None:
    """`model`'s records are seen by whoever sees the `parent` that `attribute` names."""
    column = getattr(model, attribute)
    _PARENTS[model] = (attribute, parent)
    _VISIBILITY[model] = lambda user: column.in_(select(parent.id).where(visibility_clause(parent, user)))


def _signed_in(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and bool(user.active)


def visibility_clause(model: type, user: User) -> ColumnElement[bool]:
    """The WHERE clause limiting `model` to the rows `user` may see.

    A model with no rule is a programming error, not an open door.
    """
    if not _signed_in(user):
        return false()
    try:
        rule = _VISIBILITY[model]
    except KeyError as exc:  # pragma: no cover - caught by the access tests
        raise LookupError(f"no visibility rule for {model.__name__}") from exc
    return rule(user)


def visible(model: type[M], user: User) -> Select[tuple[M]]:
    """select(model) limited to what `user` may see; add filters, ordering and paging to it."""
    return select(model).where(visibility_clause(model, user))


def get_visible_or_404(model: type[M], key: Any, user: User, *, column: Any = None, options: Iterable[Any] = ()) -> M:
    """The record of `model` whose primary key (or `column`) equals `key`, if `user` may see it;
    else NotFound (a 404 page, or a 404 problem from the API)."""
    column = column if column is not None else model.id  # type: ignore[attr-defined]
    statement = visible(model, user).where(column == key).options(*options)
    record = db.session.scalars(statement).first()
    if record is None:
        raise NotFound
    return record


def sees(user: User, record: Any) -> bool:
    """Whether `user` may see this record: by the same rule as `visible`, asked of one row. A
    record seen with its parent asks of the parent, so the buttons on a page of a referral's
    outcomes ask the database once, however many outcomes there are (and once a request)."""
    record = _unproxied(record)
    if not _signed_in(user) or record is None:
        return False
    model = type(record)
    if model in _PARENTS:
        attribute, parent = _PARENTS[model]
        parent_id = getattr(record, attribute)
        return parent_id is not None and sees(user, db.session.get(parent, parent_id))
    memo = _request_memo()
    key = (user.id, model.__name__, record.id)
    if key not in memo:
        seen = select(literal(True)).select_from(model).where(model.id == record.id, visibility_clause(model, user))
        memo[key] = db.session.scalar(seen) is not None
    return memo[key]


def _request_memo() -> dict[tuple[Any, ...], bool]:
    """What this request has already asked (nothing is remembered outside a request: a test or a
    command acting as several people in turn asks afresh each time)."""
    if not has_request_context():
        return {}
    memo = getattr(request, "_portal_sees", None)
    if memo is None:
        memo = request._portal_sees = {}  # type: ignore[attr-defined]
    return memo


# --- who sees what -------------------------------------------------------------------------


@visibility_rule(Organisation)
def _organisations(user: User) -> ColumnElement[bool]:
    """The CRC sees itself and the partners (its supply chain is chosen from them), never another
    CRC; a partner sees itself."""
    if user.is_crc_user:
        return or_(Organisation.id == user.organisation_id, Organisation.kind == OrganisationKind.PARTNER)
    return Organisation.id == user.organisation_id


@visibility_rule(User)
def _users(user: User) -> ColumnElement[bool]:
    """People see the users of the organisations they see."""
    if user.is_crc_user:
        return User.organisation_id.in_(select(Organisation.id).where(_organisations(user)))
    return User.organisation_id == user.organisation_id


@visibility_rule(Contract)
def _contracts(user: User) -> ColumnElement[bool]:
    if user.is_crc_user:
        return Contract.crc_id == user.organisation_id
    return Contract.partner_id == user.organisation_id


@visibility_rule(Referral)
def _referrals(user: User) -> ColumnElement[bool]:
    """The CRC sees its own referrals, but a draft only by its author until it is sent; a partner
    sees sent referrals on its contracts."""
    if user.is_crc_user:
        return and_(
            Referral.crc_id == user.organisation_id,
            or_(Referral.status != ReferralStatus.DRAFT, Referral.referrer_id == user.id),
        )
    return and_(
        Referral.contract_id.in_(select(Contract.id).where(Contract.partner_id == user.organisation_id)),
        Referral.status != ReferralStatus.DRAFT,
    )


@visibility_rule(Person)
def _people(user: User) -> ColumnElement[bool]:
    """A CRC sees the people it holds; a partner, the people of its referrals."""
    if user.is_crc_user:
        return Person.crc_id == user.organisation_id
    return Person.id.in_(select(Referral.person_id).where(_referrals(user)))


@visibility_rule(Invoice)
def _invoices(user: User) -> ColumnElement[bool]:
    """The CRC sees its contracts' invoices (drafts too, to approve an excess over the cap); a
    partner sees its own."""
    if user.is_crc_user:
        return Invoice.contract_id.in_(select(Contract.id).where(_contracts(user)))
    return Invoice.partner_id == user.organisation_id


# Records seen exactly when their parent is: a contract's rate card, outcome types, group sessions
# and returns (drafts too); a referral's timeline, notes and delivery records; an invoice's lines.
for _model, _attribute, _parent in (
    (RateCardItem, "contract_id", Contract),
    (RateCardPrice, "item_id", RateCardItem),
    (OutcomeType, "contract_id", Contract),
    (Service, "contract_id", Contract),
    (GroupSession, "contract_id", Contract),
    (ServiceReturn, "contract_id", Contract),
    (ReferralEvent, "referral_id", Referral),
    (CaseNote, "referral_id", Referral),
    (Session, "referral_id", Referral),
    (Outcome, "referral_id", Referral),
    (EvidenceFile, "outcome_id", Outcome),
    (Alert, "referral_id", Referral),
    (EndOfServiceReport, "referral_id", Referral),
    (RiskSummary, "referral_id", Referral),
    (ReleaseRecord, "referral_id", Referral),
    (ActionPlan, "referral_id", Referral),
    (ActionPlanVersion, "plan_id", ActionPlan),
    (ProgressReview, "referral_id", Referral),
    (InvoiceLine, "invoice_id", Invoice),
    (InvoiceEvent, "invoice_id", Invoice),
    (InvoiceMessage, "invoice_id", Invoice),
    (GrantInstalment, "contract_id", Contract),
    (GrantActivity, "contract_id", Contract),
    (ExpectedStarts, "contract_id", Contract),
    (SpendProfile, "contract_id", Contract),
    (RemittanceDetails, "organisation_id", Organisation),
    (BankDetailsChange, "organisation_id", Organisation),
    (PurchaseOrder, "contract_id", Contract),
):
    seen_with(_model, _attribute, _parent)


@visibility_rule(SafeguardingConcern)
def _safeguarding_concerns(user: User) -> ColumnElement[bool]:
    """Seen exactly when its referral is, decided by the concern's own copy of the referral's
    contract (migration 0038; portal.integrity checks the copy): a concern is raised only on a
    sent referral, which its CRC and its contract's partner see, so seeing the referral is seeing
    its contract. Narrowed through each referral instead, a partner's list of concerns read the
    CRC's concerns one by one in deadline order (issue 20)."""
    return SafeguardingConcern.contract_id.in_(select(Contract.id).where(_contracts(user)))


# One concern is asked about through its referral, as the other records of a referral are: a page
# of a referral's concerns asks the database once.
_PARENTS[SafeguardingConcern] = ("referral_id", Referral)


def _places_rule(model: type) -> None:
    @visibility_rule(model)
    def _places(user: User) -> ColumnElement[bool]:
        """A CRC's places are seen by its staff and by the partners it holds contracts with."""
        if user.is_crc_user:
            return model.crc_id == user.organisation_id
        return model.crc_id.in_(select(Contract.crc_id).where(Contract.partner_id == user.organisation_id))


for _model in (County, Prison, ProbationOffice):
    _places_rule(_model)


@visibility_rule(ReferralImport)
def _referral_imports(user: User) -> ColumnElement[bool]:
    """An imported file is seen only by the person who uploaded it."""
    return ReferralImport.created_by_id == user.id if can(user, "send", Referral) else false()


@visibility_rule(ApiToken)
def _api_tokens(user: User) -> ColumnElement[bool]:
    """People see their own API tokens; administrators see those of everyone they see, to revoke them."""
    if user.role == Role.ADMIN:
        return ApiToken.user_id.in_(select(User.id).where(_users(user)))
    return ApiToken.user_id == user.id


@visibility_rule(AuditEvent)
def _audit_events(user: User) -> ColumnElement[bool]:
    return true() if user.role == Role.ADMIN else false()


# --- who may do what -----------------------------------------------------------------------

# A condition on the actor and the record (or None, asked of a model class): None when it is
# met, else the reason it is not, which NotAllowed carries.
Condition = Callable[[User, Any], str | None]


@dataclass(frozen=True)
class Rule:
    kind: type
    verb: str
    roles: frozenset[Role]
    refusal: str  # why, to someone who can see the record but whose role may not
    what: str  # the action in words, for the README's table
    condition: Condition | None = None
    note: str = ""  # the condition in words, for the README's table


_RULES: dict[tuple[type, str], Rule] = {}


def rule(
    kind: type,
    verb: str,
    roles: Iterable[Role],
    what: str,
    refusal: str,
    *,
    condition: Condition | None = None,
    note: str = "",
) -> None:
    _RULES[(kind, verb)] = Rule(kind, verb, frozenset(roles), refusal, what, condition, note)


def _rule_for(verb: str, record: Any) -> Rule:
    kind = record if isinstance(record, type) else type(record)
    try:
        return _RULES[(kind, verb)]
    except KeyError as exc:  # a verb with no rule is a programming error, not an open door
        raise LookupError(f"no rule for {verb!r} on {kind.__name__}") from exc


def _unproxied(thing: Any) -> Any:
    """The object behind Flask-Login's current_user proxy (the rules go by the record's class)."""
    return thing._get_current_object() if hasattr(thing, "_get_current_object") else thing


def refusal(actor: Any, verb: str, record: Any) -> Exception | None:
    """None if `actor` may do `verb` to `record`; else the error saying why not: NotFound when
    they cannot see the record, NotAllowed (with the reason) when they can."""
    actor, record = _unproxied(actor), _unproxied(record)
    found = _rule_for(verb, record)
    if not _signed_in(actor):
        return NotFound()
    if not isinstance(record, type) and not sees(actor, record):
        return NotFound()
    if actor.role not in found.roles:
        return NotAllowed(found.refusal)
    reason = found.condition(actor, None if isinstance(record, type) else record) if found.condition else None
    return NotAllowed(reason) if reason else None


def can(actor: Any, verb: str, record: Any) -> bool:
    """Whether `actor` may do `verb` to `record` (a record, or a model class for no record in particular)."""
    return refusal(actor, verb, record) is None


def require(actor: Any, verb: str, record: Any) -> None:
    """Raise NotFound (cannot see the record) or NotAllowed (can see it, may not) unless `actor` may
    do `verb` to `record`."""
    error = refusal(actor, verb, record)
    if error is not None:
        raise error


def can_any(actor: Any, *asks: tuple[str, Any]) -> bool:
    """Whether `actor` may do any of these (verb, record) pairs: a section of the portal is for
    whoever does any of the things it is for."""
    return any(can(actor, verb, record) for verb, record in asks)


def rules() -> list[Rule]:
    return list(_RULES.values())


# --- the rules -----------------------------------------------------------------------------

EVERYONE = frozenset(Role)
PARTNERS = PARTNER_ROLES
REFERRER, CONTRACT_MANAGER, ADMIN = Role.CRC_REFERRER, Role.CONTRACT_MANAGER, Role.ADMIN
PARTNER_MANAGER = Role.PROVIDER_MANAGER


def _partner_only(actor: User, organisation: Organisation | None) -> str | None:
    if organisation is not None and not organisation.is_partner:
        return "Only partner organisations can be changed in the portal"
    return None


def _manageable(actor: User, target: User | None) -> str | None:
    """Administrators manage everyone; partner managers their own organisation's partner users
    (they see no one else's)."""
    if actor.role == ADMIN or target is None or target.role in PARTNER_ROLES:
        return None
    return "Partner managers manage only their organisation's users"


def _themselves_or_admin(actor: User, target: User | None) -> str | None:
    if actor.role == ADMIN or target is None or target.id == actor.id:
        return None
    return "Only the person themselves, or an administrator, sees their API tokens"


def _themselves(actor: User, target: User | None) -> str | None:
    if target is None or target.id == actor.id:
        return None
    return "You can only create API tokens for yourself"


def _someone_else(actor: User, target: User | None) -> str | None:
    if target is None or target.id != actor.id:
        return None
    return "Change your own two-step verification from your account page"


# Organisations and users
rule(
    Organisation,
    "list",
    {CONTRACT_MANAGER, ADMIN, REFERRER},
    "see the supply chain's organisations",
    "Only the CRC's staff see the supply chain's organisations",
)
rule(Organisation, "add", {CONTRACT_MANAGER}, "add a partner", "Only contract managers add partners")
rule(
    Organisation,
    "edit",
    {CONTRACT_MANAGER},
    "change a partner's details",
    "Only contract managers change partners' details",
    condition=_partner_only,
    note="partners only, not the CRC",
)
rule(
    User,
    "manage",
    {ADMIN, PARTNER_MANAGER},
    "add, change, deactivate and unlock users",
    "Only administrators, and partner managers for their own organisation, manage users",
    condition=_manageable,
    note="partner managers: their organisation's users",
)
rule(
    User,
    "manage_in_any_organisation",
    {ADMIN},
    "add users to any organisation, and see whose users they are",
    "Partner managers add users to their own organisation only",
)
rule(
    User,
    "see_api_tokens",
    EVERYONE,
    "see a person's API tokens",
    "Only the person themselves, or an administrator, sees their API tokens",
    condition=_themselves_or_admin,
    note="their own (administrators: anyone's)",
)
rule(
    User,
    "create_api_token",
    EVERYONE,
    "create an API token",
    "You can only create API tokens for yourself",
    condition=_themselves,
    note="for themselves",
)
rule(
    ApiToken,
    "revoke",
    EVERYONE,
    "revoke an API token",
    "Only the token's owner or an administrator can revoke it",
    note="their own (administrators: anyone's)",
)
rule(
    User,
    "reset_mfa",
    {ADMIN},
    "reset a person's two-step verification (a lost phone)",
    "Only administrators reset two-step verification",
    condition=_someone_else,
    note="someone else's (their own: from their account page)",
)
rule(AuditEvent, "read", {ADMIN}, "read the audit log", "Only administrators read the audit log")
rule(
    County,
    "manage",
    {ADMIN},
    "add, change, retire and import counties, prisons and probation offices",
    "Only administrators manage counties, prisons and probation offices",
)
rule(
    Person,
    "subject_access",
    {ADMIN},
    "find a person and download everything held about them (subject access)",
    "Only administrators answer subject access requests",
    note="people their CRC holds",
)

# Contracts
rule(Contract, "add", {CONTRACT_MANAGER}, "set up a contract", "Only contract managers set up contracts")
rule(
    Contract,
    "manage",
    {CONTRACT_MANAGER},
    "change a contract, its services, outcome types, rate card, grant schedule and expected volumes",
    "Only contract managers change contracts and rate cards",
)
rule(
    Service,
    "browse",
    {REFERRER, CONTRACT_MANAGER},
    "search the directory of services open to referrals",
    "Only the CRC's staff browse the service directory",
)
rule(
    Contract,
    "see_figures",
    {PARTNER_MANAGER, CONTRACT_MANAGER},
    "see the dashboard and performance report",
    "Only partner managers and contract managers see the dashboard",
)
rule(
    Contract,
    "record_group_sessions",
    PARTNERS,
    "record a group session",
    "Only the partner records delivery",
)
rule(
    Contract,
    "generate_invoices",
    {PARTNER_MANAGER},
    "generate a draft invoice",
    "Only the partner's managers generate and submit invoices",
)
rule(
    Contract,
    "start_returns",
    {PARTNER_MANAGER},
    "start a service return",
    "Only the partner's managers write and submit service returns",
)

# Referrals and delivery
rule(Referral, "create", {REFERRER}, "draft and send a referral", "Only CRC referrers can do this")
rule(
    Referral,
    "send",
    {REFERRER, CONTRACT_MANAGER},
    "send whole referrals at once (the API, a CSV import)",
    "Only CRC referrers and contract managers can send referrals",
)
rule(
    ReferralImport,
    "confirm",
    {REFERRER, CONTRACT_MANAGER},
    "confirm an uploaded CSV file of referrals",
    "Only CRC referrers and contract managers can send referrals",
    note="their own uploads (no one else sees them)",
)
rule(
    Referral,
    "edit_draft",
    {REFERRER},
    "change, send or discard a draft",
    "Only CRC referrers can do this",
    note="their own drafts (no one else sees them)",
)
rule(
    Referral,
    "answer",
    {PARTNER_MANAGER},
    "accept or decline a referral",
    "Only the partner's managers accept or decline referrals",
)
rule(Referral, "assign", {PARTNER_MANAGER}, "assign a caseworker", "Only the partner's managers assign caseworkers")
rule(Referral, "withdraw", {REFERRER}, "withdraw a referral", "Only CRC referrers can do this")
rule(Referral, "amend", {REFERRER}, "amend a sent referral", "Only CRC referrers can do this")
rule(Referral, "add_case_note", EVERYONE, "add a case note", "You cannot add case notes")
rule(
    Referral,
    "record_sessions",
    PARTNERS,
    "record, change and move sessions; correction notes",
    "Only the partner records delivery",
)
rule(
    Referral,
    "claim_outcomes",
    PARTNERS,
    "claim an outcome, change or withdraw a claim",
    "Only the partner records delivery",
)
rule(
    Referral,
    "complete",
    PARTNERS,
    "submit the end-of-service report",
    "Only the partner records delivery",
)
rule(
    Outcome,
    "decide",
    {REFERRER, CONTRACT_MANAGER},
    "verify or reject an outcome claim",
    "The CRC's referrers and contract managers verify outcomes",
)
rule(
    Alert,
    "acknowledge",
    {REFERRER},
    "acknowledge an alert",
    "Only the CRC's referrers acknowledge alerts: enforcement is their decision",
)

# Safeguarding concerns (portal/safeguarding)
rule(
    Referral,
    "raise_concern",
    PARTNERS,
    "raise a safeguarding concern",
    "Only the partner raises safeguarding concerns on a referral",
)
rule(
    SafeguardingConcern,
    "acknowledge",
    {REFERRER},
    "acknowledge a safeguarding concern",
    "Only the CRC's referrers acknowledge safeguarding concerns",
)
rule(
    SafeguardingConcern,
    "close",
    {REFERRER},
    "close a safeguarding concern with its outcome",
    "Only the CRC's referrers close safeguarding concerns",
)


rule(
    Referral,
    "record_risk",
    {REFERRER},
    "record and amend the structured risk summary (each amendment kept, with its reason)",
    "Only the CRC's referrers record the risk summary",
)


rule(
    Referral,
    "record_release",
    {*PARTNERS, REFERRER},
    "record a release from custody and its release-day checklist (Through the Gate)",
    "Only the partner and the CRC's referrers record a release",
)


# Action plans and progress reviews (portal/plans)
rule(
    Referral,
    "write_plan",
    PARTNERS,
    "write, revise and submit the action plan",
    "Only the partner writes the action plan",
)
rule(
    ActionPlan,
    "decide",
    {REFERRER},
    "approve an action plan or ask for changes",
    "Only the CRC's referrers approve action plans",
)
rule(
    Referral,
    "write_review",
    PARTNERS,
    "submit a progress review",
    "Only the partner writes progress reviews",
)
rule(
    ProgressReview,
    "mark_read",
    {REFERRER},
    "mark a progress review read, with a response",
    "Only the CRC's referrers mark progress reviews read",
)


def _crc_staff(actor: User, target: User | None) -> str | None:
    if target is None or target.role in CRC_ROLES:
        return None
    return "Only the CRC's own staff have a team manager"


rule(
    User,
    "set_team_manager",
    {ADMIN},
    "name a person's team manager (late safeguarding concerns are escalated to them)",
    "Only administrators name team managers",
    condition=_crc_staff,
    note="the CRC's staff",
)


# Remittance details (portal/remittance): a partner's own managers and the CRC's contract managers
rule(
    Organisation,
    "see_remittance",
    {PARTNER_MANAGER, CONTRACT_MANAGER},
    "see a partner's bank account, remittance email and purchase order numbers",
    "Only partner managers and contract managers see remittance details",
    condition=_partner_only,
    note="partners only",
)
rule(
    Organisation,
    "keep_remittance",
    {PARTNER_MANAGER},
    "keep the remittance email and purchase order numbers; ask to change the bank account",
    "Only the partner's managers keep its remittance details",
    condition=_partner_only,
    note="partners only; a bank account change waits for a contract manager",
)
rule(
    Organisation,
    "confirm_bank_details",
    {CONTRACT_MANAGER},
    "confirm or reject a partner's change of bank account",
    "Only the CRC's contract managers confirm a change of bank account",
    condition=_partner_only,
    note="partners only",
)

# Invoices and service returns
rule(
    Invoice,
    "bill",
    {PARTNER_MANAGER},
    "generate again, revise and submit an invoice",
    "Only the partner's managers generate and submit invoices",
)
rule(
    Invoice,
    "decide",
    {CONTRACT_MANAGER},
    "approve, query, reject or mark paid; approve an excess over the cap",
    "The CRC's contract managers decide on invoices",
)
rule(
    Invoice,
    "credit",
    {PARTNER_MANAGER, CONTRACT_MANAGER},
    "raise a credit note",
    "Only the partner's managers and the CRC's contract managers raise credit notes",
)
rule(
    GrantInstalment,
    "claim",
    {PARTNER_MANAGER},
    "raise a grant instalment as a grant payment; resubmit it when queried",
    "Only the partner's managers raise grant payments",
)
rule(
    GrantInstalment,
    "decide",
    {CONTRACT_MANAGER},
    "approve, query, reject or mark paid a grant payment",
    "The CRC's contract managers decide on grant payments",
)
rule(
    Contract,
    "record_grant_activity",
    PARTNERS,
    "record grant-funded drop-in and group work (no referral)",
    "Only the partner records delivery",
)
rule(
    ServiceReturn,
    "see",
    {PARTNER_MANAGER, CONTRACT_MANAGER},
    "see service returns",
    "Only partner managers and contract managers work with service returns",
)
rule(
    ServiceReturn,
    "write",
    {PARTNER_MANAGER},
    "write and submit a service return",
    "Only the partner's managers write and submit service returns",
)
rule(
    ServiceReturn,
    "decide",
    {CONTRACT_MANAGER},
    "accept or return a service return; download a period's returns",
    "The CRC's contract managers accept service returns",
)


# --- user administration -------------------------------------------------------------------


def assignable_roles(actor: User, organisation: Organisation) -> list[Role]:
    """The roles `actor` may give a user of `organisation` (empty: may not add users there)."""
    kind_roles = PARTNER_ROLES if organisation.kind == OrganisationKind.PARTNER else CRC_ROLES
    if actor.role == ADMIN:
        allowed = kind_roles
    elif actor.role == PARTNER_MANAGER and organisation.id == actor.organisation_id:
        allowed = PARTNER_ROLES
    else:
        allowed = frozenset()
    return [role for role in Role if role in allowed]


def organisations_for_user_admin(actor: User) -> Select[tuple[Organisation]]:
    """Organisations `actor` may add users to."""
    if actor.role == ADMIN:
        return select(Organisation).order_by(Organisation.kind, Organisation.name)
    return select(Organisation).where(Organisation.id == actor.organisation_id)


# --- the table in the README ---------------------------------------------------------------

ROLE_ORDER = (Role.PROVIDER_CASEWORKER, Role.PROVIDER_MANAGER, Role.CRC_REFERRER, Role.CONTRACT_MANAGER, Role.ADMIN)


def rules_table() -> str:
    """Every rule as a Markdown table, verbs down and roles across: what the README shows."""
    roles = " | ".join(role.label for role in ROLE_ORDER)
    lines = [f"| record | verb | to | {roles} | only |", "|" + "---|" * (4 + len(ROLE_ORDER))]
    for found in _RULES.values():
        marks = " | ".join("yes" if role in found.roles else "" for role in ROLE_ORDER)
        lines.append(f"| {found.kind.__name__} | `{found.verb}` | {found.what} | {marks} | {found.note} |")
    return "\n".join(lines) + "\n"


@click.command(
    "permissions-table", help="Print who may do what, from the rules in portal/access.py (the README's table)."
)
def permissions_table_command() -> None:
    click.echo(rules_table(), nl=False)
