"""The dashboard's and a return's figures on a seeded database: counted in SQL (portal.figures,
what the pages use) against the reference (the records loaded into Python and counted there, as
the pages did before), with each one's time and SQL query count, and a check they are equal.

    .venv/bin/python bench/figures.py --database-url URL [--repeat 3]

Cases: every contract for this quarter (the contract manager's dashboard), the largest partner's
contracts, one contract with a pathway filter, and the largest contract's return figures for
last quarter. The load on the machine is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a database seeded by bench/scale.py or returns.py")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(PORTAL_ENV="test", TEST_DATABASE_URL=args.database_url, LOG_LEVEL="WARNING")

    from sqlalchemy import event, func, select

    from portal import create_app
    from portal.contracts.models import Contract, ContractStatus
    from portal.dates import london_today, quarter_of
    from portal.extensions import db
    from portal.figures import count_figures
    from portal.referrals.models import Referral
    from portal.returns.kpis import compute_figures
    from portal.returns.records import default_labels, load_records

    app = create_app("test")
    with app.app_context():
        queries = {"n": 0}
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.__setitem__("n", queries["n"] + 1))
        today = london_today()
        quarter = quarter_of(today)
        contracts = list(db.session.scalars(select(Contract).where(Contract.status != ContractStatus.DRAFT)))
        sizes = dict(
            db.session.execute(select(Referral.contract_id, func.count()).group_by(Referral.contract_id)).all()
        )
        largest = max(contracts, key=lambda c: sizes.get(c.id, 0))
        partner = [c for c in contracts if c.partner_id == largest.partner_id]
        cases = [
            ("dashboard, every contract, this quarter", contracts, quarter, None),
            ("dashboard, the largest partner, this quarter", partner, quarter, None),
            ("dashboard, the largest contract, pathway accommodation", [largest], quarter, "accommodation"),
            ("return figures, the largest contract, last quarter", [largest], quarter.previous(), None),
        ]
        labels = default_labels()
        print(f"{len(contracts)} contracts, {sum(sizes.values()):,} referrals; load {os.getloadavg()}")
        for name, chosen, period, pathway in cases:
            ids = [c.id for c in chosen]
            start = min(c.start_date for c in chosen)

            def sql(ids=ids, period=period, start=start, pathway=pathway):  # type: ignore[no-untyped-def]
                return count_figures(ids, period, today=today, contract_start=start, pathway=pathway, labels=labels)

            def reference(ids=ids, period=period, start=start, pathway=pathway):  # type: ignore[no-untyped-def]
                ytd, months = period.year_to_date(start), period.charted_months(start)
                first = min(period.previous().start, ytd.start, months[0])
                records = load_records(ids, first, period.end, pathway=pathway, today=today)
                return compute_figures(records, period, today=today, contract_start=start, labels=labels)

            results = {}
            for label, run in (("sql", sql), ("reference", reference)):
                times, counts = [], []
                for _ in range(args.repeat):
                    db.session.expire_all()
                    queries["n"] = 0
                    began = time.perf_counter()
                    value = run()
                    times.append(time.perf_counter() - began)
                    counts.append(queries["n"])
                    db.session.rollback()
                results[label] = (value, min(times), statistics.median(times), counts[-1])
            same = results["sql"][0].figures == results["reference"][0]
            print(f"\n{name} ({len(ids)} contracts)")
            for label in ("sql", "reference"):
                _, best, middle, count = results[label]
                print(f"  {label:<10} best {best * 1000:8.0f} ms  median {middle * 1000:8.0f} ms  {count:3d} queries")
            print(f"  equal: {same}")
        print(f"\nload {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
