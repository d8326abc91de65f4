"""A return's figures as spreadsheet rows, for the CSV and XLSX downloads: the same rows in both,
with numbers as numbers in XLSX (counts, percentages, hours and pounds) so they can be summed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from portal.csv_files import safe_cells
from portal.formatting import format_money
from portal.returns.kpis import percent_text, percent_value

COLUMNS = ("period", "previous", "ytd")


def _text(value: Any, kind: str) -> str:
    if kind == "percent":
        return percent_text(value)
    if kind == "money":
        return format_money(value, blank="no data")
    return "no data" if value is None else str(value)


def _cell(value: Any, kind: str) -> tuple[Any, str | None]:
    """(value, number format) for XLSX: a number where there is one, else the words."""
    if kind == "percent":
        shown = percent_value(value)
        return (shown, '0.0"%"') if shown is not None else ("no data", None)
    if kind == "money":
        return (Decimal(value) / 100, '"£"#,##0.00') if value is not None else ("no data", None)
    if kind == "decimal":
        return (Decimal(value), "0.0") if value is not None else ("no data", None)
    return value, None


def _equality_text(cell: dict[str, Any]) -> str:
    return str(cell["count"]) if cell["percent"] is None else f"{cell['count']} ({cell['percent']}%)"


def header(figures: dict[str, Any]) -> list[str]:
    return ["section", "figure"] + [figures["columns"][column]["label"] for column in COLUMNS]


def text_rows(figures: dict[str, Any]) -> list[list[str]]:
    """Header and one row per figure, every value as a person reads it (the CSV)."""
    rows = [header(figures)]
    for section in figures["sections"]:
        for row in section["rows"]:
            rows.append([section["title"], row["label"]] + [_text(row["values"][c], row["kind"]) for c in COLUMNS])
    for table in figures["equality"]:
        for row in table["rows"]:
            rows.append(
                [f"Equality: {table['title']}", row["label"]] + [_equality_text(row["values"][c]) for c in COLUMNS]
            )
    return rows


def workbook(figures: dict[str, Any], title: str) -> Any:
    """The figures as a write-only XLSX workbook (rows go to disk as they are added; save it with
    csv_files.xlsx_response): a Figures sheet and an Outcomes sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Figures")
    # Widths and frozen panes are written before the rows, so they are set first.
    for letter, width in zip("ABCDE", (26, 52, 30, 30, 36), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "C3"
    title_cells = safe_cells(sheet, [title])
    title_cells[0].font = Font(bold=True, size=14)
    sheet.append(title_cells)
    sheet.append(safe_cells(sheet, header(figures), bold=True))
    for section in figures["sections"]:
        for row in section["rows"]:
            values = [_cell(row["values"][c], row["kind"]) for c in COLUMNS]
            sheet.append(
                safe_cells(
                    sheet,
                    [section["title"], row["label"]] + [value for value, _ in values],
                    [None, None] + [number_format for _, number_format in values],
                )
            )
    for table in figures["equality"]:
        for row in table["rows"]:
            sheet.append(
                safe_cells(
                    sheet, [f"Equality: {table['title']}", row["label"]] + [row["values"][c]["count"] for c in COLUMNS]
                )
            )

    outcomes = book.create_sheet("Outcomes")
    outcomes.append(safe_cells(outcomes, ["pathway", "outcome", "claimed", "verified", "rejected"]))
    for row in figures["outcomes_by_type"]:
        outcomes.append(
            safe_cells(outcomes, [row["pathway_label"], row["label"], row["claimed"], row["verified"], row["rejected"]])
        )
    return book
