"""Benchmark: a quarterly service return for the largest demo-scale contract (10,000 referrals,
100,000 sessions).

Reports, in one run on the same database:
  - the figures (figures_for: load the rows in a fixed number of queries, compute every figure),
  - the return's PDF (WeasyPrint, about ten pages with charts and tables),
  - WeasyPrint's time for a minimal one-page document: the floor no PDF can beat.
Target: figures under 1 s, PDF under 3 s.

Usage:  .venv/bin/python bench/returns.py [--referrals 10000] [--sessions 100000] [--database-url URL]
Without --database-url it uses a throwaway SQLite file under instance/bench/.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    bench_dir = ROOT / "instance" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{bench_dir / 'returns.sqlite3'}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    os.environ["PORTAL_ENV"] = "test"
    os.environ["TEST_DATABASE_URL"] = url
    os.environ["INSTANCE_DIR"] = str(bench_dir)

    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import db

    app = create_app("test")
    with app.app_context(), app.test_request_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        service_return = seed(args.referrals, args.sessions)
        report(service_return, db.engine.dialect.name)


def seed(referral_count: int, session_count: int):
    """A contract with `referral_count` referrals across the year to date and `session_count`
    sessions, most in the quarter July to September 2026; a draft return for that quarter."""
    from portal.accounts.models import Role, User
    from portal.contracts.models import (
        Contract,
        ContractStatus,
        ContractTier,
        OutcomeType,
        Pathway,
        RateCardItem,
        Setting,
        Unit,
    )
    from portal.delivery.models import Outcome, Session
    from portal.extensions import db
    from portal.organisations.models import Organisation, OrganisationKind, Tier
    from portal.people.models import ETHNICITY_CODES, Person
    from portal.places.models import County, Prison
    from portal.referrals.models import Referral
    from portal.returns.models import ServiceReturn

    rng = random.Random(2026)
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
        reference="BENCH-RET-01",
        title="Benchmark",
        crc_id=crc.id,
        partner_id=partner.id,
        tier=ContractTier.SUBCONTRACT,
        status=ContractStatus.ACTIVE,
        start_date=date(2025, 4, 1),
        end_date=date(2027, 3, 31),
        value_cap_pence=2_000_000_000,
        vat_rate_bp=0,
    )
    bedfordshire = County(crc_id=crc.id, name="Bedfordshire")
    contract.counties = [bedfordshire]
    contract.prisons = [Prison(crc_id=crc.id, name="HMP Bedford", county=bedfordshire)]
    db.session.add(contract)
    db.session.flush()
    db.session.add(
        RateCardItem(
            contract_id=contract.id,
            code="SES",
            service_code="SVC",
            name="Session",
            pathway=Pathway.ACCOMMODATION,
            setting=Setting.BOTH,
            unit=Unit.PER_SESSION,
        )
    )
    outcome_type = OutcomeType(contract_id=contract.id, code="housed", name="Housed", pathway=Pathway.ACCOMMODATION)
    db.session.add(outcome_type)
    db.session.flush()

    now = datetime(2026, 10, 1, tzinfo=UTC)
    first_day = date(2026, 1, 1)
    db.session.execute(
        Person.__table__.insert(),
        [
            {
                "crc_id": crc.id,  # people belong to their CRC
                "crn": f"B{n:06d}",
                "given_name": "Bench",
                "family_name": f"Person{n}",
                "date_of_birth": date(1960 + n % 45, 1 + n % 12, 1),
                "gender": rng.choice(["male", "female", "other"]),
                "ethnicity": rng.choice(ETHNICITY_CODES),
                "disability": rng.choice(["yes", "no", "not_stated"]),
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(referral_count)
        ],
    )
    people = [row[0] for row in db.session.execute(db.select(Person.id).order_by(Person.id))]
    referral_rows = []
    for n, person_id in enumerate(people):
        sent = first_day + timedelta(days=rng.randrange(0, 270))
        sent_at = datetime.combine(sent, clock(10), tzinfo=UTC)
        accepted = sent + timedelta(days=rng.randrange(0, 4))
        contact = accepted + timedelta(days=rng.randrange(1, 9))
        custody = n % 3 == 0
        referral_rows.append(
            {
                "reference": f"BR{n:06d}",
                "status": "in_progress",
                "contract_id": contract.id,
                "service_code": "SVC",
                "person_id": person_id,
                "crc_id": crc.id,
                "referrer_id": referrer.id,
                "risk_flags": [],
                "desired_outcomes": ["x"],
                "urgent": False,
                "rar_days": 10,
                "sent_at": sent_at,
                "accept_due_on": sent + timedelta(days=2),
                "accepted_at": datetime.combine(accepted, clock(11), tzinfo=UTC),
                "accepted_on": accepted,
                "first_contact_due_on": accepted + timedelta(days=7),
                "first_contact_at": datetime.combine(contact, clock(10), tzinfo=UTC),
                "first_contact_on": contact,
                "location_type": "custody" if custody else "community",
                "prison": "HMP Bedford" if custody else None,
                "community_office": None
                if custody
                else rng.choice(["Bedford office", "Luton office", "Kettering office"]),
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    db.session.execute(Referral.__table__.insert(), referral_rows)
    referrals = [row[0] for row in db.session.execute(db.select(Referral.id).order_by(Referral.id))]
    attendance = ["attended"] * 7 + ["late", "did_not_attend", "session_did_not_happen"]
    rows = []
    for n in range(session_count):
        rows.append(
            {
                "referral_id": referrals[n % len(referrals)],
                "date": date(2026, 7, 1) + timedelta(days=rng.randrange(0, 92)),
                "start_time": clock(10),
                "duration_minutes": 30 + 15 * (n % 5),
                "kind": "one_to_one",
                "attendance": rng.choice(attendance),
                "counts_as_rar_day": n % 4 == 0,
                "behaviour_concern": False,
                "recorded_by_id": manager.id,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    for start in range(0, len(rows), 10_000):
        db.session.execute(Session.__table__.insert(), rows[start : start + 10_000])
    outcome_rows = [
        {
            "referral_id": referrals[n],
            "outcome_type_id": outcome_type.id,
            "achieved_on": date(2026, 8, 1),
            "evidence": "x",
            "status": "verified" if n % 3 else "claimed",
            "claimed_by_id": manager.id,
            "claimed_at": datetime(2026, 8, 2, 9, tzinfo=UTC),
            "verified_at": datetime(2026, 8, 9, 9, tzinfo=UTC) if n % 3 else None,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(0, len(referrals), 4)
    ]
    db.session.execute(Outcome.__table__.insert(), outcome_rows)
    service_return = ServiceReturn(
        contract_id=contract.id,
        period_kind="quarter",
        period_start=date(2026, 7, 1),
        period_end=date(2026, 9, 30),
        created_by_id=manager.id,
        achievements="Benchmark narrative. " * 40,
        challenges="None.",
        case_study="Anonymised. " * 60,
        safeguarding_concerns=0,
    )
    db.session.add(service_return)
    db.session.commit()
    print(f"Seeded {len(referrals)} referrals, {len(rows)} sessions and {len(outcome_rows)} outcomes")
    return service_return


def timed(function, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def report(service_return, dialect: str) -> None:
    from io import BytesIO

    from pypdf import PdfReader
    from weasyprint import HTML

    from portal.pdf import PDF_VARIANT
    from portal.returns.documents import service_return_pdf
    from portal.returns.records import figures_for

    today = date(2026, 12, 2)
    figures_time, figures = timed(lambda: figures_for(service_return.contract, service_return.period, today=today))
    pdf_time, data = timed(lambda: service_return_pdf(service_return, today=today))
    minimal = "<!DOCTYPE html><html lang='en-GB'><head><title>Floor</title></head><body><p>One page.</p></body></html>"
    floor_time, _ = timed(lambda: HTML(string=minimal).write_pdf(pdf_variant=PDF_VARIANT))
    pages = len(PdfReader(BytesIO(data)).pages)
    received = next(r for s in figures["sections"] for r in s["rows"] if r["key"] == "received")["values"]
    print(f"Database: {dialect}; referrals received in the quarter: {received['period']}")
    print(f"Figures (load + compute):        {figures_time * 1000:8.1f} ms (best of 3; target under 1,000 ms)")
    print(f"PDF ({pages} pages):               {pdf_time * 1000:8.1f} ms (best of 3; target under 3,000 ms)")
    print(f"WeasyPrint one-page floor:       {floor_time * 1000:8.1f} ms (best of 3)")


if __name__ == "__main__":
    main()
