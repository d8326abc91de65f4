"""Benchmark: a draft invoice for one partner-month with 50,000 billable events.

Reports, in one run on the same database:
  - the billing rules (billing.bill_for: read the records, apply the rules, price the lines),
  - the whole generate_draft (the same, plus storing the draft's lines and totals),
  - the equivalent raw SQL aggregate (counts and minutes per item, excluding live events),
  - peak Python memory (tracemalloc) and the process's peak RSS.
Target: generating the draft within 3x the raw SQL, peak memory under 300 MB.
Also reports submitting it, which freezes its 50,000 events (not part of the target).

Usage:  .venv/bin/python bench/invoice.py [--events 50000] [--database-url URL]
Without --database-url it uses a throwaway SQLite file under instance/bench/.

        .venv/bin/python bench/invoice.py --database-url URL --contract SCALE-01-1
measures instead this month's draft of a contract of a database bench/scale.py seeded (its whole
history is the draft's to search): it regenerates the draft, as its page's button does, and
submits nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--contract", help="measure this contract's current month on a seeded database")
    parser.add_argument(
        "--pages", action="store_true", help="measure the invoice pages of a seeded database (time and queries)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="with --pages: requests per page")
    args = parser.parse_args()
    if (args.contract or args.pages) and not args.database_url:
        parser.error("--contract and --pages need --database-url (a database bench/scale.py seeded)")
    if args.pages:
        measure_pages(args.database_url, args.repeat)
        return

    bench_dir = ROOT / "instance" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{bench_dir / 'invoice.sqlite3'}"
    if url.startswith("sqlite:///") and not args.contract:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    os.environ["PORTAL_ENV"] = "test"
    os.environ["TEST_DATABASE_URL"] = url
    os.environ["INSTANCE_DIR"] = str(bench_dir)

    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import db

    app = create_app("test")
    if args.contract:
        with app.app_context():
            measure_seeded(args.contract, db.engine.dialect.name)
        return
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        contract, manager = seed(args.events)
        report(contract, manager, args.events, db.engine.dialect.name)


def seed(events: int):
    """A partner, a contract with a per-session item, and `events` attended sessions in March 2026."""
    from portal.accounts.models import Role, User
    from portal.contracts.models import (
        Contract,
        ContractStatus,
        ContractTier,
        Pathway,
        RateCardItem,
        RateCardPrice,
        Setting,
        Unit,
    )
    from portal.delivery.models import Session
    from portal.extensions import db
    from portal.organisations.models import Organisation, OrganisationKind, Tier
    from portal.people.models import Person
    from portal.places.models import County
    from portal.referrals.models import Referral

    crc = Organisation(name="Bench CRC", kind=OrganisationKind.CRC)
    partner = Organisation(name="Bench Partner", kind=OrganisationKind.PARTNER, tier=Tier.II)
    db.session.add_all([crc, partner])
    db.session.flush()
    manager = User(
        email="manager@bench.example", name="Bench Manager", role=Role.PROVIDER_MANAGER, organisation_id=partner.id
    )
    referrer = User(
        email="referrer@bench.example", name="Bench Referrer", role=Role.CRC_REFERRER, organisation_id=crc.id
    )
    db.session.add_all([manager, referrer])
    contract = Contract(
        reference="BENCH-INV-01",
        title="Benchmark",
        crc_id=crc.id,
        partner_id=partner.id,
        tier=ContractTier.SUBCONTRACT,
        status=ContractStatus.ACTIVE,
        start_date=date(2025, 4, 1),
        end_date=date(2027, 3, 31),
        value_cap_pence=20_000_000_00,
        vat_rate_bp=2000,
        counties=[County(crc_id=crc.id, name="Bedfordshire")],
    )
    db.session.add(contract)
    db.session.flush()
    for code, unit in (("SES", Unit.PER_SESSION), ("HR", Unit.PER_HOUR)):
        item = RateCardItem(
            contract_id=contract.id,
            code=code,
            service_code="SVC",
            name=code,
            pathway=Pathway.ACCOMMODATION,
            setting=Setting.BOTH,
            unit=unit,
        )
        db.session.add(item)
        db.session.flush()
        db.session.add(RateCardPrice(item_id=item.id, unit_price_pence=4500, effective_from=date(2025, 4, 1)))
    db.session.flush()

    sessions_per_referral = 20
    referral_count = max(1, events // sessions_per_referral // 2)  # two items bill each session
    accepted = datetime(2026, 2, 1, 9, tzinfo=UTC)
    db.session.execute(
        Person.__table__.insert(),
        [
            {
                "crn": f"B{n:06d}",
                "given_name": "Bench",
                "family_name": f"Person{n}",
                "date_of_birth": date(1990, 1, 1),
                "gender": "male",
                "ethnicity": "not_stated",
                "disability": "not_stated",
                "version": 1,
                "created_at": accepted,
                "updated_at": accepted,
            }
            for n in range(referral_count)
        ],
    )
    people = [row[0] for row in db.session.execute(db.select(Person.id).order_by(Person.id))]
    db.session.execute(
        Referral.__table__.insert(),
        [
            {
                "reference": f"BE{n:06d}",
                "status": "in_progress",
                "contract_id": contract.id,
                "service_code": "SVC",
                "person_id": person_id,
                "crc_id": crc.id,
                "referrer_id": referrer.id,
                "risk_flags": [],
                "desired_outcomes": ["x"],
                "urgent": False,
                "accepted_at": accepted,
                "accepted_on": accepted.date(),
                "version": 1,
                "created_at": accepted,
                "updated_at": accepted,
            }
            for n, person_id in enumerate(people)
        ],
    )
    referrals = [row[0] for row in db.session.execute(db.select(Referral.id).order_by(Referral.id))]
    rows = []
    for referral_id in referrals:
        for n in range(sessions_per_referral):
            rows.append(
                {
                    "referral_id": referral_id,
                    "date": date(2026, 3, 1 + n),
                    "start_time": clock(10),
                    "duration_minutes": 45 + n,
                    "kind": "one_to_one",
                    "attendance": "attended",
                    "counts_as_rar_day": False,
                    "behaviour_concern": False,
                    "recorded_by_id": manager.id,
                    "version": 1,
                    "created_at": accepted,
                    "updated_at": accepted,
                }
            )
    for start in range(0, len(rows), 10_000):
        db.session.execute(Session.__table__.insert(), rows[start : start + 10_000])
    db.session.commit()
    # A live database keeps its planner statistics up to date (autovacuum); a freshly seeded one
    # has none, and would be measured on plans no production database uses.
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()
    print(f"Seeded {len(referrals)} referrals and {len(rows)} sessions: {2 * len(rows)} billable events")
    return contract, manager


RAW_SQL = """
SELECT i.id, i.unit, COUNT(*) AS events, SUM(s.duration_minutes) AS minutes
FROM delivery_session s
JOIN referral r ON r.id = s.referral_id
JOIN rate_card_item i ON i.contract_id = r.contract_id AND i.service_code = r.service_code
WHERE r.contract_id = :contract_id
  AND s.attendance IN ('attended', 'late')
  AND s.date <= :period_end
  AND i.unit IN ('per_session', 'per_hour')
  AND NOT EXISTS (
      SELECT 1 FROM invoice_event e
      WHERE e.item_id = i.id AND e.live AND e.event_key = 'session:' || CAST(s.id AS VARCHAR(20))
  )
GROUP BY i.id, i.unit
"""


def timed(function, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure_seeded(reference: str, dialect: str) -> None:
    """This month's draft of a contract of a seeded database, by its partner's manager."""
    from sqlalchemy import select

    from portal.accounts.models import Role, User
    from portal.contracts.models import Contract
    from portal.dates import london_today
    from portal.extensions import db

    contract = db.session.scalar(select(Contract).where(Contract.reference == reference))
    if contract is None:
        raise SystemExit(f"No contract {reference}: seed the database with bench/scale.py first")
    manager = db.session.scalar(
        select(User).where(User.organisation_id == contract.partner_id, User.role == Role.PROVIDER_MANAGER).limit(1)
    )
    report(contract, manager, 0, dialect, period=london_today().replace(day=1), submit=False)


def report(
    contract, manager, events: int, dialect: str, *, period: date = date(2026, 3, 1), submit: bool = True
) -> None:
    from sqlalchemy import text

    from portal.dates import month_end
    from portal.extensions import db
    from portal.formatting import format_money
    from portal.invoicing import billing, service

    period_end = month_end(period)
    raw_time, raw_rows = timed(
        lambda: db.session.execute(text(RAW_SQL), {"contract_id": contract.id, "period_end": period_end}).all()
    )
    db.session.rollback()

    rules_time, bill = timed(lambda: billing.bill_for(contract, period))
    # The first generates the draft, the others replace it: the best of three is a regeneration.
    month = f"{period:%Y-%m}"
    generate_time, draft = timed(lambda: service.generate_draft(manager, contract, month, early_reason="Benchmark"))

    # Memory is measured on separate runs: tracemalloc slows Python down, so it must not be timed.
    tracemalloc.start()
    billing.bill_for(contract, period)
    _, peak_rules = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    service.generate_draft(manager, contract, month, early_reason="Benchmark")
    _, peak_generate = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    submit_time = submitted = None
    if submit:
        # Submitting freezes the draft's events (one INSERT ... SELECT of every event), once a month.
        draft = service.generate_draft(manager, contract, month, early_reason="Benchmark")
        started = time.perf_counter()
        submitted = service.submit_invoice(manager, draft)
        submit_time = time.perf_counter() - started

    billed = sum(line.events for line in bill.lines)
    # The raw SQL counts the session measures (per session, per hour); a seeded rate card bills more.
    sessions = sum(line.events for line in bill.lines if line.item.unit.value in ("per_session", "per_hour"))
    assert sessions == sum(row.events for row in raw_rows), "the rules and the raw SQL disagree on the events"
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Database: {dialect}; billable events: {billed} (asked for {events})")
    print(f"Raw SQL aggregate:              {raw_time * 1000:8.1f} ms (best of 3)")
    print(
        f"Billing rules (bill_for):       {rules_time * 1000:8.1f} ms (best of 3)"
        f"  = {rules_time / raw_time:4.1f}x the raw SQL"
    )
    print(
        f"generate_draft (whole draft):   {generate_time * 1000:8.1f} ms (best of 3)"
        f"  = {generate_time / raw_time:4.1f}x the raw SQL (target within 3x); total {format_money(draft.total_pence)}"
    )
    if submitted is not None:
        print(f"submit_invoice (freezes {billed} events): {submit_time * 1000:8.1f} ms; number {submitted.number}")
    print(
        f"Peak Python memory: rules {peak_rules / 2**20:.1f} MB, generate {peak_generate / 2**20:.1f} MB; "
        f"process peak RSS {rss_mb:.0f} MB (target under 300 MB)"
    )


def measure_pages(url: str, repeat: int) -> None:
    """The invoice pages alone, one request at a time, in process (as bench/pages.py measures every
    page): best and median ms and the SQL query count, which must not grow with the events. The
    records are the largest partner's: its largest submitted invoice and line, its draft and the
    draft's largest line; `(page 21)` follows "Next" twenty times."""
    import statistics

    from sqlalchemy import event, func, select

    os.environ.update(PORTAL_ENV="test", TEST_DATABASE_URL=url, LOG_LEVEL="WARNING")
    from pages import deep, signed_in  # bench/pages.py, beside this file

    from portal import create_app
    from portal.extensions import db
    from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
    from portal.organisations.models import Organisation

    app = create_app("test")
    app.config["RATELIMIT_ENABLED"] = False
    counted = {"queries": 0}

    def count(*_: object, **__: object) -> None:
        counted["queries"] += 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        partner = db.session.scalar(select(Organisation.id).where(Organisation.name == "Partner 01"))
        largest = (
            select(InvoiceLine.invoice_id, InvoiceLine.id)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .order_by(InvoiceLine.event_count.desc())
            .limit(1)
        )
        submitted, line = db.session.execute(
            largest.where(Invoice.partner_id == partner, Invoice.status != InvoiceStatus.DRAFT)
        ).one()
        draft, draft_line = db.session.execute(
            largest.where(Invoice.partner_id == partner, Invoice.status == InvoiceStatus.DRAFT)
        ).one()
        events = db.session.scalar(select(InvoiceLine.event_count).where(InvoiceLine.id == line))
        draft_events = db.session.scalar(select(InvoiceLine.event_count).where(InvoiceLine.id == draft_line))
        invoices = db.session.scalar(select(func.count()).select_from(Invoice))
        from portal.accounts.models import User
        from portal.accounts.tokens import create_token

        # The API's client, as bench/load.py's: a token of the contract manager's, made for this run.
        contracts = db.session.scalar(select(User).where(User.email == "contracts@scale.example"))
        token = create_token(None, contracts, name=f"bench-invoice-{time.time_ns()}").secret
    walks = {
        "manager@partner-01.example": [
            ("/invoices/", "/invoices/"),
            ("/invoices/[id] (submitted, largest)", f"/invoices/{submitted}"),
            (f"/invoices/[id]/lines/[line] (submitted, {events:,} events)", f"/invoices/{submitted}/lines/{line}"),
            ("/invoices/[id]/lines/[line] (page 21)", f"next:20:/invoices/{submitted}/lines/{line}"),
            ("/invoices/[id] (draft)", f"/invoices/{draft}"),
            (f"/invoices/[id]/lines/[line] (draft, {draft_events:,} events)", f"/invoices/{draft}/lines/{draft_line}"),
        ],
        "contracts@scale.example": [
            ("/invoices/", "/invoices/"),
            ("/invoices/?status=paid (page 21)", "next:20:/invoices/?status=paid"),
            ("/invoices/queue", "/invoices/queue"),
            ("/invoices/[id] (submitted, largest)", f"/invoices/{submitted}"),
            ("/grants/payments", "/grants/payments"),
        ],
        "API (contract manager's token)": [
            ("/api/v1/invoices", "/api/v1/invoices?per_page=50"),
            ("/api/v1/invoices/[id] (largest)", f"/api/v1/invoices/{submitted}"),
        ],
    }
    print(f"{invoices:,} invoices in the database")
    print("| who | page | best ms | median ms | queries |\n|---|---|---:|---:|---:|")
    for email, pages in walks.items():
        api = email.startswith("API")
        client = app.test_client() if api else signed_in(app, email, DEFAULT_PASSWORD)
        headers = {"Authorization": f"Bearer {token}"} if api else {}
        for name, address in pages:
            address = deep(client, address)
            times, status = [], 0
            for _ in range(repeat):
                counted["queries"] = 0
                started = time.perf_counter()
                status = client.get(address, headers=headers).status_code
                times.append((time.perf_counter() - started) * 1000)
            flag = "" if status == 200 else f" ({status})"
            print(
                f"| {email.split('@')[0]} | `{name}`{flag} | {min(times):.0f} | {statistics.median(times):.0f} "
                f"| {counted['queries']} |",
                flush=True,
            )


DEFAULT_PASSWORD = "demo-password-2026"


if __name__ == "__main__":
    main()
