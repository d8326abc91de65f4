"""Rate cards as CSV: export, and all-or-nothing import with every error named by row and column.

One row per price period of an item (an item with no prices has one row with the price
columns empty). Rows are numbered as a spreadsheet shows them: the header is row 1.
Importing makes the contract's rate card match the file for every item the file names:
items are added or updated, and each item's prices become exactly the file's price rows.
Items the file does not name are left as they are. A file exported from the portal imports
back with no changes.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from portal import access
from portal.audit.service import changes, record_event, snapshot
from portal.contracts.measures import SESSION_KINDS, Period, PricedItem, clean_kinds, double_billing, priced_item
from portal.contracts.models import (
    SESSION_UNITS,
    Contract,
    ContractStatus,
    OutcomeFrom,
    OutcomeType,
    Pathway,
    RateCardItem,
    RateCardPrice,
    Setting,
    Unit,
)
from portal.contracts.pricing import find_overlaps
from portal.contracts.service import (
    ITEM_CODE,
    ITEM_FIELDS,
    OUTCOME_CODE,
    PRICE_FIELDS,
    price_is_locked,
)
from portal.csv_files import FileRejected, RowError, SafeCsvWriter, read_csv, sort_errors
from portal.extensions import db
from portal.money import NotAnAmount, parse_pounds, pounds

COLUMNS = (
    "code",
    "service_code",
    "name",
    "pathway",
    "setting",
    "unit",
    "outcome_type",
    "max_units_per_referral",
    "unit_price",
    "effective_from",
    "effective_to",
    "session_kinds",
    # The rule of a per_outcome item's outcome type (portal.delivery.outcome_rules): counted from
    # acceptance, start (first contact) or release; the earliest and latest day after it; at most how
    # many a referral may have; whether a claim needs an evidence file (yes or no).
    "outcome_from",
    "outcome_earliest_days",
    "outcome_latest_days",
    "outcome_max_per_referral",
    "outcome_evidence_required",
)
# The eleven columns of the first rate-card files: a file needs them all; later columns are optional.
REQUIRED_COLUMNS = COLUMNS[:11]
RULE_COLUMNS = COLUMNS[12:]
ITEM_COLUMNS = (*COLUMNS[:8], "session_kinds", *RULE_COLUMNS)
# The rule's columns and the outcome type's fields they set.
RULE_FIELDS = {
    "outcome_from": "outcome_from",
    "outcome_earliest_days": "outcome_earliest_days",
    "outcome_latest_days": "outcome_latest_days",
    "outcome_max_per_referral": "max_per_referral",
    "outcome_evidence_required": "evidence_required",
}
MAX_RULE_DAYS = 3650
MAX_BYTES = 1_000_000
MAX_ROWS = 5_000
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PRICE = re.compile(r"^\d+(\.\d{1,2})?$")


# The rate card's own name for a rejected file, kept for readers of this module.
RateCardImportFailed = FileRejected


@dataclass
class ImportSummary:
    items_added: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    prices_added: int = 0
    prices_changed: int = 0
    prices_removed: int = 0
    outcome_types_added: list[str] = field(default_factory=list)
    outcome_rules_changed: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.items_added
            or self.items_updated
            or self.prices_added
            or self.prices_changed
            or self.prices_removed
            or self.outcome_types_added
            or self.outcome_rules_changed
        )

    def describe(self) -> str:
        parts = [
            f"{self.items_added} item(s) added",
            f"{self.items_updated} updated",
            f"{self.items_unchanged} unchanged",
            f"{self.prices_added} price(s) added",
            f"{self.prices_changed} changed",
            f"{self.prices_removed} removed",
        ]
        if self.outcome_types_added:
            parts.append(f"outcome types added: {', '.join(self.outcome_types_added)}")
        if self.outcome_rules_changed:
            parts.append(f"outcome rules changed: {', '.join(self.outcome_rules_changed)}")
        return "; ".join(parts)


@dataclass
class ParsedRow:
    row: int
    item: dict[str, Any]  # code, service_code, name, pathway, setting, unit, outcome_type, max_units_per_referral,
    # session_kinds (a tuple)
    price: dict[str, Any] | None  # unit_price_pence, effective_from, effective_to


# --- export ------------------------------------------------------------------------------------


def export_rate_card(contract: Contract) -> str:
    """The contract's rate card as CSV text (UTF-8, header row, one row per price)."""
    items = db.session.scalars(
        select(RateCardItem).where(RateCardItem.contract_id == contract.id).order_by(RateCardItem.code)
    ).all()
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    writer.writerow(COLUMNS)
    for item in items:
        item_cells = [
            item.code,
            item.service_code,
            item.name,
            item.pathway.value,
            item.setting.value,
            item.unit.value,
            item.outcome_type.code if item.outcome_type else "",
            "" if item.max_units_per_referral is None else str(item.max_units_per_referral),
        ]
        later_cells = ["|".join(item.session_kinds), *_rule_cells(item.outcome_type)]
        if not item.prices:
            writer.writerow([*item_cells, "", "", "", *later_cells])
        for price in item.prices:
            writer.writerow(
                [
                    *item_cells,
                    pounds(price.unit_price_pence),
                    price.effective_from.isoformat(),
                    price.effective_to.isoformat() if price.effective_to else "",
                    *later_cells,
                ]
            )
    return buffer.getvalue()


def _rule_cells(outcome_type: OutcomeType | None) -> list[str]:
    if outcome_type is None:
        return [""] * len(RULE_COLUMNS)
    return [
        outcome_type.outcome_from.value if outcome_type.outcome_from else "acceptance",
        str(outcome_type.outcome_earliest_days or 0),
        "" if outcome_type.outcome_latest_days is None else str(outcome_type.outcome_latest_days),
        "" if outcome_type.max_per_referral is None else str(outcome_type.max_per_referral),
        "yes" if outcome_type.evidence_required else "no",
    ]


# --- reading a file ------------------------------------------------------------------------------


def read_rate_card(data: bytes) -> list[ParsedRow]:
    """Parse and check a file on its own (no database). Raises RateCardImportFailed listing
    every problem found."""
    rows = read_csv(
        data, COLUMNS, max_bytes=MAX_BYTES, max_rows=MAX_ROWS, required_columns=REQUIRED_COLUMNS, what="rate card"
    )
    errors: list[RowError] = []
    # A file without the rule's columns (made before them) leaves the outcome types' rules alone.
    with_rules = bool(set(RULE_COLUMNS) & set(_header(data)))
    parsed = [
        row for row in (_parse_row(csv_row.number, csv_row.values, errors, with_rules) for csv_row in rows) if row
    ]
    errors.extend(_check_consistency(parsed))
    if errors:
        raise RateCardImportFailed(sort_errors(errors, COLUMNS), "rate card")
    return parsed


def _choice(value: str, enum: type, row: int, column: str, errors: list[RowError]) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        shown = f"'{value}'" if value else "nothing"
        errors.append(RowError(row, column, f"Unknown {column.replace('_', ' ')} {shown}: use one of {allowed}"))
        return None


def _parse_date(value: str, row: int, column: str, errors: list[RowError]) -> date | None:
    if not ISO_DATE.match(value):
        errors.append(RowError(row, column, f"'{value}' is not a date in the form YYYY-MM-DD"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(RowError(row, column, f"'{value}' is not a real date"))
        return None


def _header(data: bytes) -> list[str]:
    first = data.decode("utf-8-sig", errors="replace").splitlines()[:1]
    return [cell.strip().lower() for cell in next(csv.reader(first), [])] if first else []


def _parse_rule(row: int, values: dict[str, str], item: dict[str, Any], errors: list[RowError]) -> None:
    """The outcome rule's cells of a row: a per_outcome item's type's rule, empty on any other item."""
    given = {column: values[column] for column in RULE_COLUMNS}
    if item["unit"] is None:  # its unit is wrong, which says enough
        item.update(dict.fromkeys(RULE_COLUMNS))
        return
    if item["unit"] != Unit.PER_OUTCOME:
        for column, value in given.items():
            if value:
                errors.append(RowError(row, column, "Only per_outcome items have an outcome rule: leave it empty"))
        item.update(dict.fromkeys(RULE_COLUMNS))
        return
    source = given["outcome_from"].lower()
    if source in ("", "acceptance"):
        item["outcome_from"] = None
    else:
        item["outcome_from"] = _choice(source, OutcomeFrom, row, "outcome_from", errors)
        if item["outcome_from"] is None:
            errors[-1] = RowError(
                row, "outcome_from", f"Unknown outcome from '{source}': use acceptance, start or release"
            )
    for column, lowest in (("outcome_earliest_days", 0), ("outcome_latest_days", 0), ("outcome_max_per_referral", 1)):
        text = given[column]
        item[column] = None
        if text:
            if not (text.isascii() and text.isdigit()) or not lowest <= int(text) <= MAX_RULE_DAYS:
                errors.append(RowError(row, column, f"'{text}' is not a whole number from {lowest} to {MAX_RULE_DAYS}"))
            else:
                item[column] = int(text)
    item["outcome_earliest_days"] = item["outcome_earliest_days"] or 0
    if item["outcome_latest_days"] is not None and item["outcome_latest_days"] < item["outcome_earliest_days"]:
        errors.append(
            RowError(row, "outcome_latest_days", "The latest day must be the same as the earliest day or after it")
        )
    evidence = given["outcome_evidence_required"].lower()
    if evidence not in ("", "yes", "no"):
        errors.append(RowError(row, "outcome_evidence_required", f"'{evidence}' is not yes or no"))
    item["outcome_evidence_required"] = evidence == "yes"


def _parse_row(row: int, values: dict[str, str], errors: list[RowError], with_rules: bool = False) -> ParsedRow | None:
    start = len(errors)
    item: dict[str, Any] = {}
    for column, example in (("code", "ACC-TTG-REF"), ("service_code", "ACC-TTG")):
        value = values[column].upper()
        if not ITEM_CODE.match(value):
            errors.append(RowError(row, column, f"Enter 2 to 40 capital letters, numbers and hyphens, like {example}"))
        item[column] = value
    item["name"] = values["name"]
    if not item["name"]:
        errors.append(RowError(row, "name", "Enter the service's name"))
    elif len(item["name"]) > 200:
        errors.append(RowError(row, "name", "The name must be 200 characters or fewer"))
    item["pathway"] = _choice(values["pathway"], Pathway, row, "pathway", errors)
    item["setting"] = _choice(values["setting"], Setting, row, "setting", errors)
    item["unit"] = _choice(values["unit"], Unit, row, "unit", errors)

    outcome_type = values["outcome_type"].lower()
    if item["unit"] == Unit.PER_OUTCOME:
        if not outcome_type:
            errors.append(RowError(row, "outcome_type", "An item billed per_outcome needs an outcome type"))
        elif not OUTCOME_CODE.match(outcome_type):
            errors.append(
                RowError(
                    row, "outcome_type", "Use lower-case letters, numbers and underscores, like entered_employment"
                )
            )
    elif outcome_type and item["unit"] is not None:
        errors.append(RowError(row, "outcome_type", "Only per_outcome items have an outcome type: leave it empty"))
    item["outcome_type"] = outcome_type or None

    maximum = values["max_units_per_referral"]
    item["max_units_per_referral"] = None
    if maximum:
        if not maximum.isdigit() or int(maximum) < 1:
            errors.append(RowError(row, "max_units_per_referral", f"'{maximum}' is not a whole number of 1 or more"))
        elif item["unit"] == Unit.MONTHLY_FIXED:
            errors.append(
                RowError(
                    row,
                    "max_units_per_referral",
                    "A monthly_fixed item belongs to the contract, not to referrals: leave it empty",
                )
            )
        else:
            item["max_units_per_referral"] = int(maximum)

    kinds, unknown = clean_kinds(re.split(r"[|,;]", values["session_kinds"]))
    item["session_kinds"] = tuple(kinds)
    if unknown:
        errors.append(
            RowError(
                row,
                "session_kinds",
                f"Unknown session kind {', '.join(unknown)}: use {', '.join(SESSION_KINDS)}, joined by |"
                " (or leave it empty for every kind)",
            )
        )
    elif kinds and item["unit"] is not None and item["unit"] not in SESSION_UNITS:
        errors.append(
            RowError(
                row,
                "session_kinds",
                "Only per_session, per_hour and per_rar_day items price session kinds: leave it empty",
            )
        )

    if with_rules:
        _parse_rule(row, values, item, errors)
    else:
        item.update(dict.fromkeys(RULE_COLUMNS))
    item["rule_given"] = with_rules and item["unit"] == Unit.PER_OUTCOME

    price = None
    amount, start_text, end_text = values["unit_price"], values["effective_from"], values["effective_to"]
    if amount or start_text or end_text:
        price = {"unit_price_pence": None, "effective_from": None, "effective_to": None}
        if not amount:
            errors.append(RowError(row, "unit_price", "Enter the unit price in pounds, like 125.00"))
        elif amount.startswith("-"):
            errors.append(RowError(row, "unit_price", f"The unit price cannot be negative ({amount})"))
        elif not PRICE.match(amount):
            errors.append(RowError(row, "unit_price", f"'{amount}' is not a price in pounds, like 125.00"))
        else:
            try:
                price["unit_price_pence"] = parse_pounds(amount)
            except NotAnAmount:
                errors.append(RowError(row, "unit_price", f"'{amount}' is not a price in pounds, like 125.00"))
        if not start_text:
            errors.append(RowError(row, "effective_from", "Enter the date the price applies from (YYYY-MM-DD)"))
        else:
            price["effective_from"] = _parse_date(start_text, row, "effective_from", errors)
        if end_text:
            price["effective_to"] = _parse_date(end_text, row, "effective_to", errors)
            if price["effective_from"] and price["effective_to"] and price["effective_to"] < price["effective_from"]:
                errors.append(RowError(row, "effective_to", "The price must end on or after the day it starts"))
    if len(errors) > start:
        return None
    return ParsedRow(row=row, item=item, price=price)


def _check_consistency(rows: list[ParsedRow]) -> list[RowError]:
    """Across rows: one description per code, no duplicate or overlapping price periods."""
    errors: list[RowError] = []
    by_code: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        by_code[row.item["code"]].append(row)
    for code, group in by_code.items():
        first = group[0]
        for row in group[1:]:
            different = [column for column in ITEM_COLUMNS if row.item[column] != first.item[column]]
            if different:
                errors.append(
                    RowError(
                        row.row,
                        different[0],
                        f"Item {code} is described differently from row "
                        f"{first.row} ({', '.join(different)}). Each code is "
                        "one item: give its rows the same details",
                    )
                )
        priced = [row for row in group if row.price is not None]
        if priced and len(priced) != len(group):
            for row in group:
                if row.price is None:
                    errors.append(
                        RowError(
                            row.row,
                            "unit_price",
                            f"Item {code} has prices in other rows: give this row a price or remove it",
                        )
                    )
        if len([row for row in group if row.price is None]) > 1:
            errors.append(RowError(group[1].row, "code", f"Item {code} appears more than once without a price"))
        seen: dict[date, int] = {}
        distinct = []
        for row in priced:
            start = row.price["effective_from"]
            if start in seen:
                errors.append(
                    RowError(
                        row.row,
                        "effective_from",
                        f"Item {code} already has a price from {start.isoformat()} in row {seen[start]}",
                    )
                )
                continue
            seen[start] = row.row
            distinct.append(row)
        periods = [_Period(row) for row in distinct]
        for overlap in find_overlaps(periods):
            errors.append(
                RowError(
                    overlap.second.row,
                    "effective_from",
                    f"This price of item {code} overlaps the price in row {overlap.first.row}",
                )
            )
    errors.extend(_one_rule_per_outcome_type(by_code))
    return errors


def _one_rule_per_outcome_type(by_code: dict[str, list[ParsedRow]]) -> list[RowError]:
    """Two items pricing one outcome type give it one rule (the rule is the type's, not the item's)."""
    errors: list[RowError] = []
    first_of: dict[str, ParsedRow] = {}
    for group in by_code.values():
        row = group[0]
        if not row.item.get("rule_given") or not row.item["outcome_type"]:
            continue
        first = first_of.setdefault(row.item["outcome_type"], row)
        different = [column for column in RULE_COLUMNS if row.item[column] != first.item[column]]
        if first is not row and different:
            errors.append(
                RowError(
                    row.row,
                    different[0],
                    f"Outcome type {row.item['outcome_type']} has a different rule in row {first.row}: "
                    "an outcome type has one rule, so give both items' rows the same",
                )
            )
    return errors


@dataclass(frozen=True)
class _Period:
    source: ParsedRow

    @property
    def row(self) -> int:
        return self.source.row

    @property
    def unit_price_pence(self) -> int:
        return self.source.price["unit_price_pence"]

    @property
    def effective_from(self) -> date:
        return self.source.price["effective_from"]

    @property
    def effective_to(self) -> date | None:
        return self.source.price["effective_to"]


# --- importing into a contract --------------------------------------------------------------------


def import_rate_card(actor: Any, contract: Contract, data: bytes, *, filename: str | None = None) -> ImportSummary:
    """Make the contract's rate card match the file, all or nothing. `actor` None: the CLI."""
    if actor is not None:  # None: an operator at the command line
        access.require(actor, "manage", contract)
    if contract.status == ContractStatus.ENDED:
        raise RateCardImportFailed(
            [RowError(None, None, "This contract has ended and can no longer be changed")], "rate card"
        )
    rows = read_rate_card(data)

    existing_items = {
        item.code: item
        for item in db.session.scalars(select(RateCardItem).where(RateCardItem.contract_id == contract.id)).all()
    }
    outcome_types = {
        outcome.code: outcome
        for outcome in db.session.scalars(select(OutcomeType).where(OutcomeType.contract_id == contract.id)).all()
    }

    by_code: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        by_code[row.item["code"]].append(row)

    errors = _check_locked_prices(by_code, existing_items) + _check_double_billing(by_code, existing_items)
    if errors:
        raise RateCardImportFailed(errors, "rate card")

    summary = ImportSummary()
    try:
        for code, group in by_code.items():
            described = group[0].item
            outcome_type = None
            if described["outcome_type"]:
                outcome_type = outcome_types.get(described["outcome_type"])
                if outcome_type is None:
                    outcome_type = OutcomeType(
                        contract_id=contract.id,
                        code=described["outcome_type"],
                        name=described["outcome_type"].replace("_", " ").capitalize(),
                        pathway=described["pathway"],
                        active=True,
                    )
                    db.session.add(outcome_type)
                    db.session.flush()
                    outcome_types[outcome_type.code] = outcome_type
                    summary.outcome_types_added.append(outcome_type.code)
                    if described["rule_given"]:
                        _apply_rule(outcome_type, described)
                    record_event(
                        "outcome_type.created",
                        actor=actor,
                        record=outcome_type,
                        details={
                            "contract": contract.reference,
                            "via": "rate card import",
                            **snapshot(outcome_type, ("code", "name", "pathway")),
                        },
                    )
                elif described["rule_given"]:
                    before = snapshot(outcome_type, tuple(RULE_FIELDS.values()))
                    _apply_rule(outcome_type, described)
                    difference = changes(before, snapshot(outcome_type, tuple(RULE_FIELDS.values())))
                    if difference:
                        summary.outcome_rules_changed.append(outcome_type.code)
                        record_event(
                            "outcome_type.updated",
                            actor=actor,
                            record=outcome_type,
                            details={"contract": contract.reference, "via": "rate card import", "changes": difference},
                        )
            fields = {
                "session_kinds": list(described["session_kinds"]),
                "code": code,
                "service_code": described["service_code"],
                "name": described["name"],
                "pathway": described["pathway"],
                "setting": described["setting"],
                "unit": described["unit"],
                "outcome_type_id": outcome_type.id if outcome_type else None,
                "max_units_per_referral": described["max_units_per_referral"],
            }
            item = existing_items.get(code)
            if item is None:
                item = RateCardItem(contract_id=contract.id, active=True, **fields)
                db.session.add(item)
                db.session.flush()
                summary.items_added += 1
                record_event(
                    "rate_card_item.created",
                    actor=actor,
                    record=item,
                    details={"contract": contract.reference, "via": "rate card import", **snapshot(item, ITEM_FIELDS)},
                )
            else:
                before = snapshot(item, ITEM_FIELDS)
                for key, value in fields.items():
                    setattr(item, key, value)
                difference = changes(before, snapshot(item, ITEM_FIELDS))
                if difference:
                    summary.items_updated += 1
                    record_event(
                        "rate_card_item.updated",
                        actor=actor,
                        record=item,
                        details={
                            "contract": contract.reference,
                            "code": code,
                            "via": "rate card import",
                            "changes": difference,
                        },
                    )
                else:
                    summary.items_unchanged += 1
            _sync_prices(actor, contract, item, [row.price for row in group if row.price], summary)
        record_event(
            "rate_card.imported",
            actor=actor,
            record=contract,
            details={"filename": filename, "rows": len(rows), "summary": summary.describe()},
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def _apply_rule(outcome_type: OutcomeType, described: dict[str, Any]) -> None:
    for column, attribute in RULE_FIELDS.items():
        setattr(outcome_type, attribute, described[column])


def _check_double_billing(
    by_code: dict[str, list[ParsedRow]], existing_items: dict[str, RateCardItem]
) -> list[RowError]:
    """The rate card the file would leave (its items, and those it does not name) must not bill one
    session twice by one measure: each clash names both items and their rows."""
    card = [priced_item(item) for code, item in existing_items.items() if code not in by_code]
    for code, group in by_code.items():
        described = group[0].item
        card.append(
            PricedItem(
                code=code,
                service_code=described["service_code"],
                unit=described["unit"],
                session_kinds=described["session_kinds"],
                periods=tuple(
                    Period(row.price["effective_from"], row.price["effective_to"], row.row)
                    for row in group
                    if row.price is not None
                ),
            )
        )

    def where(item: PricedItem, period: Period) -> str:
        if period.row is None:
            return f"item {item.code} (on the rate card, not in this file)"
        return f"item {item.code} (row {period.row})"

    errors = []
    for clash in double_billing(card):
        first, second = where(clash.first, clash.first_period), where(clash.second, clash.second_period)
        row = clash.second_period.row or clash.first_period.row
        errors.append(RowError(row, "session_kinds", f"{first[0].upper()}{first[1:]} and {second}: {clash.what}"))
    return errors


def _check_locked_prices(
    by_code: dict[str, list[ParsedRow]], existing_items: dict[str, RateCardItem]
) -> list[RowError]:
    """A price used on a submitted invoice must stay in the file as it is (its end date may be brought forward)."""
    errors = []
    for code, group in by_code.items():
        item = existing_items.get(code)
        if item is None:
            continue
        wanted = {row.price["effective_from"]: row for row in group if row.price}
        for price in item.prices:
            if not price_is_locked(price):
                continue
            row = wanted.get(price.effective_from)
            if row is None:
                errors.append(
                    RowError(
                        None,
                        None,
                        f"Item {code}: the price from {price.effective_from.isoformat()} "
                        "has been used on a submitted invoice, so it must stay in the file "
                        "(end it instead of removing it)",
                    )
                )
            elif row.price["unit_price_pence"] != price.unit_price_pence:
                errors.append(
                    RowError(
                        row.row,
                        "unit_price",
                        "This price has been used on a submitted invoice, so "
                        "it cannot change: end it and add a new price row",
                    )
                )
            elif price.effective_to is not None and (
                row.price["effective_to"] is None or row.price["effective_to"] > price.effective_to
            ):
                errors.append(
                    RowError(
                        row.row,
                        "effective_to",
                        "This price has been used on a submitted invoice: its end date can only be brought forward",
                    )
                )
    return errors


def _sync_prices(
    actor: Any, contract: Contract, item: RateCardItem, wanted: list[dict[str, Any]], summary: ImportSummary
) -> None:
    current = {price.effective_from: price for price in item.prices}
    wanted_by_start = {price["effective_from"]: price for price in wanted}
    for start, price in current.items():
        if start not in wanted_by_start:
            record_event(
                "rate_card_price.deleted",
                actor=actor,
                record=price,
                details={
                    "contract": contract.reference,
                    "item": item.code,
                    "via": "rate card import",
                    **snapshot(price, PRICE_FIELDS),
                },
            )
            db.session.delete(price)
            summary.prices_removed += 1
    db.session.flush()
    for start, values in wanted_by_start.items():
        price = current.get(start)
        if price is None:
            price = RateCardPrice(item_id=item.id, **values)
            db.session.add(price)
            db.session.flush()
            summary.prices_added += 1
            record_event(
                "rate_card_price.created",
                actor=actor,
                record=price,
                details={
                    "contract": contract.reference,
                    "item": item.code,
                    "via": "rate card import",
                    **snapshot(price, PRICE_FIELDS),
                },
            )
            continue
        before = snapshot(price, PRICE_FIELDS)
        price.unit_price_pence = values["unit_price_pence"]
        price.effective_to = values["effective_to"]
        difference = changes(before, snapshot(price, PRICE_FIELDS))
        if difference:
            summary.prices_changed += 1
            record_event(
                "rate_card_price.updated",
                actor=actor,
                record=price,
                details={
                    "contract": contract.reference,
                    "item": item.code,
                    "via": "rate card import",
                    "changes": difference,
                },
            )
    db.session.flush()
    db.session.expire(item, ["prices"])
