"""The rate-card import page: a contract manager uploads a CSV file; it is imported whole, or not
at all with every problem listed by row and column."""

from __future__ import annotations

from io import BytesIO

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.contracts.models import ContractStatus, OutcomeType, RateCardItem, RateCardPrice
from portal.contracts.rate_card_csv import COLUMNS, REQUIRED_COLUMNS
from portal.extensions import db
from tests.factories import ContractFactory, OutcomeTypeFactory, RateCardItemFactory, RateCardPriceFactory
from tests.helpers import text_of

URL = "/contracts/BENCH-ACC-01/rate-card/import"
HEADER = ",".join(REQUIRED_COLUMNS) + "\n"  # a file of before session_kinds still imports
RATE_CARD = HEADER + (
    "ACC-TTG-REF,ACC-TTG,Through the Gate referral,accommodation,custody,per_referral,,1,150.00,2026-04-01,2027-03-31\n"
    "ACC-TTG-REF,ACC-TTG,Through the Gate referral,accommodation,custody,per_referral,,1,165.00,2027-04-01,\n"
    "ACC-TTG-NIGHT,ACC-TTG,Accommodation on the first night,accommodation,custody,per_outcome,"
    "accommodation_secured_first_night,1,400.00,2026-04-01,\n"
    "WOM-GRANT,WOM-CENTRE,Women's centre grant,women_abuse,community,monthly_fixed,,,2500.00,2026-04-01,\n"
)


def upload(portal, content: bytes | None, filename: str = "rate-card.csv", url: str = URL):
    """Submit the import form as a browser would, with a file chosen (or none: content None)."""
    data = {"file": (BytesIO(content), filename) if content is not None else (BytesIO(b""), "")}
    return portal.post(url, data, content_type="multipart/form-data")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def nothing_saved() -> bool:
    changes = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.not_like("auth.%"))
    )
    return count(RateCardItem) == 0 and count(RateCardPrice) == 0 and count(OutcomeType) == 0 and changes == 0


def test_contract_manager_imports_a_rate_card_and_sees_what_changed(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    page = portal.get(URL)
    assert page.status_code == 200
    assert "Import a rate card for BENCH-ACC-01 – Partner Portal" in text_of(page)
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)

    response = upload(portal, RATE_CARD.encode(), filename="ttg-2026.csv")

    assert response.status_code == 302
    assert response.headers["Location"] == "/contracts/BENCH-ACC-01"
    contract_page = text_of(portal.get("/contracts/BENCH-ACC-01"))
    assert (
        "Rate card imported from ttg-2026.csv: 3 item(s) added; 0 updated; 0 unchanged; 4 price(s) added; "
        "0 changed; 0 removed; outcome types added: accommodation_secured_first_night."
    ) in contract_page
    assert "Accommodation on the first night" in contract_page
    assert count(RateCardItem) == 3 and count(RateCardPrice) == 4
    imported = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rate_card.imported")).one()
    assert imported.details["filename"] == "ttg-2026.csv"
    assert imported.actor_email == contract_manager.email


def test_import_with_errors_lists_every_row_and_saves_nothing(portal, contract_manager, nacro_contract):
    bad = HEADER + (
        "GOOD-ONE,SVC,A good row,health,both,per_session,,,10.00,2026-04-01,\n"
        "BAD-PATH,SVC,Bad pathway,housing,both,per_session,,,10.00,2026-04-01,\n"
        "BAD-PRICE,SVC,Negative price,health,both,per_session,,,-5.00,2026-04-01,\n"
        "NO-OUTCOME,SVC,Outcome without a type,health,both,per_outcome,,,10.00,2026-04-01,\n"
        "GOOD-ONE,SVC,A good row,health,both,per_session,,,12.00,2026-12-01,\n"
        "BAD-DAY,SVC,No such day,health,both,per_session,,,10.00,2026-02-30,\n"
    )
    portal.sign_in(contract_manager)
    response = upload(portal, bad.encode(), filename="broken.csv")

    assert response.status_code == 200
    page = text_of(response)
    assert page.startswith("Error: Import a rate card for BENCH-ACC-01")
    assert "The rate card was not imported. Nothing was saved." in page
    assert "5 problems in broken.csv" in page
    rows = page.split("Row Column Problem")[1]
    expected = [
        "3 pathway Unknown pathway 'housing': use one of accommodation",
        "4 unit_price The unit price cannot be negative (-5.00)",
        "5 outcome_type An item billed per_outcome needs an outcome type",
        "6 effective_from This price of item GOOD-ONE overlaps the price in row 2",
        "7 effective_from '2026-02-30' is not a real date",
    ]
    positions = [rows.index(row) for row in expected]
    assert positions == sorted(positions)
    html = response.get_data(as_text=True)
    assert 'href="#file"' in html  # the error summary leads to the file input, to choose the file again
    assert nothing_saved()


def test_import_of_an_exported_file_changes_nothing(portal, contract_manager, nacro_contract):
    outcome_type = OutcomeTypeFactory(contract=nacro_contract, code="entered_employment", name="Entered employment")
    item = RateCardItemFactory(contract=nacro_contract, code="ETE-JOB", unit="per_outcome", outcome_type=outcome_type)
    RateCardPriceFactory(item=item, unit_price_pence=50_000)
    hourly = RateCardItemFactory(contract=nacro_contract, code="ETE-MENTOR", unit="per_hour", max_units_per_referral=12)
    RateCardPriceFactory(item=hourly, unit_price_pence=3_250)
    RateCardItemFactory(contract=nacro_contract, code="UNPRICED")
    portal.sign_in(contract_manager)
    exported = portal.get("/contracts/BENCH-ACC-01/rate-card.csv").get_data()

    response = upload(portal, exported, filename="BENCH-ACC-01-rate-card.csv")

    assert response.status_code == 302
    assert "The rate card already matched BENCH-ACC-01-rate-card.csv: nothing changed." in text_of(
        portal.get(response.headers["Location"])
    )
    assert portal.get("/contracts/BENCH-ACC-01/rate-card.csv").get_data() == exported
    changes = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.not_like("auth.%"), AuditEvent.action != "rate_card.imported")
    ).all()
    assert changes == []


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (None, "", "Select a CSV file"),
        (b"", "empty.csv", "The file is empty"),
        ("code,name\nCAFÉ,Café\n".encode("latin-1"), "latin.csv", "The file must be a CSV file saved as UTF-8 text"),
        (HEADER.encode(), "header-only.csv", "The file has a header row but no"),
        (b"PK\x03\x04\x00\x00binary", "rates.xlsx", "The file must be a CSV file, not a spreadsheet or other document"),
        (
            (HEADER + 'ONE,SVC,"Unclosed quote,health,both,per_session,,,10.00,2026-04-01,\n').encode(),
            "quote.csv",
            "The file is not valid CSV",
        ),
        (b"code,title\nONE,Two\n", "wrong-columns.csv", "The header row is missing the column(s): service_code"),
    ],
)
def test_empty_and_non_utf8_files_get_clear_messages(
    portal, contract_manager, nacro_contract, content, filename, message
):
    portal.sign_in(contract_manager)
    response = upload(portal, content, filename=filename)
    assert response.status_code == 200
    page = text_of(response)
    assert message in page
    if content is not None:
        assert "The rate card was not imported. Nothing was saved." in page
    else:
        assert page.count("Select a CSV file") == 2  # in the summary and beside the file input
    assert nothing_saved()


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(portal, contract_manager, nacro_contract):
    row = "ONE,SVC,A service,health,both,per_session,,,10.00,2026-04-01,\n"
    huge = (HEADER + row * (1_500_000 // len(row))).encode()
    portal.sign_in(contract_manager)
    response = upload(portal, huge, filename="huge.csv")
    assert "The file must be smaller than 1 MB" in text_of(response)
    assert nothing_saved()


def test_an_ended_contract_takes_no_import(portal, contract_manager, crc, nacro):
    ContractFactory(reference="BENCH-OLD-01", crc=crc, partner=nacro, status=ContractStatus.ENDED)
    portal.sign_in(contract_manager)
    response = upload(portal, RATE_CARD.encode(), url="/contracts/BENCH-OLD-01/rate-card/import")
    assert "This contract has ended and can no longer be changed" in text_of(response)
    assert nothing_saved()


def test_import_page_documents_the_columns_and_links_to_the_current_rate_card(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    response = portal.get(URL)
    page = text_of(response)
    assert ",".join(COLUMNS) in response.get_data(as_text=True).replace("<wbr>", "")  # may break after commas
    for column in COLUMNS:
        assert f"<code>{column}</code>" in response.get_data(as_text=True)
    assert "YYYY-MM-DD" in page and "in pounds, like 125.00" in page
    assert 'href="/contracts/BENCH-ACC-01/rate-card.csv"' in response.get_data(as_text=True)


@pytest.mark.parametrize("role_fixture", ["nacro_manager", "referrer", "admin"])
def test_only_contract_managers_can_import(portal, request, role_fixture, nacro_contract):
    portal.sign_in(request.getfixturevalue(role_fixture))
    assert portal.get(URL).status_code == 403
    assert upload(portal, RATE_CARD.encode()).status_code == 403
    assert nothing_saved()


def test_a_50_mb_file_is_refused_with_a_clear_message(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    response = upload(portal, b"x" * 50 * 1024 * 1024, filename="enormous.csv")
    assert response.status_code == 413
    assert "The file is too large" in text_of(response)
    assert nothing_saved()
