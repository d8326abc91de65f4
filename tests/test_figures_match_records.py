"""The figures counted in SQL (portal.figures, what the dashboard and the service returns show)
equal the reference definitions computed in Python from the records (portal.returns.kpis over
load_records), exactly, on random histories: referrals in every state with clocks met and missed,
sessions of every attendance and reason, RAR days, outcomes claimed, verified and rejected,
end-of-service reports, safeguarding concerns, releases, grant-funded activity and invoices,
with moments around midnight and the clock changes, for every filter of the dashboard."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.contracts.models import Pathway, Unit
from portal.dates import Period, PeriodKind, london_day, parse_period
from portal.delivery.models import Attendance, EndOfServiceReport, NonAttendanceReason, OutcomeStatus
from portal.extensions import db
from portal.figures import count_figures, london_date
from portal.grants.models import ActivityKind, GrantActivity
from portal.people.models import ETHNICITIES, Disability, Gender
from portal.referrals.models import DeclineReason, LocationType, ReferralStatus, WithdrawReason
from portal.returns.kpis import compute_figures, figure, percent, referral_figures, session_figures
from portal.returns.records import default_labels, figures_for, load_records, reference_figures_for
from portal.safeguarding.models import ConcernCategory, SafeguardingConcern, Urgency
from portal.ttg.models import FirstNight, ReleaseRecord, ReleaseType
from tests.factories import (
    AlertFactory,
    ContractFactory,
    InvoiceFactory,
    OutcomeFactory,
    OutcomeTypeFactory,
    PersonFactory,
    RateCardItemFactory,
    ReferralFactory,
    SessionFactory,
)

TODAY = date(2026, 10, 20)
PRISONS = ("HMP Bedford", "HMP Leeds", "")
OFFICES = ("Bedford probation office", "Luton probation office", None)
ACHIEVEMENTS = ("achieved", "partially_achieved", "not_achieved", "")


def moment(rng: random.Random, day: date) -> datetime:
    """A moment on or about `day`, often near midnight, where the London day and the UTC day differ."""
    hour = rng.choice((0, 0, 1, 9, 14, 22, 23, 23))
    return datetime.combine(day, time(hour, rng.choice((0, 15, 59))), tzinfo=UTC)


def some_day(rng: random.Random) -> date:
    # Mostly the months the figures look at (the last twelve to October 2026), some around the
    # clock changes of 2025 and 2026, some before.
    if rng.random() < 0.15:
        return rng.choice((date(2026, 3, 28), date(2026, 3, 29), date(2025, 10, 26), date(2026, 10, 25)))
    return date(2025, 3, 1) + timedelta(days=rng.randrange(640))


def maybe(rng: random.Random, chance: float, value):  # type: ignore[no-untyped-def]
    return value if rng.random() < chance else None


def random_history(rng: random.Random, contracts, referrer, caseworker) -> None:  # type: ignore[no-untyped-def]
    types = {
        contract.id: [
            OutcomeTypeFactory(contract=contract, code=f"c{contract.id}_housed", name="Housed"),
            OutcomeTypeFactory(contract=contract, code=f"c{contract.id}_job", name="In work", pathway=Pathway.ETE),
        ]
        for contract in contracts
    }
    people = [
        PersonFactory(
            gender=rng.choice(list(Gender)),
            ethnicity=rng.choice([code for code, *_ in ETHNICITIES] + ["not_stated"]),
            disability=rng.choice(list(Disability)),
            date_of_birth=rng.choice((date(1990, 10, 21), date(2001, 2, 28), date(1960, 6, 30), date(2008, 1, 1)))
            + timedelta(days=rng.randrange(3)),
        )
        for _ in range(8)
    ]
    for _ in range(45):
        contract = rng.choice(contracts)
        sent = some_day(rng)
        sent_at = moment(rng, sent)
        fields = dict(
            contract=contract,
            service_code=rng.choice(("ACC-TTG", "ETE-1")),
            referrer=referrer,
            caseworker=caseworker,
            person=rng.choice(people),
            sent_at=sent_at,
            accept_due_on=sent + timedelta(days=rng.randrange(5)),
            location_type=rng.choice((LocationType.CUSTODY, LocationType.COMMUNITY, None)),
            prison=rng.choice(PRISONS),
            community_office=rng.choice(OFFICES),
            rar_days=rng.choice((0, 2, 5, None)),
            status=ReferralStatus.SENT,
        )
        fate = rng.choice(("sent", "declined", "withdrawn", "accepted", "started", "completed", "ended_early"))
        if fate == "declined":
            fields |= dict(
                status=ReferralStatus.DECLINED,
                declined_at=moment(rng, sent + timedelta(days=rng.randrange(6))),
                decline_reason=rng.choice([*DeclineReason, None]),
            )
        elif fate == "withdrawn":
            fields |= dict(
                status=ReferralStatus.WITHDRAWN,
                withdrawn_at=moment(rng, sent + timedelta(days=rng.randrange(6))),
                withdraw_reason=rng.choice([*WithdrawReason, None]),
            )
        elif fate != "sent":
            accepted = sent + timedelta(days=rng.randrange(6))
            fields |= dict(
                status=ReferralStatus.ACCEPTED,
                accepted_at=moment(rng, accepted),
                first_contact_due_on=accepted + timedelta(days=rng.randrange(8)),
            )
            if fate in ("started", "completed", "ended_early"):
                fields |= dict(
                    status=ReferralStatus.IN_PROGRESS,
                    first_contact_at=moment(rng, accepted + timedelta(days=rng.randrange(10))),
                )
            if fate == "completed":
                fields |= dict(
                    status=ReferralStatus.COMPLETED,
                    completed_at=moment(rng, accepted + timedelta(days=rng.randrange(10, 120))),
                )
            if fate == "ended_early":
                fields |= dict(
                    status=ReferralStatus.WITHDRAWN,
                    withdrawn_at=moment(rng, accepted + timedelta(days=rng.randrange(1, 60))),
                    withdraw_reason=rng.choice(list(WithdrawReason)),
                )
        referral = ReferralFactory(**fields)
        if fate in ("sent", "declined", "withdrawn"):
            continue
        for _ in range(rng.randrange(6)):
            attendance = rng.choice([*Attendance, None])
            session = SessionFactory(
                referral=referral,
                date=sent + timedelta(days=rng.randrange(-3, 90)),
                attendance=attendance,
                non_attendance_reason=(
                    rng.choice([*NonAttendanceReason, None]) if attendance == Attendance.DID_NOT_ATTEND else None
                ),
                counts_as_rar_day=rng.random() < 0.5,
                duration_minutes=rng.choice((30, 60, 95)),
                recorded_by=caseworker,
            )
            if rng.random() < 0.1:
                AlertFactory(session=session)
        for _ in range(rng.randrange(3)):
            claimed = moment(rng, sent + timedelta(days=rng.randrange(60)))
            decided = claimed + timedelta(days=rng.randrange(20), hours=rng.randrange(24))
            status = rng.choice((OutcomeStatus.CLAIMED, OutcomeStatus.VERIFIED, OutcomeStatus.REJECTED))
            OutcomeFactory(
                referral=referral,
                outcome_type=rng.choice(types[contract.id]),
                claimed_by=caseworker,
                claimed_at=claimed,
                status=status,
                verified_at=decided if status == OutcomeStatus.VERIFIED else maybe(rng, 0.2, decided),
                rejected_at=decided if status == OutcomeStatus.REJECTED else None,
                rejection_reason="Not evidenced" if status == OutcomeStatus.REJECTED else None,
            )
        if rng.random() < 0.4:
            db.session.add(
                EndOfServiceReport(
                    referral_id=referral.id,
                    summary="Done.",
                    outcomes=[
                        {"outcome": "Housing", "achievement": rng.choice(ACHIEVEMENTS)} for _ in range(rng.randrange(4))
                    ],
                    submitted_by_id=caseworker.id,
                    submitted_at=moment(rng, sent + timedelta(days=rng.randrange(150))),
                )
            )
        if rng.random() < 0.3:
            raised = moment(rng, sent + timedelta(days=rng.randrange(60)))
            due = raised + timedelta(hours=rng.choice((4, 48)))
            db.session.add(
                SafeguardingConcern(
                    referral_id=referral.id,
                    category=rng.choice(list(ConcernCategory)),
                    urgency=rng.choice(list(Urgency)),
                    what_happened="Said something worrying.",
                    rosh_high=rng.random() < 0.3,
                    raised_at=raised,
                    raised_by_id=caseworker.id,
                    acknowledge_due_at=due,
                    acknowledged_at=maybe(rng, 0.6, due + timedelta(hours=rng.randrange(-4, 4))),
                    escalated_at=maybe(rng, 0.3, due),
                )
            )
        if rng.random() < 0.3:
            db.session.add(
                ReleaseRecord(
                    referral_id=referral.id,
                    released_on=sent + timedelta(days=rng.randrange(30)),
                    release_type=rng.choice(list(ReleaseType)),
                    community_office="Bedford probation office",
                    first_night=rng.choice(list(FirstNight)),
                    id_held=rng.random() < 0.5,
                    bank_account=rng.random() < 0.5,
                    benefit_claim=rng.random() < 0.5,
                    gp_registered=rng.random() < 0.5,
                    met_at_gate=rng.random() < 0.5,
                    recorded_at=moment(rng, sent),
                    recorded_by_id=caseworker.id,
                )
            )
    for _ in range(6):
        db.session.add(
            GrantActivity(
                contract_id=contracts[0].id,
                day=some_day(rng),
                kind=rng.choice(list(ActivityKind)),
                attendees=rng.randrange(12),
                duration_minutes=rng.choice((45, 60, 120)),
                recorded_by_id=caseworker.id,
            )
        )
    submitted = moment(rng, date(2026, 8, 3))
    InvoiceFactory(
        contract=contracts[0],
        period_start=date(2026, 7, 1),
        paid=True,
        submitted_at=submitted,
        approved_at=submitted + timedelta(days=5),
        paid_on=date(2026, 9, 1),
    )
    db.session.commit()


@pytest.fixture
def two_contracts(ttg_service, crc):  # type: ignore[no-untyped-def]
    # Fixed dates, as the histories are: the figures do not depend on the day the tests run.
    ttg_service.start_date, ttg_service.end_date = date(2025, 4, 1), date(2027, 3, 31)
    other = ContractFactory(reference="BENCH-ETE-02", crc=crc, start_date=date(2025, 6, 12), end_date=date(2027, 3, 31))
    for contract in (ttg_service, other):
        RateCardItemFactory(
            contract=contract,
            code=f"ETE-{contract.id}",
            service_code="ETE-1",
            pathway=Pathway.ETE,
            unit=Unit.PER_SESSION,
        )
    db.session.commit()
    return [ttg_service, other]


def differences(counted: dict, expected: dict) -> list:  # type: ignore[type-arg]
    """Where two sets of figures differ, row by row: a readable failure."""
    found = []
    rows = {row["key"]: row for section in expected["sections"] for row in section["rows"]}
    for section in counted["sections"]:
        for row in section["rows"]:
            if rows.get(row["key"]) != row:
                found.append((row["key"], row["values"], rows.get(row["key"], {}).get("values")))
    found += [
        (key, counted[key], expected[key]) for key in expected if key != "sections" and counted[key] != expected[key]
    ]
    return found or ([("sections", None, None)] if counted != expected else [])


def reference(ids, period, *, contract_start, pathway=None, area=None, today=TODAY):  # type: ignore[no-untyped-def]
    """The figures as kpis defines them: the records loaded into Python and counted there."""
    ytd = period.year_to_date(contract_start)
    months = period.charted_months(contract_start)
    start = min(period.previous().start, ytd.start, months[0])
    records = load_records(ids, start, period.end, pathway=pathway, area=area, today=today)
    figures = compute_figures(records, period, today=today, contract_start=contract_start, labels=default_labels())
    return records, figures


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_figures_counted_in_sql_are_those_computed_from_the_records(
    seed, two_contracts, referrer, nacro_caseworker
):
    rng = random.Random(seed)
    random_history(rng, two_contracts, referrer, nacro_caseworker)
    both = [c.id for c in two_contracts]
    earliest = min(c.start_date for c in two_contracts)
    cases = [
        (both, "2026-Q3", None, None),
        ([both[0]], "2026-Q3", None, None),
        ([both[1]], "2026-10", None, None),
        ([both[1]], "2025-08", None, None),  # a year to date from the contract's start, mid-month
        (both, "2026-03", None, None),
        (both, "2025-Q4", "ete", None),
        (both, "2026-Q3", "accommodation", "HMP Bedford"),
        (both, "2026-Q2", None, "Bedford probation office"),
        (both, "2026-Q3", None, "Nowhere"),
        ([], "2026-Q3", None, None),
    ]
    for ids, code, pathway, area in cases:
        period = parse_period(code)
        start = min((c.start_date for c in two_contracts if c.id in ids), default=earliest)
        records, expected = reference(ids, period, contract_start=start, pathway=pathway, area=area)
        counted = count_figures(
            ids, period, today=TODAY, contract_start=start, pathway=pathway, area=area, labels=default_labels()
        )
        assert differences(counted.figures, expected) == [], (code, ids, pathway, area)
        if code == "2026-Q3" and len(ids) == 2 and not pathway and not area:
            # The history is rich enough that the comparison means something.
            for key in ("received", "answered_within_sla", "scheduled", "claimed", "concerns_raised", "released"):
                value = figure(expected, key, "ytd")
                assert (value["d"] if isinstance(value, dict) else value) > 0, key
        if not ids:
            continue
        # The dashboard's figures of each contract, and its verified outcomes by pathway.
        for contract_id in ids:
            referrals = [r for r in records.referrals if r.contract_id == contract_id]
            sessions = [s for s in records.sessions if s.contract_id == contract_id]
            r = referral_figures(referrals, period.window, TODAY)
            s = session_figures(sessions, referrals, period.window)
            mine = counted.by_contract[contract_id]
            assert mine["received"] == r["received"]
            assert mine["accepted"] == r["accepted"]
            assert mine["attendance_rate"] == s["attendance_rate"]
            assert mine["verified"] == sum(
                1 for o in records.outcomes if o.contract_id == contract_id and o.verified_on in period.window
            )
        verified = Counter((o.pathway_label, o.pathway) for o in records.outcomes if o.verified_on in period.window)
        assert counted.verified_by_pathway == [
            {"pathway": key, "label": label, "verified": verified[(label, key)]} for label, key in sorted(verified)
        ]


def test_a_contracts_answered_within_sla_on_the_dashboard_is_the_records(two_contracts, referrer, nacro_caseworker):
    random_history(random.Random(7), two_contracts, referrer, nacro_caseworker)
    period = parse_period("2026-Q3")
    ids = [c.id for c in two_contracts]
    records, _ = reference(ids, period, contract_start=date(2025, 4, 1))
    counted = count_figures(ids, period, today=TODAY, contract_start=date(2025, 4, 1))
    for contract_id in ids:
        referrals = [r for r in records.referrals if r.contract_id == contract_id]
        expected = referral_figures(referrals, period.window, TODAY)["answered_within_sla"]
        assert counted.by_contract[contract_id]["answered_within_sla"] == expected
    assert (
        sum(c["received"] for c in counted.by_contract.values())
        == counted.figures["sections"][0]["rows"][0]["values"]["period"]
    )


def test_a_day_in_sql_is_the_london_day_hour_by_hour_across_the_clock_changes(nacro_referral):
    """london_date in SQL is portal.dates.london_day, on both sides of each clock change."""
    london = ZoneInfo("Europe/London")
    checked = 0
    for year in (2025, 2026, 2027):
        for month, day in ((3, 24), (10, 24)):
            start = datetime(year, month, day, tzinfo=UTC)
            for hour in range(0, 24 * 9):
                instant = start + timedelta(hours=hour, minutes=59, seconds=59, microseconds=999_999)
                nacro_referral.sent_at = instant
                db.session.flush()
                from portal.referrals.models import Referral

                got = db.session.scalar(select(london_date(Referral.sent_at)).where(Referral.id == nacro_referral.id))
                assert got == london_day(instant) == instant.astimezone(london).date(), instant
                checked += 1
    assert checked == 6 * 24 * 9
    db.session.rollback()


def test_figures_for_a_month_and_a_quarter_with_nothing_recorded(two_contracts):
    contract = two_contracts[0]
    for code in ("2026-09", "2026-Q3"):
        period = parse_period(code)
        _, expected = reference([contract.id], period, contract_start=contract.start_date)
        counted = count_figures(
            [contract.id], period, today=TODAY, contract_start=contract.start_date, labels=default_labels()
        )
        assert counted.figures == expected
        assert counted.by_contract[contract.id]["answered_within_sla"] == percent(0, 0)
    assert Period(PeriodKind.MONTH, date(2026, 9, 1)).code == "2026-09"


def test_a_service_returns_figures_are_those_computed_from_the_records(two_contracts, referrer, nacro_caseworker):
    """What a return freezes on submission (figures_for, counted in SQL) is the reference, figure for figure."""
    random_history(random.Random(5), two_contracts, referrer, nacro_caseworker)
    for contract in two_contracts:
        for code in ("2026-Q3", "2026-09", "2025-Q4", "2026-Q1"):
            period = parse_period(code)
            for today in (TODAY, period.end, date(2027, 5, 1)):
                expected = reference_figures_for(contract, period, today=today)
                counted = figures_for(contract, period, today=today)
                assert differences(counted, expected) == [], (contract.reference, code, today)


def _summary_of(figures: dict) -> dict:
    """What the dashboard's summary shows, read from the whole figures."""
    unmet = {
        row["key"]: row["values"]["period"]
        for s in figures["sections"]
        if s["key"] == "unmet_need"
        for row in s["rows"]
    }
    return {
        "received": figure(figures, "received"),
        "headline": figures["headline"],
        "unmet_need": {
            "total": unmet["unmet_need"],
            "no_capacity": unmet["unmet_no_capacity"],
            "outside_area": unmet["unmet_no_service_in_area"],
        },
        "volumes": figures["volumes"],
    }


@pytest.mark.parametrize("seed", [1, 4])
def test_the_dashboards_summary_its_contracts_and_the_volumes_page_count_what_every_figure_counts(
    seed, two_contracts, referrer, nacro_caseworker
):
    """The summary and the "by contract" part count the period alone (not the previous period, the
    year to date and a year of months), the equality part its three windows and no months, and the
    volumes page only the volumes; each gives what count_figures gives, also after sessions are
    recorded again and removed and referrals declined."""
    from portal.delivery.models import Session
    from portal.figures import count_by_contract, count_equality, count_summary, count_volumes
    from portal.referrals.models import Referral

    rng = random.Random(seed)
    random_history(rng, two_contracts, referrer, nacro_caseworker)
    both = [c.id for c in two_contracts]
    cases = [
        (both, "2026-Q3", None, None),
        ([both[1]], "2026-10", None, None),
        ([both[1]], "2025-08", None, None),
        (both, "2026-03", None, None),
        (both, "2025-Q4", "ete", None),
        (both, "2026-Q3", "accommodation", "HMP Bedford"),
        (both, "2026-Q2", None, "Bedford probation office"),
        ([], "2026-Q3", None, None),
    ]

    def compare() -> None:
        for ids, code, pathway, area in cases:
            period = parse_period(code)
            start = min((c.start_date for c in two_contracts if c.id in ids), default=two_contracts[0].start_date)
            counted = count_figures(
                ids, period, today=TODAY, contract_start=start, pathway=pathway, area=area, labels=default_labels()
            )
            whole = counted.figures
            summary = count_summary(ids, period, today=TODAY, contract_start=start, pathway=pathway, area=area)
            assert summary == _summary_of(whole), (code, ids, pathway, area)
            by_contract = count_by_contract(ids, period, today=TODAY, pathway=pathway, area=area)
            assert by_contract.by_contract == counted.by_contract, (code, ids, pathway, area)
            assert by_contract.verified_by_pathway == counted.verified_by_pathway, (code, ids, pathway, area)
            assert by_contract.figures["volumes"] == whole["volumes"], (code, ids, pathway, area)
            equality = count_equality(ids, period, today=TODAY, contract_start=start, pathway=pathway, area=area)
            assert equality == whole["equality"], (code, ids, pathway, area)
            if not pathway and not area:
                assert count_volumes(ids, period, today=TODAY) == whole["volumes"], (code, ids)

    compare()
    rich = count_figures(both, parse_period("2026-Q3"), today=TODAY).figures  # the comparison means something
    assert figure(rich, "received") and any(kpi["status"] != "no_data" for kpi in rich["headline"])
    sessions = list(db.session.scalars(select(Session).order_by(Session.id)))
    for session in rng.sample(sessions, min(30, len(sessions))):
        session.attendance = rng.choice([*Attendance, None])
        session.non_attendance_reason = (
            rng.choice(list(NonAttendanceReason)) if session.attendance == Attendance.DID_NOT_ATTEND else None
        )
    for session in rng.sample(sessions, min(10, len(sessions))):
        db.session.delete(session)
    for referral in db.session.scalars(
        select(Referral).where(Referral.status == ReferralStatus.SENT).order_by(Referral.id).limit(5)
    ):
        referral.status = ReferralStatus.DECLINED
        referral.declined_at = referral.sent_at + timedelta(days=1)
        referral.decline_reason = rng.choice([DeclineReason.NO_CAPACITY, DeclineReason.OUTSIDE_AREA])
    db.session.flush()
    compare()
