"""Exports stream: the rows come from the database a batch at a time (a server-side cursor, yield_per)
and go to the browser as they are written, so an export of 200,000 rows holds one batch, not the
file. bench/pages.py measures the memory at national scale; here, the behaviour that makes it flat."""

from __future__ import annotations

import csv
import io
import tracemalloc

import pytest
from sqlalchemy import event

from portal.csv_files import CHUNK, csv_chunks, csv_text
from portal.extensions import db
from tests.factories import (
    AlertFactory,
    InvoiceFactory,
    OutcomeFactory,
    ReferralFactory,
    ServiceReturnFactory,
    SessionFactory,
)


class StreamedQueries:
    """The SQL statements the app sends while a block runs, and which of them streamed."""

    def __init__(self, app) -> None:
        with app.app_context():
            self.engine = db.engine
        self.streamed: list[str] = []
        self.whole: list[str] = []

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        options = context.execution_options if context is not None else {}
        (self.streamed if options.get("stream_results") else self.whole).append(statement)

    def __enter__(self) -> StreamedQueries:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def records(nacro_contract, ttg_service, referrer, nacro_caseworker):
    """A little of everything the exports list, on Nacro's contract."""
    for _ in range(3):
        referral = ReferralFactory(contract=nacro_contract, service_code="ACC-TTG", referrer=referrer, in_progress=True)
        AlertFactory(session=SessionFactory(referral=referral, recorded_by=nacro_caseworker))
        OutcomeFactory(referral=referral)
        InvoiceFactory(contract=nacro_contract, submitted=True)
    ServiceReturnFactory(contract=nacro_contract, submitted=True)
    db.session.commit()


EXPORTS = [
    ("contract_manager", "/invoices/export.csv", "invoices.csv", "number"),
    ("contract_manager", "/invoices/lines.csv", "invoice-lines.csv", "invoice_number"),
    ("referrer", "/outcomes/export.csv?status=", "outcomes.csv", "referral"),
    ("referrer", "/alerts/export.csv?status=", "alerts.csv", "referral"),
    ("contract_manager", "/service-returns/export.csv", "service-returns.csv", "contract"),
]


@pytest.mark.parametrize(("role", "url", "filename", "first_column"), EXPORTS)
def test_an_export_reads_its_rows_in_batches_and_streams_them(
    app, portal, request, records, role, url, filename, first_column
):
    portal.sign_in(request.getfixturevalue(role))
    with StreamedQueries(app) as queries:
        response = portal.client.get(url, buffered=False)
        assert response.is_streamed
        body = b"".join(response.response).decode()
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and next(iter(rows[0])) == first_column
    # The export's own query (the one that reads its rows) ran through a server-side cursor.
    assert queries.streamed, queries.whole


def test_a_streamed_file_is_written_in_pieces_and_is_the_same_file():
    rows = [(number, f"name {number}", "=HYPERLINK(x)") for number in range(20_000)]
    pieces = list(csv_chunks(("id", "name", "note"), iter(rows), bom=True))
    assert len(pieces) > 5
    assert all(len(piece) < CHUNK + 200 for piece in pieces)
    assert "".join(pieces) == csv_text(("id", "name", "note"), rows, bom=True)


def _peak_writing(count: int) -> int:
    rows = ((number, f"Person {number}", "2026-03-03", "verified") for number in range(count))
    tracemalloc.start()
    for _ in csv_chunks(("id", "name", "day", "status"), rows):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_writing_ten_times_the_rows_takes_no_more_memory():
    small, large = _peak_writing(10_000), _peak_writing(100_000)
    assert large < small * 1.5 + 100_000


def test_the_claims_and_alerts_exports_read_as_rows_say_what_the_records_say(portal, referrer, records):
    """The outcome claims and alerts exports read columns, not records (80,000 and 100,000 rows at
    national scale): each row still names the referral, person, contract, partner and what happened."""
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from portal.contracts.models import Contract
    from portal.delivery.models import Alert, Outcome
    from portal.referrals.models import Referral

    def case(relationship):  # a referral with what the rows name of it, loaded with it
        return (
            joinedload(relationship).joinedload(Referral.person),
            joinedload(relationship).joinedload(Referral.contract).joinedload(Contract.partner),
        )

    def named(referral):  # the case each row names, as both exports begin
        return {
            "referral": referral.reference,
            "crn": referral.person.crn,
            "name": referral.person.full_name,
            "contract": referral.contract.reference,
            "partner": referral.contract.partner.name,
        }

    portal.sign_in(referrer)
    claims = list(csv.DictReader(io.StringIO(portal.get("/outcomes/export.csv?status=").get_data(as_text=True))))
    outcomes = db.session.scalars(
        select(Outcome)
        .options(*case(Outcome.referral), joinedload(Outcome.outcome_type))
        .order_by(Outcome.claimed_at, Outcome.id)
    ).all()
    assert len(claims) == len(outcomes) == 3
    for row, outcome in zip(claims, outcomes, strict=True):
        referral, kind = outcome.referral, outcome.outcome_type
        assert row == named(referral) | {
            "outcome_type": kind.code,
            "outcome_name": kind.name,
            "achieved_on": outcome.achieved_on.isoformat(),
            "claimed_at": outcome.claimed_at.isoformat(),
            "status": outcome.status.value,
            "rejection_reason": outcome.rejection_reason or "",
        }
    raised = list(csv.DictReader(io.StringIO(portal.get("/alerts/export.csv?status=").get_data(as_text=True))))
    alerts = db.session.scalars(select(Alert).options(*case(Alert.referral)).order_by(Alert.raised_at, Alert.id)).all()
    assert len(raised) == len(alerts) == 3
    for row, alert in zip(raised, alerts, strict=True):
        referral = alert.referral
        assert row == named(referral) | {
            "kind": alert.kind.value,
            "detail": alert.detail or "",
            "raised_at": alert.raised_at.isoformat(),
            "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else "",
        }
