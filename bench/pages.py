"""Each page's own cost: one request at a time, in this process, with its SQL query count.

    .venv/bin/python bench/pages.py --database-url URL [--repeat 5] [--password P]

Signs in as each of bench/scale.py's people and asks for the pages bench/load.py walks, one after
another, so no request waits behind another: the time is the page's own work (the first visit,
which counts the figures not yet remembered, then the best and median of --repeat), and the query
count shows whether it grows with the data (it must not). Records to open (a referral, an invoice,
a return) are the largest partner's, found in the database. The load test (bench/load.py)
measures the same pages under load, through gunicorn.

A deep page of a list is reached as a reader reaches it, by following "Next" (keyset cursors):
`(page 21)` is the page after following it twenty times, and costs what the first page does.

Then the documents: a frozen service return's PDF (time and pages), and every streamed export
(CSV and XLSX: the performance report, outcome claims, alerts, invoices, invoice lines, a line's
events, the returns list, the figures), with its rows and the peak Python memory it took
(tracemalloc): flat memory means the peaks are alike however many rows each has. Run it on a
20,000- and a 200,000-referral database to compare (`--exports-only` skips the pages; `--page NAME`
measures only the pages whose name contains NAME, like `safeguarding`).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PASSWORD = "demo-password-2026"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
NEXT = re.compile(r'<a[^>]*href="([^"]+)"[^>]*rel="next"')


def records() -> dict[str, str]:
    """Ids and references of the largest partner's records, for the pages that show one."""
    from sqlalchemy import func, select

    from portal.contracts.models import Contract
    from portal.extensions import db
    from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
    from portal.organisations.models import Organisation, OrganisationKind
    from portal.referrals.models import Referral
    from portal.returns.models import ServiceReturn
    from portal.safeguarding.models import SafeguardingConcern

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
    # A referral of the partner's with a safeguarding concern, for the case file's section; and the
    # smallest partner (the last seeded), whose few concerns the list must find among the CRC's.
    concerned = db.session.scalar(
        select(Referral.reference)
        .join(SafeguardingConcern, SafeguardingConcern.referral_id == Referral.id)
        .where(Referral.contract_id.in_(contracts))
        .order_by(SafeguardingConcern.id.desc())
        .limit(1)
    )
    smallest = db.session.scalar(
        select(Organisation.name)
        .where(Organisation.kind == OrganisationKind.PARTNER)
        .order_by(Organisation.name.desc())
        .limit(1)
    )
    partner_id = str(partner)
    return {
        "concerned": concerned or "",
        "smallest": (smallest or "").lower().replace(" ", "-"),
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
        ("/referrals/?tab=all (page 21)", "next:20:/referrals/?tab=all"),
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
            ("/safeguarding/", "/safeguarding/"),
            ("/safeguarding/?status=[s]", "/safeguarding/?status=all"),
            ("/referrals/[reference]/safeguarding", f"/referrals/{r['concerned']}/safeguarding"),
        ],
        f"manager@{r['smallest']}.example": [("/safeguarding/?status=[s]", "/safeguarding/?status=all")],
        "caseworker@partner-01.example": [("/", "/"), ("/my-sessions", "/my-sessions")],
        "referrer@scale.example": [("/", "/"), ("/referrals/?tab=[tab]", "/referrals/?tab=sent")],
        "contracts@scale.example": [
            ("/", "/"),
            ("/invoices/queue", "/invoices/queue"),
            ("/invoices/?status=[s] (page 21)", "next:20:/invoices/?status=paid"),
            ("/contracts/[reference]", f"/contracts/{r['contract']}"),
            ("/dashboard/?contract=[ref]", f"/dashboard/?contract={r['contract']}"),
            ("/dashboard/?partner=[id]", f"/dashboard/?partner={r['partner']}"),
            ("/dashboard/?contract=[ref]&pathway=[p]", f"/dashboard/?contract={r['contract']}&pathway=accommodation"),
            ("/dashboard/", "/dashboard/"),
            ("/dashboard/?view=payments", "/dashboard/?view=payments"),
            ("/dashboard/?view=contracts", "/dashboard/?view=contracts"),
            ("/contracts/[reference]/volumes", f"/contracts/{r['contract']}/volumes"),
            ("/safeguarding/?status=[s]", "/safeguarding/?status=all"),
        ],
        "admin@scale.example": [
            ("/", "/"),
            ("/audit/", "/audit/"),
            ("/audit/ (page 21)", "next:20:/audit/"),
            ("/audit/ (page 101)", "next:100:/audit/"),
            ("/users", "/users"),
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a database seeded by bench/scale.py")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--exports-only", action="store_true", help="measure only the documents and exports")
    parser.add_argument("--export", default="", help="only the exports whose name contains this")
    parser.add_argument("--page", default="", help="only the pages whose name contains this (and no documents)")
    args = parser.parse_args()
    os.environ.update(PORTAL_ENV="test", TEST_DATABASE_URL=args.database_url, LOG_LEVEL="WARNING")

    from sqlalchemy import event

    from portal import create_app
    from portal.extensions import db

    app = create_app("test")
    app.config["RATELIMIT_ENABLED"] = False
    queries = {"count": 0}
    print("| who | page | first ms | best ms | median ms | queries |\n|---|---|---:|---:|---:|---:|")

    def count(*_: object, **__: object) -> None:
        queries["count"] += 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        found = records()
    # Requests outside any app context of ours: each gets its own, as in production (an active
    # context would be shared by every request, and with it the signed-in user).
    for email, pages in ({} if args.exports_only else walks(found)).items():
        client = signed_in(app, email, args.password)
        for name, url in pages:
            if args.page not in name:
                continue
            url = deep(client, url)
            times, queried, status = [], 0, 0
            for _ in range(args.repeat):
                queries["count"] = 0
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                queried, status = queries["count"], response.status_code
            flag = "" if status == 200 else f" ({status})"
            person, domain = email.split("@")
            who = person + ("" if "scale" in domain else f" ({domain.removesuffix('.example').replace('-', ' ')})")
            best, median = min(times), statistics.median(times)
            print(f"| {who} | `{name}`{flag} | {times[0]:.0f} | {best:.0f} | {median:.0f} | {queried} |", flush=True)
    if not args.page:
        documents(app, found, args.password, args.export)
        streaming(app)
    return 0


def documents(app: object, found: dict[str, str], password: str, only: str = "") -> None:
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
    print("\n| export | rows | ms | peak Python memory MB |\n|---|---:|---:|---:|")
    for email, label, url in EXPORTS(found):
        if only not in label:
            continue
        client = signed_in(app, email, password)
        tracemalloc.start()
        started = time.perf_counter()
        response = client.get(url, buffered=False)
        size, lines = 0, 0
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = (time.perf_counter() - started) * 1000
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows = f"{lines - 1:,}" if url.endswith((".csv", "=")) or ".csv?" in url else f"{size / 1000:,.0f} kB"
        flag = "" if response.status_code == 200 else f" ({response.status_code})"
        print(f"| {label} (`{url}`){flag} | {rows} | {elapsed:.0f} | {peak / 2**20:.1f} |", flush=True)


def streaming(app: object) -> None:
    """The export machinery itself (csv_files.stream_rows and csv_chunks, which every export uses)
    over billed events (the largest table a 20,000-referral seed has past 200,000 rows), at 20,000 and
    200,000 rows: the peak must not grow with the rows. For
    contrast, the same rows read whole (.all()), as the exports did before."""
    import tracemalloc

    from sqlalchemy import select

    from portal.csv_files import csv_chunks, stream_rows
    from portal.extensions import db
    from portal.invoicing.models import InvoiceEvent

    print("\n| billed events to CSV | rows | ms | peak Python memory MB |\n|---|---:|---:|---:|")
    with app.app_context():  # type: ignore[attr-defined]
        for how in ("streamed", "read whole"):
            for count in (20_000, 200_000):
                statement = select(InvoiceEvent).order_by(InvoiceEvent.id).limit(count)
                tracemalloc.start()
                started = time.perf_counter()
                records = stream_rows(statement) if how == "streamed" else db.session.scalars(statement).all()
                rows = ((e.id, e.invoice_id, e.line_id, e.event_key, e.event_date, e.minutes) for e in records)
                size = sum(
                    len(piece) for piece in csv_chunks(("id", "invoice", "line", "event", "date", "minutes"), rows)
                )
                elapsed = (time.perf_counter() - started) * 1000
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                db.session.expunge_all()
                print(
                    f"| {how} | {count:,} ({size / 1e6:.1f} MB of CSV) | {elapsed:.0f} | {peak / 2**20:.1f} |",
                    flush=True,
                )


def EXPORTS(found: dict[str, str]) -> list[tuple[str, str, str]]:  # noqa: N802 - a table
    """(who, what, URL) of every streamed export, the largest each role can ask for."""
    manager, contracts = "manager@partner-01.example", "contracts@scale.example"
    return [
        (contracts, "performance CSV, every contract", "/dashboard/performance.csv"),
        (contracts, "performance CSV, one contract", f"/dashboard/performance.csv?contract={found['contract']}"),
        (contracts, "outcome claims CSV, every status", "/outcomes/export.csv?status="),
        (contracts, "alerts CSV, every status", "/alerts/export.csv?status="),
        (contracts, "invoices CSV, all", "/invoices/export.csv"),
        (contracts, "invoice lines CSV, all", "/invoices/lines.csv"),
        (manager, "a line's events CSV (largest line)", f"/invoices/{found['submitted']}/lines/{found['line']}.csv"),
        (contracts, "service returns CSV", "/service-returns/export.csv"),
        (contracts, "dashboard figures XLSX", "/dashboard/figures.xlsx"),
        (manager, "a return's figures XLSX", f"/service-returns/{found['return']}/figures.xlsx"),
    ]


def deep(client, url: str) -> str:  # type: ignore[no-untyped-def]
    """`next:N:/list/`: the URL of the list's page after following its Next link N times."""
    if not url.startswith("next:"):
        return url
    _, times, url = url.split(":", 2)
    for _ in range(int(times)):
        match = NEXT.search(client.get(url).get_data(as_text=True))
        if match is None:
            break
        url = unescape(match.group(1))
    return url


def signed_in(app: object, email: str, password: str):  # type: ignore[no-untyped-def]
    client = app.test_client()  # type: ignore[attr-defined]
    token = CSRF.search(client.get("/sign-in").get_data(as_text=True))
    client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token.group(1)})
    return client


if __name__ == "__main__":
    sys.exit(main())
