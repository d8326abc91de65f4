"""Each page's own cost: one request at a time, in this process, with its SQL query count.

    .venv/bin/python bench/pages.py --database-url URL [--repeat 5] [--password P]

Signs in as each of bench/scale.py's people and asks for the pages bench/load.py walks, one after
another, so no request waits behind another: the time is the page's own work (best and median of
--repeat), and the query count shows whether it grows with the data (it must not). Records to open
(a referral, an invoice, a return) are the largest partner's, found in the database. The load test
(bench/load.py) measures the same pages under load, through gunicorn.

Then the documents: a frozen service return's PDF (time and pages), and the per-referral
performance report's CSV for every contract and for one, streamed, with the peak Python memory
each took (tracemalloc): flat memory means the two peaks are alike however many rows each has.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PASSWORD = "demo-password-2026"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def records() -> dict[str, str]:
    """Ids and references of the largest partner's records, for the pages that show one."""
    from sqlalchemy import func, select

    from portal.contracts.models import Contract
    from portal.extensions import db
    from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
    from portal.organisations.models import Organisation
    from portal.referrals.models import Referral
    from portal.returns.models import ServiceReturn

    partner = db.session.scalar(select(Organisation.id).where(Organisation.name == "Partner 01"))
    contracts = select(Contract.id).where(Contract.partner_id == partner)
    contract = db.session.scalar(select(Contract.reference).where(Contract.partner_id == partner).limit(1))
    referral = db.session.scalar(
        select(Referral.reference).where(Referral.contract_id.in_(contracts)).order_by(Referral.id.desc()).limit(1)
    )
    submitted = db.session.scalar(
        select(Invoice.id)
        .where(Invoice.partner_id == partner, Invoice.status == InvoiceStatus.SUBMITTED)
        .order_by(Invoice.id.desc())
        .limit(1)
    )
    draft = db.session.scalar(
        select(Invoice.id).where(Invoice.partner_id == partner, Invoice.status == InvoiceStatus.DRAFT).limit(1)
    )
    line = db.session.scalar(
        select(InvoiceLine.id).where(InvoiceLine.invoice_id == submitted).order_by(InvoiceLine.event_count.desc())
    )
    service_return = db.session.scalar(
        select(func.max(ServiceReturn.id)).where(
            ServiceReturn.contract_id.in_(contracts), ServiceReturn.kpis.is_not(None)
        )
    )
    partner_id = str(partner)
    return {
        "contract": contract or "",
        "referral": referral or "",
        "submitted": str(submitted),
        "draft": str(draft),
        "line": str(line),
        "return": str(service_return),
        "partner": partner_id,
    }


def walks(r: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """(page name as bench/load.py names it, URL) for each person."""
    inbox = [
        ("/referrals/?tab=[tab]", "/referrals/?tab=all"),
        ("/referrals/?tab=all&page=[n]", "/referrals/?tab=all&page=2"),
        ("/referrals/?q=[reference]", f"/referrals/?tab=all&q={r['referral']}"),
        ("/referrals/?q=[name]", "/referrals/?tab=all&q=Person4217"),
        ("/referrals/?overdue=yes", "/referrals/?tab=all&overdue=yes"),
        ("/referrals/[reference]", f"/referrals/{r['referral']}"),
    ]
    return {
        "manager@partner-01.example": [
            ("/", "/"),
            *inbox,
            ("/invoices/", "/invoices/"),
            ("/invoices/[id] (submitted)", f"/invoices/{r['submitted']}"),
            ("/invoices/[id] (draft)", f"/invoices/{r['draft']}"),
            ("/invoices/[id]/lines/[line]", f"/invoices/{r['submitted']}/lines/{r['line']}"),
            ("/service-returns/", "/service-returns/"),
            ("/service-returns/[id]", f"/service-returns/{r['return']}"),
            ("/dashboard/ (partner)", "/dashboard/"),
        ],
        "caseworker@partner-01.example": [("/my-sessions", "/my-sessions")],
        "referrer@scale.example": [("/", "/"), ("/referrals/?tab=[tab]", "/referrals/?tab=sent")],
        "contracts@scale.example": [
            ("/", "/"),
            ("/invoices/queue", "/invoices/queue"),
            ("/invoices/?status=[s]&page=[n]", "/invoices/?status=paid&page=2"),
            ("/contracts/[reference]", f"/contracts/{r['contract']}"),
            ("/dashboard/?contract=[ref]", f"/dashboard/?contract={r['contract']}"),
            ("/dashboard/?partner=[id]", f"/dashboard/?partner={r['partner']}"),
            ("/dashboard/", "/dashboard/"),
        ],
        "admin@scale.example": [("/audit/", "/audit/"), ("/audit/?page=[n]", "/audit/?page=5"), ("/users", "/users")],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a database seeded by bench/scale.py")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    args = parser.parse_args()
    os.environ.update(PORTAL_ENV="test", TEST_DATABASE_URL=args.database_url, LOG_LEVEL="WARNING")

    from sqlalchemy import event

    from portal import create_app
    from portal.extensions import db

    app = create_app("test")
    app.config["RATELIMIT_ENABLED"] = False
    queries = {"count": 0}
    print("| who | page | best ms | median ms | queries |\n|---|---|---:|---:|---:|")

    def count(*_: object, **__: object) -> None:
        queries["count"] += 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        found = records()
    # Requests outside any app context of ours: each gets its own, as in production (an active
    # context would be shared by every request, and with it the signed-in user).
    for email, pages in walks(found).items():
        client = signed_in(app, email, args.password)
        for name, url in pages:
            times, queried, status = [], 0, 0
            for _ in range(args.repeat):
                queries["count"] = 0
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                queried, status = queries["count"], response.status_code
            flag = "" if status == 200 else f" ({status})"
            who = email.split("@")[0] + ("" if "scale" in email else " (partner 01)")
            best, median = min(times), statistics.median(times)
            print(f"| {who} | `{name}`{flag} | {best:.0f} | {median:.0f} | {queried} |", flush=True)
    documents(app, found, args.password)
    return 0


def documents(app: object, found: dict[str, str], password: str) -> None:
    import io
    import tracemalloc

    from pypdf import PdfReader

    print("\n| document | rows or pages | ms | peak Python memory MB |\n|---|---:|---:|---:|")
    manager = signed_in(app, "manager@partner-01.example", password)
    started = time.perf_counter()
    pdf = manager.get(f"/service-returns/{found['return']}.pdf")
    elapsed = (time.perf_counter() - started) * 1000
    pages = len(PdfReader(io.BytesIO(pdf.data)).pages) if pdf.status_code == 200 else f"({pdf.status_code})"
    print(f"| service return PDF (`/service-returns/[id].pdf`) | {pages} pages | {elapsed:.0f} | – |")
    contracts = signed_in(app, "contracts@scale.example", password)
    for label, url in (
        ("performance CSV, every contract", "/dashboard/performance.csv"),
        ("performance CSV, one contract", f"/dashboard/performance.csv?contract={found['contract']}"),
    ):
        tracemalloc.start()
        started = time.perf_counter()
        response = contracts.get(url, buffered=False)
        lines = sum(chunk.count(b"\n") for chunk in response.response) - 1  # less the header
        elapsed = (time.perf_counter() - started) * 1000
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"| {label} (`{url}`) | {lines:,} rows | {elapsed:.0f} | {peak / 2**20:.1f} |", flush=True)


def signed_in(app: object, email: str, password: str):  # type: ignore[no-untyped-def]
    client = app.test_client()  # type: ignore[attr-defined]
    token = CSRF.search(client.get("/sign-in").get_data(as_text=True))
    client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token.group(1)})
    return client


if __name__ == "__main__":
    sys.exit(main())
