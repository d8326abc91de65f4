"""The items of each role's work list (see portal/main/work.py): one count query each, scoped by
portal.access, with the link to where the work is done."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import url_for
from sqlalchemy import and_, func, or_, select

from portal import access
from portal.accounts.models import Role, User
from portal.contracts.models import Contract, ContractStatus
from portal.dates import Window, add_months, start_of_london_day
from portal.db import utcnow
from portal.delivery.models import Alert, Outcome, OutcomeStatus, Session
from portal.extensions import db
from portal.formatting import LONDON, format_money
from portal.invoicing.models import CLOCK_RUNNING_STATUSES, Invoice, InvoiceKind, InvoiceStatus
from portal.main.work import once_a_request, work_item
from portal.organisations.models import Organisation
from portal.referrals.models import LIVE_STATUSES, OPEN_STATUSES, Referral, ReferralStatus
from portal.returns.models import ReturnStatus, ServiceReturn

CASEWORKER, MANAGER = Role.PROVIDER_CASEWORKER, Role.PROVIDER_MANAGER
REFERRER, CONTRACT_MANAGER, ADMIN = Role.CRC_REFERRER, Role.CONTRACT_MANAGER, Role.ADMIN
PARTNER = {CASEWORKER, MANAGER}


def _count(statement: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def _my_cases(user: User) -> Any:
    """The open referrals assigned to `user` (ids), that they can see."""
    return select(Referral.id).where(_my_cases_clause(user))


def _my_cases_clause(user: User) -> Any:
    return and_(
        access.visibility_clause(Referral, user), Referral.caseworker_id == user.id, Referral.status.in_(OPEN_STATUSES)
    )


def _case_counts(user: User, today: date) -> dict[str, int]:
    """The counts of the user's own open cases (all, new ones waiting for first contact, those with
    no action plan) in one query, which also says whether they have any."""

    def ask() -> dict[str, int]:
        from portal.plans.models import ActionPlan

        has_plan = select(ActionPlan.id).where(ActionPlan.referral_id == Referral.id).exists()
        counts = db.session.execute(
            select(
                func.count(),
                func.count().filter(Referral.status == ReferralStatus.ACCEPTED, Referral.first_contact_at.is_(None)),
                func.count().filter(~has_plan),
            ).where(_my_cases_clause(user))
        ).one()
        return dict(zip(("open", "new", "without_plan"), counts, strict=True))

    return once_a_request("case_counts", user, today, ask)


def _has_cases(user: User, today: date) -> bool:
    """Whether any count over the user's own cases can be above nought. A partner manager who takes no
    cases is spared the others (sessions, claims, plans, reviews…), each of which read the partner's
    referrals only to find none of them theirs."""
    return _case_counts(user, today)["open"] > 0


def _session_counts(user: User, today: date) -> dict[str, int]:
    """The counts of the sessions of the user's cases (waiting for attendance, today, the rest of
    this week) in one query: each case's sessions are read once, not three times."""
    if not _has_cases(user, today):
        return {"awaiting": 0, "today": 0, "this_week": 0}

    def ask() -> dict[str, int]:
        sunday = today + timedelta(days=6 - today.weekday())
        awaiting = and_(Session.attendance.is_(None), has_happened(utcnow()))
        this_week = and_(Session.date > today, Session.date <= sunday)
        counts = db.session.execute(
            select(
                func.count().filter(awaiting),
                func.count().filter(Session.date == today),
                func.count().filter(this_week),
            ).where(
                Session.referral_id.in_(_my_cases(user)),
                or_(Session.attendance.is_(None), Session.date == today, this_week),
            )
        ).one()
        return dict(zip(("awaiting", "today", "this_week"), counts, strict=True))

    return once_a_request("session_counts", user, today, ask)


def _sent_by(user: User) -> Any:
    return select(Referral.id).where(_sent_by_clause(user))


def _sent_by_clause(user: User) -> Any:
    """The referrals `user` sent and can see, as a WHERE clause: counting referrals, it spares the
    join of the referrer's thousands of referrals to themselves that `id IN _sent_by` costs."""
    return and_(access.visibility_clause(Referral, user), Referral.referrer_id == user.id)


def has_happened(now: datetime) -> Any:
    """A session whose start is past: an earlier day, or today at or before the time now (London)."""
    local = now.astimezone(LONDON)
    return or_(Session.date < local.date(), and_(Session.date == local.date(), Session.start_time <= local.time()))


# --- caseworkers ---------------------------------------------------------------------------------------


@work_item(
    "sessions_awaiting_feedback",
    PARTNER,
    order=10,
    noun="session",
    text="waiting for attendance to be recorded",
    href=lambda user: url_for("delivery.my_sessions", _anchor="awaiting"),
    warn=True,
)
def _awaiting_feedback(user: User, today: date) -> int:
    return _session_counts(user, today)["awaiting"]


@work_item(
    "claims_rejected",
    PARTNER,
    order=20,
    noun="outcome claim",
    text="rejected by the CRC, to claim again or withdraw",
    href=lambda user: url_for("delivery.outcomes_queue", status="rejected", mine="yes"),
    warn=True,
)
def _claims_rejected(user: User, today: date) -> int:
    if not _has_cases(user, today):
        return 0
    return _count(rejected_not_claimed_again(user).where(Outcome.referral_id.in_(_my_cases(user))))


def rejected_not_claimed_again(user: User) -> Any:
    """Rejected claims the partner has not yet claimed again."""
    again = select(Outcome.previous_claim_id).where(Outcome.previous_claim_id.is_not(None))
    return access.visible(Outcome, user).where(Outcome.status == OutcomeStatus.REJECTED, Outcome.id.not_in(again))


@work_item(
    "sessions_today",
    PARTNER,
    order=30,
    noun="session",
    text="today",
    href=lambda user: url_for("delivery.my_sessions", _anchor="coming-up"),
)
def _sessions_today(user: User, today: date) -> int:
    return _session_counts(user, today)["today"]


@work_item(
    "new_assignments",
    PARTNER,
    order=40,
    noun="new case",
    text="assigned to you, waiting for first contact",
    href=lambda user: url_for("referrals.index", tab="mine", sort="due", dir="asc"),
)
def _new_assignments(user: User, today: date) -> int:
    return _case_counts(user, today)["new"]


@work_item(
    "sessions_this_week",
    PARTNER,
    order=50,
    noun="session",
    text="booked for the rest of this week",
    href=lambda user: url_for("delivery.my_sessions", _anchor="coming-up"),
)
def _sessions_this_week(user: User, today: date) -> int:
    return _session_counts(user, today)["this_week"]


@work_item(
    "my_cases",
    PARTNER,
    order=60,
    noun="open case",
    text="assigned to you",
    href=lambda user: url_for("referrals.index", tab="mine"),
)
def _open_cases(user: User, today: date) -> int:
    return _case_counts(user, today)["open"]


@work_item(
    "alerts_raised",
    {CASEWORKER},
    order=70,
    noun="alert",
    text="raised on your cases, waiting for the referrer",
    href=lambda user: url_for("delivery.alerts_queue"),
)
def _alerts_raised(user: User, today: date) -> int:
    if not _has_cases(user, today):
        return 0
    return _count(
        access.visible(Alert, user).where(Alert.acknowledged_at.is_(None), Alert.referral_id.in_(_my_cases(user)))
    )


# --- partner managers ----------------------------------------------------------------------------------


def _partner_referrals(user: User, today: date) -> dict[str, int]:
    """The manager's four counts over their partner's referrals, in one query. It reads the few
    thousand not yet closed once, from the index of their contracts' referrals by status; four counts
    read them four times, and the overdue one, by other indexes, tens of thousands (EXPLAIN on the
    200,000-referral seed: 1.1 ms for the one, 5.6 ms for the four, not counting planning)."""

    def ask() -> dict[str, int]:
        is_open = Referral.status.in_(OPEN_STATUSES)
        counts = db.session.execute(
            select(
                func.count().filter(Referral.overdue),
                func.count().filter(Referral.status == ReferralStatus.SENT),
                func.count().filter(and_(is_open, Referral.caseworker_id.is_(None))),
                func.count().filter(is_open),
            ).where(access.visibility_clause(Referral, user), Referral.status.in_(LIVE_STATUSES))
        ).one()
        return dict(zip(("overdue", "new", "unassigned", "open"), counts, strict=True))

    return once_a_request("partner_referrals", user, today, ask)


@work_item(
    "referrals_overdue",
    {MANAGER},
    order=5,
    noun="referral",
    text="overdue for an answer or first contact",
    href=lambda user: url_for("referrals.index", tab="all", overdue="yes"),
    warn=True,
)
def _referrals_overdue(user: User, today: date) -> int:
    return _partner_referrals(user, today)["overdue"]


@work_item(
    "referrals_new",
    {MANAGER},
    order=6,
    noun="new referral",
    text="waiting for your answer",
    href=lambda user: url_for("referrals.index", tab="new", sort="due", dir="asc"),
)
def _referrals_new(user: User, today: date) -> int:
    return _partner_referrals(user, today)["new"]


@work_item(
    "referrals_unassigned",
    {MANAGER},
    order=7,
    noun="open referral",
    text="with no caseworker",
    href=lambda user: url_for("referrals.index", tab="unassigned"),
    warn=True,
)
def _referrals_unassigned(user: User, today: date) -> int:
    return _partner_referrals(user, today)["unassigned"]


def _loads(user: User, today: date) -> list[tuple[str, int | None, str]]:
    """Each active caseworker's open cases, busiest first: one query. The cases are counted by
    caseworker from the index of the partner's referrals by status alone before the few caseworkers
    are joined; joined first, each caseworker's whole history was read (3.6 ms, now 0.7 ms)."""
    loads = (
        select(Referral.caseworker_id, func.count().label("cases"))
        .where(access.visibility_clause(Referral, user), Referral.status.in_(OPEN_STATUSES))
        .group_by(Referral.caseworker_id)
        .subquery()
    )
    rows = db.session.execute(
        select(User.id, User.name, loads.c.cases)
        .join(loads, loads.c.caseworker_id == User.id)
        .where(User.organisation_id == user.organisation_id)
        .order_by(loads.c.cases.desc(), User.name)
    ).all()
    return [(name, count, url_for("referrals.index", tab="open", caseworker_id=uid)) for uid, name, count in rows]


@work_item(
    "caseworker_loads",
    {MANAGER},
    order=8,
    noun="open case",
    text="across your caseworkers",
    href=lambda user: url_for("referrals.index", tab="open"),
    detail=_loads,
)
def _all_open(user: User, today: date) -> int:
    return _partner_referrals(user, today)["open"]


@work_item(
    "invoices_queried",
    {MANAGER},
    order=9,
    noun="invoice",
    text="queried by the CRC, to answer",
    href=lambda user: url_for("invoicing.index", status="queried"),
    warn=True,
)
def _invoices_queried(user: User, today: date) -> int:
    return _invoice_counts(user, today)["queried"]


def _invoice_counts(user: User, today: date) -> dict[str, int]:
    """The invoice counts of both managers' lists (queried, to decide, overdue) in one query: each
    role shows two of them, which were two queries over the same few invoices."""

    def ask() -> dict[str, int]:
        counts = db.session.execute(
            select(
                func.count().filter(Invoice.status == InvoiceStatus.QUERIED, Invoice.kind == InvoiceKind.INVOICE),
                func.count().filter(Invoice.status == InvoiceStatus.SUBMITTED),
                func.count().filter(Invoice.overdue),
            ).where(
                access.visibility_clause(Invoice, user),
                Invoice.status.in_({InvoiceStatus.QUERIED, InvoiceStatus.SUBMITTED, *CLOCK_RUNNING_STATUSES}),
            )
        ).one()
        return dict(zip(("queried", "to_decide", "overdue"), counts, strict=True))

    return once_a_request("invoice_counts", user, today, ask)


@work_item(
    "returns_returned",
    {MANAGER},
    order=11,
    noun="service return",
    text="returned by the CRC for changes",
    href=lambda user: url_for("returns.index", status="returned"),
    warn=True,
)
def _returns_returned(user: User, today: date) -> int:
    return _return_counts(user, today).get(ReturnStatus.RETURNED, 0)


def _return_counts(user: User, today: date) -> dict[ReturnStatus, int]:
    """How many of the returns the user sees are in each status: one query for the partner
    manager's two counts (returned, draft) and the contract manager's one (submitted)."""

    def ask() -> dict[ReturnStatus, int]:
        rows = db.session.execute(
            select(ServiceReturn.status, func.count())
            .where(access.visibility_clause(ServiceReturn, user))
            .group_by(ServiceReturn.status)
        ).all()
        return {ReturnStatus(status): count for status, count in rows}

    return once_a_request("return_counts", user, today, ask)


@work_item(
    "returns_draft",
    {MANAGER},
    order=12,
    noun="service return",
    text="in draft, to finish and submit",
    href=lambda user: url_for("returns.index", status="draft"),
)
def _returns_draft(user: User, today: date) -> int:
    return _return_counts(user, today).get(ReturnStatus.DRAFT, 0)


def last_ended_quarter(today: date) -> Window:
    """The calendar quarter before the one `today` is in: the last period every return can cover,
    whether the partner reports by month or by quarter."""
    this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return Window(add_months(this_quarter, -3), this_quarter - timedelta(days=1))


@work_item(
    "returns_due",
    {MANAGER},
    order=10,
    noun="service return",
    text="due for the last quarter and not yet started",
    href=lambda user: url_for("returns.new"),
    warn=True,
)
def _returns_due(user: User, today: date) -> int:
    quarter = last_ended_quarter(today)
    covered = (
        select(ServiceReturn.id)
        .where(
            ServiceReturn.contract_id == Contract.id,
            ServiceReturn.period_start <= quarter.end,
            ServiceReturn.period_end >= quarter.end,
        )
        .exists()
    )
    return _count(
        access.visible(Contract, user).where(
            Contract.status != ContractStatus.DRAFT,
            Contract.start_date <= quarter.end,
            Contract.end_date >= quarter.start,
            ~covered,
        )
    )


def _overdue_invoices(user: User, today: date) -> int:
    return _invoice_counts(user, today)["overdue"]


work_item(
    "invoices_overdue",
    {MANAGER, CONTRACT_MANAGER},
    order=13,
    noun="invoice",
    text="unpaid past the due date",
    href=lambda user: url_for("invoicing.index", overdue="yes"),
    warn=True,
)(_overdue_invoices)


# --- CRC referrers ------------------------------------------------------------------------------------------


@work_item(
    "alerts_to_acknowledge",
    {REFERRER},
    order=1,
    noun="alert",
    text="to acknowledge",
    href=lambda user: url_for("delivery.alerts_queue"),
    warn=True,
)
def _alerts_to_acknowledge(user: User, today: date) -> int:
    return _count(
        access.visible(Alert, user).where(Alert.acknowledged_at.is_(None), Alert.referral_id.in_(_sent_by(user)))
    )


@work_item(
    "outcomes_to_verify",
    {REFERRER},
    order=2,
    noun="outcome claim",
    text="to verify or reject",
    href=lambda user: url_for("delivery.outcomes_queue"),
)
def _outcomes_to_verify(user: User, today: date) -> int:
    # The referrals the user sent that they see (_sent_by) are all an outcome's visibility asks;
    # asking it again read the referrals twice.
    return _count(
        select(Outcome.id).where(Outcome.status == OutcomeStatus.CLAIMED, Outcome.referral_id.in_(_sent_by(user)))
    )


@work_item(
    "referrals_declined",
    {REFERRER},
    order=3,
    noun="referral",
    text="you sent declined in the last 30 days",
    href=lambda user: url_for("referrals.index", tab="closed"),
    warn=True,
)
def _referrals_declined(user: User, today: date) -> int:
    return _count(
        select(Referral.id).where(
            _sent_by_clause(user),
            Referral.status == ReferralStatus.DECLINED,
            Referral.declined_at >= start_of_london_day(today - timedelta(days=30)),
        )
    )


@work_item(
    "referrals_late_answer",
    {REFERRER},
    order=4,
    noun="referral",
    text="you sent not answered in time by the partner",
    href=lambda user: url_for("referrals.index", tab="sent", overdue="yes"),
)
def _late_answers(user: User, today: date) -> int:
    return _count(select(Referral.id).where(_sent_by_clause(user), Referral.accept_overdue))


@work_item(
    "referral_drafts",
    {REFERRER},
    order=5,
    noun="draft referral",
    text="not yet sent",
    href=lambda user: url_for("referrals.index", tab="drafts"),
)
def _drafts(user: User, today: date) -> int:
    return _count(access.visible(Referral, user).where(Referral.status == ReferralStatus.DRAFT))


# --- contract managers --------------------------------------------------------------------------------------


@work_item(
    "invoices_to_decide",
    {CONTRACT_MANAGER},
    order=1,
    noun="invoice or credit note",
    plural="invoices and credit notes",
    text="to approve, query or reject",
    href=lambda user: url_for("invoicing.queue"),
)
def _invoices_to_decide(user: User, today: date) -> int:
    return _invoice_counts(user, today)["to_decide"]


@work_item(
    "returns_to_review",
    {CONTRACT_MANAGER},
    order=2,
    noun="service return",
    text="to review",
    href=lambda user: url_for("returns.index", status="submitted"),
)
def _returns_to_review(user: User, today: date) -> int:
    return _return_counts(user, today).get(ReturnStatus.SUBMITTED, 0)


@work_item(
    "bank_changes_to_confirm",
    {CONTRACT_MANAGER},
    order=3,
    noun="change of bank account",
    plural="changes of bank account",
    text="to confirm before the next payment",
    href=lambda user: url_for("remittance.index"),
    warn=True,
)
def _bank_changes_to_confirm(user: User, today: date) -> int:
    # Fraud controls: a partner's new bank account takes effect only once the CRC confirms it.
    from portal.remittance.models import BankDetailsChange, ChangeStatus

    return _count(
        select(BankDetailsChange.id)
        .join(Organisation, Organisation.id == BankDetailsChange.organisation_id)
        .where(BankDetailsChange.status == ChangeStatus.PENDING, access.visibility_clause(Organisation, user))
    )


CAP_WARNING_PERCENT = 90
QUIET_DAYS = 30


def _near_cap(user: User) -> Any:
    spend = (
        select(Invoice.contract_id, func.sum(Invoice.spend_pence).label("spent"))
        .group_by(Invoice.contract_id)
        .subquery()
    )
    return (
        select(Contract.reference, Contract.title, spend.c.spent, Contract.value_cap_pence)
        .join(spend, spend.c.contract_id == Contract.id)
        .where(
            access.visibility_clause(Contract, user),
            Contract.status == ContractStatus.ACTIVE,
            spend.c.spent * 100 >= Contract.value_cap_pence * CAP_WARNING_PERCENT,
        )
        .order_by(Contract.reference)
    )


def _near_cap_rows(user: User, today: date) -> list[Any]:
    """Asked once a request: the count and its detail lines share the rows (one per contract, so
    there are never many), where a count and then the rows were two queries."""
    return once_a_request("near_cap", user, today, lambda: db.session.execute(_near_cap(user)).all())


def _near_cap_detail(user: User, today: date) -> list[tuple[str, int | None, str]]:
    return [
        (
            f"{reference}: {format_money(spent)} of its {format_money(cap)} cap",
            None,
            url_for("contracts.show", reference=reference),
        )
        for reference, _title, spent, cap in _near_cap_rows(user, today)
    ]


@work_item(
    "contracts_near_cap",
    {CONTRACT_MANAGER},
    order=3,
    noun="contract",
    text=f"with {CAP_WARNING_PERCENT}% or more of the value cap spent",
    href=lambda user: url_for("contracts.index", status="active"),
    warn=True,
    detail=_near_cap_detail,
)
def _contracts_near_cap(user: User, today: date) -> int:
    return len(_near_cap_rows(user, today))


def _quiet(user: User, today: date) -> Any:
    """Active contracts, running for a month or more, that no referral was sent to in the last
    month: partners live on referral volumes, so a silent contract is worth a look."""
    since = start_of_london_day(today - timedelta(days=QUIET_DAYS))
    recent = select(Referral.contract_id).where(Referral.sent_at >= since, Referral.contract_id.is_not(None))
    return (
        select(Contract.reference, Contract.title)
        .where(
            access.visibility_clause(Contract, user),
            Contract.status == ContractStatus.ACTIVE,
            Contract.start_date <= today - timedelta(days=QUIET_DAYS),
            Contract.end_date >= today,
            Contract.id.not_in(recent),
        )
        .order_by(Contract.reference)
    )


@work_item(
    "contracts_quiet",
    {CONTRACT_MANAGER},
    order=4,
    noun="active contract",
    text=f"with no referral in the last {QUIET_DAYS} days",
    href=lambda user: url_for("contracts.index", status="active"),
    warn=True,
    detail=lambda user, today: [
        (f"{reference}: {title}", None, url_for("contracts.show", reference=reference))
        for reference, title in _quiet_rows(user, today)
    ],
)
def _contracts_quiet(user: User, today: date) -> int:
    return len(_quiet_rows(user, today))


def _quiet_rows(user: User, today: date) -> list[Any]:
    """Asked once a request, for the count and its detail lines (as _near_cap_rows)."""
    return once_a_request("quiet", user, today, lambda: db.session.execute(_quiet(user, today)).all())


# --- administrators -------------------------------------------------------------------------------------------


@work_item(
    "accounts_locked",
    {ADMIN},
    order=1,
    noun="account",
    text="locked after wrong passwords",
    href=lambda user: url_for("accounts.users", status="locked"),
    warn=True,
)
def _locked(user: User, today: date) -> int:
    return _count(access.visible(User, user).where(User.locked_until > utcnow()))


@work_item(
    "invitations_pending",
    {ADMIN},
    order=2,
    noun="invitation",
    text="not yet accepted",
    href=lambda user: url_for("accounts.users", status="invited"),
)
def _invited(user: User, today: date) -> int:
    return _count(access.visible(User, user).where(User.active.is_(True), User.password_hash.is_(None)))


# --- safeguarding concerns (portal/safeguarding): on both sides' lists until closed -----------------


def _concerns_not_closed(user: User) -> Any:
    from portal.safeguarding.models import NOT_CLOSED, SafeguardingConcern

    return select(SafeguardingConcern.id).where(
        access.visibility_clause(SafeguardingConcern, user), SafeguardingConcern.status.in_(NOT_CLOSED)
    )


@work_item(
    "concerns_to_acknowledge",
    {REFERRER},
    order=1,
    noun="safeguarding concern",
    text="to acknowledge",
    href=lambda user: url_for("safeguarding.index", status="open", mine="yes"),
    warn=True,
)
def _concerns_to_acknowledge(user: User, today: date) -> int:
    from portal.safeguarding.models import ConcernStatus, SafeguardingConcern

    return _count(
        _concerns_not_closed(user).where(
            SafeguardingConcern.status == ConcernStatus.OPEN, SafeguardingConcern.referral_id.in_(_sent_by(user))
        )
    )


@work_item(
    "concerns_to_close",
    {REFERRER},
    order=2,
    noun="safeguarding concern",
    text="acknowledged, to close with an outcome",
    href=lambda user: url_for("safeguarding.index", status="acknowledged", mine="yes"),
)
def _concerns_to_close(user: User, today: date) -> int:
    from portal.safeguarding.models import ConcernStatus, SafeguardingConcern

    return _count(
        _concerns_not_closed(user).where(
            SafeguardingConcern.status == ConcernStatus.ACKNOWLEDGED,
            SafeguardingConcern.referral_id.in_(_sent_by(user)),
        )
    )


@work_item(
    "concerns_escalated_to_me",
    {REFERRER, CONTRACT_MANAGER, ADMIN},
    order=0,
    noun="safeguarding concern",
    text="escalated to you, not acknowledged in time",
    href=lambda user: url_for("safeguarding.index", status="open"),
    warn=True,
)
def _concerns_escalated(user: User, today: date) -> int:
    from portal.safeguarding.models import ConcernStatus, SafeguardingConcern

    escalated_to_me = SafeguardingConcern.escalated_to_id == user.id
    if user.role == ADMIN:  # administrators hear of those whose referrer has no team manager
        escalated_to_me = or_(escalated_to_me, SafeguardingConcern.escalated_to_id.is_(None))
    return _count(
        _concerns_not_closed(user).where(
            SafeguardingConcern.status == ConcernStatus.OPEN,
            SafeguardingConcern.escalated_at.is_not(None),
            escalated_to_me,
        )
    )


@work_item(
    "concerns_open_partner",
    PARTNER,
    order=5,
    noun="safeguarding concern",
    text="raised and not yet closed by the referrer",
    href=lambda user: url_for("safeguarding.index"),
    warn=True,
)
def _partner_concerns(user: User, today: date) -> int:
    return _count(_concerns_not_closed(user))


# --- action plans and progress reviews (portal/plans) ------------------------------------------------


@work_item(
    "plans_to_approve",
    {REFERRER},
    order=3,
    noun="action plan",
    text="to approve",
    href=lambda user: url_for("plans.index", mine="yes"),
)
def _plans_to_approve(user: User, today: date) -> int:
    from portal.plans.models import ActionPlan, PlanStatus

    return _count(
        select(ActionPlan.id).where(
            ActionPlan.referral_id.in_(_sent_by(user)), ActionPlan.status == PlanStatus.SUBMITTED
        )
    )


@work_item(
    "reviews_to_read",
    {REFERRER},
    order=4,
    noun="progress review",
    text="to read",
    href=lambda user: url_for("plans.index", mine="yes"),
)
def _reviews_to_read(user: User, today: date) -> int:
    from portal.plans.models import ProgressReview, ReviewStatus

    return _count(
        select(ProgressReview.id).where(
            ProgressReview.referral_id.in_(_sent_by(user)), ProgressReview.status == ReviewStatus.SUBMITTED
        )
    )


@work_item(
    "plans_changes_asked",
    PARTNER,
    order=15,
    noun="action plan",
    text="with changes asked for by the referrer",
    href=lambda user: url_for("plans.index", mine="yes"),
    warn=True,
)
def _plans_changes_asked(user: User, today: date) -> int:
    if not _has_cases(user, today):
        return 0
    from portal.plans.models import ActionPlan, PlanStatus

    return _count(
        select(ActionPlan.id).where(
            ActionPlan.referral_id.in_(_my_cases(user)), ActionPlan.status == PlanStatus.CHANGES_REQUESTED
        )
    )


@work_item(
    "reviews_overdue",
    PARTNER,
    order=12,
    noun="progress review",
    text="overdue",
    href=lambda user: url_for("plans.index", mine="yes"),
    warn=True,
)
def _reviews_overdue(user: User, today: date) -> int:
    return _review_counts(user, today)[0]


def _review_counts(user: User, today: date) -> tuple[int, int]:
    """(overdue, due in the next two weeks) over the user's cases: one query for both items."""
    if not _has_cases(user, today):
        return 0, 0
    from portal.plans.service import review_counts

    return once_a_request("review_counts", user, today, lambda: review_counts(_my_cases(user), today))


@work_item(
    "reviews_due",
    PARTNER,
    order=35,
    noun="progress review",
    text="due in the next two weeks",
    href=lambda user: url_for("plans.index", mine="yes"),
)
def _reviews_due(user: User, today: date) -> int:
    return _review_counts(user, today)[1]


@work_item(
    "cases_without_plan",
    PARTNER,
    order=45,
    noun="case",
    text="without an action plan",
    href=lambda user: url_for("plans.index", mine="yes"),
)
def _cases_without_plan(user: User, today: date) -> int:
    return _case_counts(user, today)["without_plan"]
