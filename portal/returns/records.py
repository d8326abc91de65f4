"""The set-based loader behind the figures: the plain rows `portal.returns.kpis` computes from, read
for some contracts and a range of days in a fixed number of queries whatever the data size
(sessions, grant-funded activity and referrals to date are counted in SQL; no query per referral,
session or outcome)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from portal.contracts.models import Contract, ContractTier, OutcomeType, Pathway
from portal.contracts.services import in_pathway
from portal.dates import end_of_london_day, london_day, london_today, start_of_london_day
from portal.delivery.models import ATTENDED, EndOfServiceReport, Outcome, OutcomeStatus, Session
from portal.extensions import db
from portal.grants.models import ExpectedStarts, GrantActivity, GrantInstalment, SpendProfile
from portal.invoicing.models import Invoice
from portal.people.models import ETHNICITY_GROUPS, Person
from portal.places.models import Prison, ProbationOffice
from portal.referrals.models import DECLINE_REASON_LABELS, WITHDRAW_REASONS, Referral
from portal.returns.kpis import (
    GRANT_PAYMENT,
    ActivityCount,
    ConcernRow,
    ContractTerms,
    EndOfServiceRow,
    InvoiceRow,
    Labels,
    MonthlyExpectation,
    OutcomeRow,
    Records,
    ReferralRow,
    ReleaseRow,
    SessionCount,
    ToDate,
)


def default_labels() -> Labels:
    return Labels(
        decline_reasons={reason.value: label for reason, label in DECLINE_REASON_LABELS.items()},
        withdraw_reasons={reason.value: label for reason, (_group, label) in WITHDRAW_REASONS.items()},
    )


def _referral_filters(statement: Select, pathway: str | None, area: str | None) -> Select:
    """Narrow a statement that joins Referral to one pathway (by the referral's service) or area
    (its prison or probation office)."""
    if pathway:
        statement = statement.where(in_pathway(Referral.contract_id, Referral.service_code, pathway))
    if area:
        # By the office or prison record (its name now), or the name a referral made before the
        # records existed carries.
        statement = statement.where(
            or_(
                Referral.probation_office_id.in_(select(ProbationOffice.id).where(ProbationOffice.name == area)),
                Referral.prison_id.in_(select(Prison.id).where(Prison.name == area)),
                and_(Referral.probation_office_id.is_(None), Referral.community_office == area),
                and_(Referral.prison_id.is_(None), Referral.prison == area),
            )
        )
    return statement


def load_records(
    contract_ids: Sequence[int],
    start: date,
    end: date,
    *,
    pathway: str | None = None,
    area: str | None = None,
    today: date | None = None,
) -> Records:
    """Every row the figures for days `start`..`end` need, for these contracts."""
    ids = list(contract_ids)
    if not ids:
        return Records()
    first, after = start_of_london_day(start), end_of_london_day(end)
    records = load_terms(ids, end, pathway=pathway, area=area, today=today)
    records.referrals = _referrals(ids, start, first, after, end, pathway, area)
    records.sessions = _sessions(ids, start, end, pathway, area)
    records.outcomes = _outcomes(ids, first, after, pathway, area)
    records.end_of_service = _end_of_service(ids, first, after, pathway, area)
    records.concerns = _concerns(ids, first, after, pathway, area)
    records.releases = _releases(ids, start, end, pathway, area)
    records.activities = _activities(ids, start, end)
    return records


def load_terms(
    ids: list[int], end: date, *, pathway: str | None = None, area: str | None = None, today: date | None = None
) -> Records:
    """What the figures need besides the period's records: the contracts' terms, expected starts,
    spend profile, counts to date, and their invoices and grant payments (a few a contract and month,
    read as rows: spend, prompt payment and the grant's figures are counted from them)."""
    terms = _contract_terms(ids)
    return Records(
        invoices=_invoices(ids, end_of_london_day(end)) + _grant_payments(ids, end),
        cap_pence=sum(t.cap_pence for t in terms),
        contracts=terms,
        expected_starts=[
            MonthlyExpectation(row[0], row[1], int(row[2] or 0))
            for row in db.session.execute(
                select(ExpectedStarts.contract_id, ExpectedStarts.month, func.sum(ExpectedStarts.starts))
                .where(ExpectedStarts.contract_id.in_(ids))
                .where(*_service_filter(pathway))
                .group_by(ExpectedStarts.contract_id, ExpectedStarts.month)
            )
        ],
        spend_profile=[
            MonthlyExpectation(row[0], row[1], int(row[2]))
            for row in db.session.execute(
                select(SpendProfile.contract_id, SpendProfile.month, SpendProfile.expected_pence).where(
                    SpendProfile.contract_id.in_(ids)
                )
            )
        ],
        to_date=_to_date(ids, min(end, today or london_today()), pathway, area),
    )


def _service_filter(pathway: str | None) -> list[Any]:
    """Expected starts of a pathway's services only (a service is priced under one pathway)."""
    if not pathway:
        return []
    return [in_pathway(ExpectedStarts.contract_id, ExpectedStarts.service_code, pathway)]


def _contract_terms(ids: list[int]) -> list[ContractTerms]:
    return [
        # int(): a BIGINT may come back as a Decimal on PostgreSQL, which the frozen JSON cannot hold.
        ContractTerms(row[0], row[1], row[2], int(row[3]), row[4] == ContractTier.GRANT, row[5])
        for row in db.session.execute(
            select(
                Contract.id,
                Contract.start_date,
                Contract.end_date,
                Contract.value_cap_pence,
                Contract.tier,
                Contract.reference,
            )
            .where(Contract.id.in_(ids))
            .order_by(Contract.id)
        )
    ]


def _grant_payments(ids: list[int], end: date) -> list[InvoiceRow]:
    """Grant payments raised by `end`, as invoice rows (they count as invoices do)."""
    g = GrantInstalment
    after = end_of_london_day(end)
    statement = select(g.contract_id, g.status, g.amount_pence, g.submitted_at, g.approved_at, g.paid_on).where(
        g.contract_id.in_(ids), g.submitted_at.is_not(None), g.submitted_at < after
    )
    return [
        InvoiceRow(
            contract_id=row[0],
            kind=GRANT_PAYMENT,
            status=row[1].value,
            subtotal_pence=int(row[2]),
            submitted_on=london_day(row[3]),
            approved_on=london_day(row[4]),
            paid_on=row[5],
        )
        for row in db.session.execute(statement)
    ]


def _activities(ids: list[int], start: date, end: date) -> list[ActivityCount]:
    a = GrantActivity
    statement = (
        select(a.contract_id, a.day, a.kind, func.count(), func.sum(a.attendees), func.sum(a.duration_minutes))
        .where(a.contract_id.in_(ids), a.day >= start, a.day <= end)
        .group_by(a.contract_id, a.day, a.kind)
    )
    return [
        ActivityCount(row[0], row[1], row[2].value, int(row[3]), int(row[4] or 0), int(row[5] or 0))
        for row in db.session.execute(statement)
    ]


def _to_date(ids: list[int], as_of: date, pathway: str | None, area: str | None) -> list[ToDate]:
    """Each contract's referrals from its start to `as_of`: received, accepted, started, and accepted
    but not started with first contact overdue (and not ended). One grouped query."""
    r = Referral
    after = end_of_london_day(as_of)

    def counting(*conditions: Any) -> Any:
        return func.count(case((and_(*conditions), 1)))

    still_open = and_(
        or_(r.withdrawn_at.is_(None), r.withdrawn_at >= after), or_(r.completed_at.is_(None), r.completed_at >= after)
    )
    statement = (
        select(
            r.contract_id,
            counting(r.sent_at < after),
            counting(r.accepted_on <= as_of),
            counting(r.first_contact_at < after),
            counting(
                r.accepted_on <= as_of,
                or_(r.first_contact_at.is_(None), r.first_contact_at >= after),
                r.first_contact_due_on < as_of,
                still_open,
            ),
        )
        .where(r.contract_id.in_(ids), r.sent_at.is_not(None))
        .group_by(r.contract_id)
    )
    return [
        ToDate(row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4]))
        for row in db.session.execute(_referral_filters(statement, pathway, area))
    ]


def relevant_referrals(ids: list[int], start: date, first: Any, after: Any) -> list[Any]:
    """The referrals that figures for days `start`.. (beginning at the moment `first`, ending before
    `after`) are counted over: sent by the end, and not closed before the start, unless a clock
    they had fell due inside the range (they then count in that SLA figure)."""
    r = Referral
    still_relevant = or_(
        and_(
            or_(r.declined_at.is_(None), r.declined_at >= first),
            or_(r.withdrawn_at.is_(None), r.withdrawn_at >= first),
            or_(r.completed_at.is_(None), r.completed_at >= first),
        ),
        r.accept_due_on >= start,
        r.first_contact_due_on >= start,
    )
    return [r.contract_id.in_(ids), r.sent_at.is_not(None), r.sent_at < after, still_relevant]


def _referrals(
    ids: list[int], start: date, first: Any, after: Any, end: date, pathway: str | None, area: str | None
) -> list[ReferralRow]:
    r = Referral
    # Aliases: the area filter's subqueries name the place tables too, and must not correlate with these.
    prison, office = aliased(Prison), aliased(ProbationOffice)
    rar = (  # RAR days are calendar days: two RAR sessions on one day are one day
        select(Session.referral_id, func.count(func.distinct(Session.date)).label("delivered"))
        .where(Session.attendance.in_(ATTENDED), Session.counts_as_rar_day.is_(True), Session.date <= end)
        .group_by(Session.referral_id)
        .subquery()
    )
    statement = (
        select(
            r.id,
            r.contract_id,
            r.sent_at,
            r.accept_due_on,
            r.accepted_on,
            r.declined_at,
            r.decline_reason,
            r.withdrawn_at,
            r.withdraw_reason,
            r.first_contact_due_on,
            r.first_contact_at,
            r.completed_at,
            r.location_type,
            # Grouped by the place record: a renamed office stays one office.
            func.coalesce(prison.name, r.prison),
            func.coalesce(office.name, r.community_office),
            r.rar_days,
            Person.gender,
            Person.ethnicity,
            Person.date_of_birth,
            Person.disability,
            func.coalesce(rar.c.delivered, 0),
        )
        .select_from(r)
        .outerjoin(Person, Person.id == r.person_id)
        .outerjoin(rar, rar.c.referral_id == r.id)
        .outerjoin(prison, prison.id == r.prison_id)
        .outerjoin(office, office.id == r.probation_office_id)
        .where(*relevant_referrals(ids, start, first, after))
        .order_by(r.id)
    )
    rows = []
    # Core execution: these are plain columns, and the ORM's per-row bookkeeping would double the time.
    for row in db.session.connection().execute(_referral_filters(statement, pathway, area)):
        rows.append(
            ReferralRow(
                id=row[0],
                contract_id=row[1],
                sent_on=london_day(row[2]),
                accept_due_on=row[3],
                accepted_on=row[4],
                declined_on=london_day(row[5]),
                decline_reason=row[6].value if row[6] else None,
                withdrawn_on=london_day(row[7]),
                withdraw_reason=row[8].value if row[8] else None,
                first_contact_due_on=row[9],
                first_contact_on=london_day(row[10]),
                completed_on=london_day(row[11]),
                location_type=row[12].value if row[12] else None,
                prison=row[13],
                community_office=row[14],
                rar_days=row[15] or 0,
                gender=row[16].value if row[16] else "not_stated",
                ethnicity_group=ETHNICITY_GROUPS.get(row[17] or "not_stated", "Not stated"),
                date_of_birth=row[18],
                disability=row[19].value if row[19] else "not_stated",
                rar_days_delivered=row[20],
            )
        )
    return rows


def _sessions(ids: list[int], start: date, end: date, pathway: str | None, area: str | None) -> list[SessionCount]:
    s = Session
    statement = (
        select(
            Referral.contract_id,
            s.date,
            s.attendance,
            s.non_attendance_reason,
            s.counts_as_rar_day,
            func.count(),
            func.coalesce(func.sum(s.duration_minutes), 0),
        )
        .join(Referral, Referral.id == s.referral_id)
        .where(Referral.contract_id.in_(ids), s.date >= start, s.date <= end)
        .group_by(Referral.contract_id, s.date, s.attendance, s.non_attendance_reason, s.counts_as_rar_day)
    )
    counts = [
        SessionCount(
            contract_id=row[0],
            day=row[1],
            attendance=row[2].value if row[2] else None,
            non_attendance_reason=row[3].value if row[3] else None,
            counts_as_rar_day=bool(row[4]),
            sessions=row[5],
            minutes=int(row[6]),
        )
        for row in db.session.connection().execute(_referral_filters(statement, pathway, area))
    ]
    # RAR days: each referral's calendar days with an attended RAR session, once a day.
    rar_days = (
        select(Referral.contract_id, s.date, func.count(func.distinct(s.referral_id)))
        .join(Referral, Referral.id == s.referral_id)
        .where(
            Referral.contract_id.in_(ids),
            s.date >= start,
            s.date <= end,
            s.attendance.in_(ATTENDED),
            s.counts_as_rar_day.is_(True),
        )
        .group_by(Referral.contract_id, s.date)
    )
    counts += [
        SessionCount(contract_id, day, "attended", counts_as_rar_day=True, sessions=0, minutes=0, rar_days=days)
        for contract_id, day, days in db.session.connection().execute(_referral_filters(rar_days, pathway, area))
    ]
    return counts


def _releases(ids: list[int], start: date, end: date, pathway: str | None, area: str | None) -> list[ReleaseRow]:
    from portal.ttg.models import SETTLED, ReleaseRecord

    r = ReleaseRecord
    statement = (
        select(
            Referral.contract_id,
            r.released_on,
            r.first_night,
            r.id_held,
            r.bank_account,
            r.benefit_claim,
            r.gp_registered,
            r.met_at_gate,
        )
        .join(Referral, Referral.id == r.referral_id)
        .where(Referral.contract_id.in_(ids), r.released_on >= start, r.released_on <= end)
    )
    statement = _referral_filters(statement, pathway, area)
    return [
        ReleaseRow(
            contract_id=row[0],
            released_on=row[1],
            first_night=row[2].value,
            settled=row[2] in SETTLED,
            id_held=bool(row[3]),
            bank_account=bool(row[4]),
            benefit_claim=bool(row[5]),
            gp_registered=bool(row[6]),
            met_at_gate=bool(row[7]),
        )
        for row in db.session.execute(statement)
    ]


def _concerns(ids: list[int], first: Any, after: Any, pathway: str | None, area: str | None) -> list[ConcernRow]:
    from portal.db import utcnow
    from portal.safeguarding.models import SafeguardingConcern, Urgency

    c = SafeguardingConcern
    statement = (
        select(
            Referral.contract_id,
            c.raised_at,
            c.urgency,
            c.acknowledge_due_at,
            c.acknowledged_at,
            c.escalated_at,
            c.rosh_high,
        )
        .join(Referral, Referral.id == c.referral_id)
        .where(Referral.contract_id.in_(ids), c.raised_at >= first, c.raised_at < after)
    )
    statement = _referral_filters(statement, pathway, area)
    now = utcnow()
    rows = []
    for contract_id, raised_at, urgency, due, acknowledged_at, escalated_at, rosh_high in db.session.execute(statement):
        if acknowledged_at is not None:
            in_time: bool | None = acknowledged_at <= due
        else:
            in_time = False if due < now else None
        rows.append(
            ConcernRow(
                contract_id=contract_id,
                raised_on=london_day(raised_at),  # type: ignore[arg-type]
                urgent=urgency == Urgency.URGENT,
                acknowledged_in_time=in_time,
                escalated=escalated_at is not None,
                rosh_high=bool(rosh_high),
            )
        )
    return rows


def _outcomes(ids: list[int], first: Any, after: Any, pathway: str | None, area: str | None) -> list[OutcomeRow]:
    o, t = Outcome, OutcomeType

    def within(column: Any) -> Any:
        return and_(column >= first, column < after)

    statement = (
        select(Referral.contract_id, t.code, t.name, t.pathway, o.status, o.claimed_at, o.verified_at, o.rejected_at)
        .join(Referral, Referral.id == o.referral_id)
        .join(t, t.id == o.outcome_type_id)
        .where(Referral.contract_id.in_(ids), or_(within(o.claimed_at), within(o.verified_at), within(o.rejected_at)))
    )
    if pathway:
        statement = statement.where(t.pathway == Pathway(pathway))
    statement = _referral_filters(statement, None, area)
    return [
        OutcomeRow(
            contract_id=row[0],
            outcome_type=row[1],
            outcome_name=row[2],
            pathway=row[3].value,
            pathway_label=row[3].label,
            claimed_on=london_day(row[5]),  # type: ignore[arg-type]
            verified_on=london_day(row[6]) if row[4] == OutcomeStatus.VERIFIED else None,
            rejected_on=london_day(row[7]) if row[4] == OutcomeStatus.REJECTED else None,
        )
        for row in db.session.execute(statement)
    ]


def _end_of_service(
    ids: list[int], first: Any, after: Any, pathway: str | None, area: str | None
) -> list[EndOfServiceRow]:
    e = EndOfServiceReport
    statement = (
        select(Referral.contract_id, e.submitted_at, e.outcomes)
        .join(Referral, Referral.id == e.referral_id)
        .where(Referral.contract_id.in_(ids), e.submitted_at >= first, e.submitted_at < after)
    )
    return [
        EndOfServiceRow(
            contract_id=row[0],
            submitted_on=london_day(row[1]),  # type: ignore[arg-type]
            achievements=tuple(str(item.get("achievement", "")) for item in (row[2] or [])),
        )
        for row in db.session.execute(_referral_filters(statement, pathway, area))
    ]


def _invoices(ids: list[int], after: Any) -> list[InvoiceRow]:
    # The London days in SQL (portal.figures.london_date, as portal.dates.london_day): a date
    # column is read several times cheaper than a moment with its time zone (a CRC's invoices).
    from portal.figures import london_date

    i = Invoice
    statement = select(
        i.contract_id,
        i.kind,
        i.status,
        i.subtotal_pence,
        london_date(i.submitted_at),
        london_date(i.approved_at),
        i.paid_on,
        i.days_to_pay,
        i.paid_late,
    ).where(i.contract_id.in_(ids), i.submitted_at.is_not(None), i.submitted_at < after)
    return [
        InvoiceRow(
            contract_id=row[0],
            kind=row[1].value,
            status=row[2].value,
            subtotal_pence=row[3],
            submitted_on=row[4],
            approved_on=row[5],
            paid_on=row[6],
            days_to_pay=row[7],
            paid_late=row[8],
        )
        # Core execution, as the referral rows: a CRC's few thousand invoices, plain columns.
        for row in db.session.connection().execute(statement)
    ]


def figures_for(contract: Contract, period: Any, *, today: date) -> dict[str, Any]:
    """The live figures of `contract` for `period` (a portal.dates.Period), counted in SQL and
    remembered until a record they count changes (portal.figure_cache); the caller's own copy, since
    a return being submitted keeps them as its frozen snapshot."""
    from portal.figures import remembered_figures

    start = contract.start_date
    counted = remembered_figures(
        "returns.figures", [contract.id], period, today=today, contract_start=start, labels=default_labels()
    )
    return copy.deepcopy(counted.figures)


def reference_figures_for(contract: Contract, period: Any, *, today: date) -> dict[str, Any]:
    """The same figures computed in Python from the records (the reference the tests hold the SQL to)."""
    from portal.returns.kpis import compute_figures

    ytd = period.year_to_date(contract.start_date)
    months = period.charted_months(contract.start_date)
    start = min(period.previous().start, ytd.start, months[0])
    records = load_records([contract.id], start, period.end, today=today)
    return compute_figures(records, period, today=today, contract_start=contract.start_date, labels=default_labels())
