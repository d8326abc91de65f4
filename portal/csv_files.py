"""Reading uploaded CSV files the same way everywhere: UTF-8 (a BOM is fine), a header row,
rows numbered as a spreadsheet shows them (the header is row 1), problems named by row and
column, and nothing used unless the whole file is right. Writing them safely: no cell a
spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from portal.errors import DomainError


@dataclass(frozen=True)
class RowError:
    row: int | None  # None: about the file as a whole
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"Row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class FileRejected(DomainError):
    """The file, or some of its rows, cannot be used. `errors` lists every problem found."""

    message = "The file was not imported"

    def __init__(self, errors: list[RowError], what: str = "file") -> None:
        super().__init__(f"The {what} was not imported: {len(errors)} problem(s) found")
        self.errors = errors


@dataclass(frozen=True)
class CsvRow:
    number: int  # the spreadsheet's row number
    values: dict[str, str]  # stripped cell text by column name


def read_csv(
    data: bytes,
    columns: Sequence[str],
    *,
    max_bytes: int,
    max_rows: int,
    required_columns: Sequence[str] | None = None,
    what: str = "file",
) -> list[CsvRow]:
    """The file's data rows, or FileRejected naming what is wrong with the file itself.

    Every column in `required_columns` (default: all of `columns`) must be in the header, and
    no column outside `columns` may be. Blank lines are skipped.
    """
    required = list(required_columns if required_columns is not None else columns)
    if len(data) > max_bytes:
        size = f"{max_bytes // 1_000_000} MB" if max_bytes >= 1_000_000 else f"{max_bytes // 1000} KB"
        raise FileRejected([RowError(None, None, f"The file must be smaller than {size}")], what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRejected([RowError(None, None, "The file must be a CSV file saved as UTF-8 text")], what) from None
    if not text.strip():
        raise FileRejected([RowError(None, None, "The file is empty")], what)
    if "\x00" in text:
        raise FileRejected(
            [RowError(None, None, "The file must be a CSV file, not a spreadsheet or other document")], what
        )

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    raw_rows: list[list[str]] = []
    try:
        header = [cell.strip().lower() for cell in next(reader)]
        for cells in reader:
            raw_rows.append(cells)
            if len(raw_rows) > max_rows:
                raise FileRejected([RowError(None, None, f"The file has more than {max_rows} rows")], what)
    except csv.Error as error:
        raise FileRejected([RowError(reader.line_num, None, f"The file is not valid CSV: {error}")], what) from None

    problems = []
    missing = [column for column in required if column not in header]
    unknown = [column for column in header if column not in columns]
    if missing:
        problems.append(RowError(1, None, f"The header row is missing the column(s): {', '.join(missing)}"))
    if unknown:
        problems.append(
            RowError(
                1,
                None,
                f"The header row has unknown column(s): {', '.join(unknown)}. The columns are: {','.join(columns)}",
            )
        )
    if len(set(header)) != len(header):
        problems.append(RowError(1, None, "The header row names a column more than once"))
    if problems:
        raise FileRejected(problems, what)

    rows: list[CsvRow] = []
    errors: list[RowError] = []
    for number, cells in enumerate(raw_rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines at the end of a file are common and harmless
        if len(cells) != len(header):
            errors.append(RowError(number, None, f"The row has {len(cells)} cells; the header has {len(header)}"))
            continue
        values = dict.fromkeys(columns, "")
        values.update({column: cell.strip() for column, cell in zip(header, cells, strict=True)})
        rows.append(CsvRow(number, values))
    if not rows and not errors:
        errors.append(RowError(None, None, "The file has a header row but no data rows"))
    if errors:
        raise FileRejected(errors, what)
    return rows


def sort_errors(errors: list[RowError], columns: Sequence[str]) -> list[RowError]:
    """File-level problems first, then by row, then in column order."""
    return sorted(errors, key=lambda e: (e.row or 0, columns.index(e.column) if e.column in columns else -1))


# --- writing ------------------------------------------------------------------------------------
#
# Every CSV and XLSX the portal writes goes through here, so no export can carry a live formula:
# a cell of text people typed (a rate-card item's name, an outcome type, a narrative) that begins
# with =, +, -, @, a tab or a return is neutralised, as OWASP's CSV injection guidance asks.
# Numbers stay numbers: an int, a Decimal, a date, or text that is only a number ("-7.20").

# A cell a spreadsheet would read as a formula (or as the start of one, after a tab or return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?%?$")


def _is_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.match(text)


def spreadsheet_safe(value: object) -> str:
    """A CSV cell's text, with text that a spreadsheet would run as a formula ("=HYPERLINK(…)",
    "-2+3", "@SUM(…)") prefixed by an apostrophe, as OWASP advises. Numbers, dates and
    None are written as themselves: only text people typed can carry a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal | date):
        return value.isoformat() if isinstance(value, date) else str(value)
    text = str(value)
    return "'" + text if _is_formula(text) else text


class SafeCsvWriter:
    """csv.writer's writerow/writerows, each cell through spreadsheet_safe."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._writer = csv.writer(buffer, lineterminator="\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = False) -> str:
    """A CSV file (UTF-8 text, header row, \\n line ends) with every text cell spreadsheet-safe.
    `bom` starts it with a byte-order mark, so Excel reads it as UTF-8."""
    return "".join(csv_chunks(header, rows, bom=bom))


# A streamed file is sent in pieces of about this many characters: few enough writes to the socket,
# little enough held at once.
CHUNK = 64_000


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = False) -> Iterator[str]:
    """csv_text's file in pieces, written as `rows` yields them: memory stays that of one piece
    however many rows there are (give rows from `stream_rows`, not a list)."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = SafeCsvWriter(buffer)
    if header:
        writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def stream_rows(statement: Any, *, batch: int = 1000) -> Iterator[Any]:
    """The rows (or, for a select of one entity, the records) of `statement`, fetched `batch` at a
    time through a server-side cursor (yield_per), so an export of 200,000 referrals never holds
    them all. The statement must not eagerly join a collection (SQLAlchemy refuses yield_per then):
    load those with selectinload, which runs once a batch.

    On PostgreSQL the planner is told the whole result will be read: for a cursor it otherwise
    plans for the first tenth (cursor_tuple_fraction), choosing nested loops that start at once
    and finish late (the performance export of a national quarter took 7.7 s instead of 3.8 s).
    SET LOCAL ends with the transaction, so no other statement is planned this way."""
    from portal.extensions import db

    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    streamed = statement.execution_options(yield_per=batch)
    if len(statement.column_descriptions) == 1:
        yield from db.session.scalars(streamed)
    else:
        yield from db.session.execute(streamed)


def download_headers(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def csv_response(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    filename: str,
    *,
    bom: bool = False,
    content_type: str = "text/csv; charset=utf-8",
) -> Any:
    """A CSV download streamed as it is written (the request's database session stays open until
    the last row is sent)."""
    from flask import Response, stream_with_context

    return Response(
        stream_with_context(csv_chunks(header, rows, bom=bom)),
        content_type=content_type,
        headers=download_headers(filename),
    )


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(workbook: Any, filename: str) -> Any:
    """A write-only openpyxl workbook, saved to a temporary file (its rows went to disk as they were
    appended) and streamed from there; the file is gone once sent."""
    import tempfile

    from flask import Response

    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the generator once sent
    workbook.save(spool)
    size = spool.tell()
    spool.seek(0)

    def pieces() -> Iterator[bytes]:
        try:
            while piece := spool.read(CHUNK):
                yield piece
        finally:
            spool.close()

    response = Response(pieces(), mimetype=XLSX_TYPE, headers=download_headers(filename))
    response.headers["Content-Length"] = str(size)
    return response


def safe_cells(sheet: Any, row: Sequence[object], formats: Sequence[str | None] = (), *, bold: bool = False) -> list:
    """A row for a write-only sheet (`sheet.append`), with append_safe_row's rule: text a spreadsheet
    would run as a formula is a text cell with Excel's quote prefix. `formats`: a number format by
    column (None for none)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cells = []
    for index, value in enumerate(row):
        cell = WriteOnlyCell(sheet, value=None if isinstance(value, str) and _is_formula(value) else value)
        if isinstance(value, str) and _is_formula(value):
            cell._value = value  # past openpyxl's setter, which would make it a formula
            cell.data_type = "s"
            cell.quotePrefix = True
        number_format = formats[index] if index < len(formats) else None
        if number_format:
            cell.number_format = number_format
        if bold:
            cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def append_safe_row(sheet: Any, row: Sequence[object]) -> None:
    """openpyxl's sheet.append, except that text is always a text cell: openpyxl would store
    "=HYPERLINK(…)" as a live formula. Such text is kept as it was typed, marked with Excel's own
    quote prefix (what Excel does when someone types an apostrophe first), so it shows as text
    and stays text when the cell is edited."""
    sheet.append([None if isinstance(value, str) and _is_formula(value) else value for value in row])
    row_number = sheet.max_row
    for column, value in enumerate(row, start=1):
        if isinstance(value, str) and _is_formula(value):
            cell = sheet.cell(row=row_number, column=column)
            cell._value = value  # past openpyxl's setter, which would make it a formula
            cell.data_type = "s"
            cell.quotePrefix = True
