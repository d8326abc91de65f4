"""Rate cards as CSV: all-or-nothing imports whose errors name row and column, and exports that import back."""

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.contracts import service
from portal.contracts.models import OutcomeType, Pathway, RateCardItem, RateCardPrice, Unit
from portal.contracts.rate_card_csv import RateCardImportFailed, export_rate_card, import_rate_card
from portal.errors import NotAllowed
from portal.extensions import db
from tests.factories import ContractFactory

HEADER = (
    "code,service_code,name,pathway,setting,unit,outcome_type,max_units_per_referral,"
    "unit_price,effective_from,effective_to\n"
)

TTG_RATE_CARD = HEADER + (
    "ACC-TTG-REF,ACC-TTG,Through the Gate referral,accommodation,custody,per_referral,,1,150.00,2025-04-01,2026-03-31\n"
    "ACC-TTG-REF,ACC-TTG,Through the Gate referral,accommodation,custody,per_referral,,1,165.00,2026-04-01,\n"
    "ACC-TTG-NIGHT,ACC-TTG,Accommodation on the first night,accommodation,custody,per_outcome,"
    "accommodation_secured_first_night,1,400.00,2025-04-01,\n"
    "ACC-TTG-13WK,ACC-TTG,Accommodation sustained 13 weeks,accommodation,both,per_outcome,"
    "accommodation_sustained_13_weeks,1,600.00,2025-04-01,\n"
    "FBD-DEBT,FBD-ADVICE,Debt advice session,finance_benefit_debt,community,per_session,,6,45.50,2025-04-01,\n"
    "ETE-MENTOR,ETE-MENTOR,Peer mentoring,ete,community,per_hour,,,32.00,2025-04-01,\n"
    "WOM-GRANT,WOM-CENTRE,Women's centre grant,women_abuse,community,monthly_fixed,,,2500.00,2025-04-01,2027-03-31\n"
    "DV-RAR,DV-PROG,DV programme RAR day,attitudes_thinking_behaviour,community,per_rar_day,,20,85.00,2025-04-01,\n"
    "NEW-SVC,NEW-SVC,Service not yet priced,health,both,per_session,,,,,\n"
)


def errors_of(failure):
    return [(error.row, error.column) for error in failure.value.errors]


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_importing_a_rate_card_creates_items_prices_and_new_outcome_types(contract_manager, nacro_contract):
    summary = import_rate_card(contract_manager, nacro_contract, TTG_RATE_CARD.encode(), filename="ttg.csv")
    assert (summary.items_added, summary.prices_added) == (8, 8)
    assert sorted(summary.outcome_types_added) == [
        "accommodation_secured_first_night",
        "accommodation_sustained_13_weeks",
    ]
    night = db.session.scalars(select(RateCardItem).where(RateCardItem.code == "ACC-TTG-NIGHT")).one()
    assert night.unit == Unit.PER_OUTCOME
    assert night.outcome_type.pathway == Pathway.ACCOMMODATION
    referral = db.session.scalars(select(RateCardItem).where(RateCardItem.code == "ACC-TTG-REF")).one()
    assert [(p.unit_price_pence, p.effective_to) for p in referral.prices] == [
        (15000, referral.prices[0].effective_to),
        (16500, None),
    ]
    debt = db.session.scalars(select(RateCardItem).where(RateCardItem.code == "FBD-DEBT")).one()
    assert debt.prices[0].unit_price_pence == 4550
    assert debt.max_units_per_referral == 6
    imported = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rate_card.imported")).one()
    assert imported.details["filename"] == "ttg.csv"


def test_an_exported_rate_card_imports_back_unchanged(contract_manager, nacro_contract, st_giles_contract):
    import_rate_card(contract_manager, nacro_contract, TTG_RATE_CARD.encode())
    exported = export_rate_card(nacro_contract)

    again = import_rate_card(contract_manager, nacro_contract, exported.encode())
    assert not again.changed_anything
    assert again.items_unchanged == 8
    assert export_rate_card(nacro_contract) == exported

    import_rate_card(contract_manager, st_giles_contract, exported.encode())
    assert export_rate_card(st_giles_contract) == exported


def test_a_byte_order_mark_is_accepted(contract_manager, nacro_contract):
    import_rate_card(contract_manager, nacro_contract, b"\xef\xbb\xbf" + TTG_RATE_CARD.encode())
    assert count(RateCardItem) == 8


def test_every_bad_row_is_reported_by_row_and_column_and_nothing_is_saved(contract_manager, nacro_contract):
    bad = HEADER + (
        "GOOD-ONE,SVC,A good row,health,both,per_session,,,10.00,2026-04-01,\n"
        "BAD-PATH,SVC,Bad pathway,housing,both,per_session,,,10.00,2026-04-01,\n"
        "BAD-UNIT,SVC,Bad unit,health,both,per_week,,,10.00,2026-04-01,\n"
        "BAD-PRICE,SVC,Negative price,health,both,per_session,,,-5.00,2026-04-01,\n"
        "BAD-TEXT,SVC,Words for a price,health,both,per_session,,,ten pounds,2026-04-01,\n"
        "BAD-DATES,SVC,Ends before it starts,health,both,per_session,,,10.00,2026-04-01,2026-03-01\n"
        "NO-OUTCOME,SVC,Outcome without a type,health,both,per_outcome,,,10.00,2026-04-01,\n"
        "BAD-DAY,SVC,No such day,health,both,per_session,,,10.00,2026-02-30,\n"
        "BAD-MAX,SVC,Bad maximum,health,both,per_session,,0,10.00,2026-04-01,\n"
    )
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, bad.encode())
    assert errors_of(failure) == [
        (3, "pathway"),
        (4, "unit"),
        (5, "unit_price"),
        (6, "unit_price"),
        (7, "effective_to"),
        (8, "outcome_type"),
        (9, "effective_from"),
        (10, "max_units_per_referral"),
    ]
    messages = [str(error) for error in failure.value.errors]
    assert messages[0] == (
        "Row 3, column pathway: Unknown pathway 'housing': use one of accommodation, ete, health, "
        "drugs_alcohol, finance_benefit_debt, children_families, attitudes_thinking_behaviour, "
        "women_abuse, women_sex_work"
    )
    assert "cannot be negative" in messages[2]
    assert "needs an outcome type" in messages[5]
    assert count(RateCardItem) == 0 and count(RateCardPrice) == 0


def test_overlapping_prices_and_duplicate_codes_in_a_file_are_refused(contract_manager, nacro_contract):
    bad = HEADER + (
        "ONE,SVC,First,health,both,per_session,,,10.00,2026-04-01,2026-12-31\n"
        "ONE,SVC,First,health,both,per_session,,,12.00,2026-12-01,\n"
        "TWO,SVC,Second,health,both,per_session,,,10.00,2026-04-01,\n"
        "TWO,SVC,Second but different,health,both,per_session,,,11.00,2027-04-01,\n"
        "THREE,SVC,Third,health,both,per_session,,,10.00,2026-04-01,\n"
        "THREE,SVC,Third,health,both,per_session,,,11.00,2026-04-01,\n"
    )
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, bad.encode())
    found = {(error.row, error.column): error.message for error in failure.value.errors}
    assert "overlaps the price in row 2" in found[(3, "effective_from")]
    assert "described differently from row 4" in found[(5, "name")]
    assert "already has a price from 2026-04-01 in row 6" in found[(7, "effective_from")]
    assert count(RateCardItem) == 0


def test_outcome_type_only_on_per_outcome_items(contract_manager, nacro_contract):
    bad = HEADER + "ONE,SVC,First,health,both,per_session,entered_employment,,10.00,2026-04-01,\n"
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, bad.encode())
    assert errors_of(failure) == [(2, "outcome_type")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"   \n\n", "The file is empty"),
        (b"code,name\nA,B\n", "missing the column(s): service_code"),
        (HEADER.encode(), "no data rows"),
        (HEADER.replace("unit_price", "price").encode(), "unknown column(s): price"),
        ("Café,£".encode("latin-1"), "saved as UTF-8"),
        (b"PK\x03\x04\x00\x00binary spreadsheet", "not a spreadsheet"),
        ((HEADER + 'ONE,SVC,"unterminated,health\n').encode(), "not valid CSV"),
        ((HEADER + "ONE,SVC\n").encode(), "has 2 cells; the header has 11"),
    ],
)
def test_unusable_files_get_a_clear_message_and_nothing_is_saved(contract_manager, nacro_contract, content, message):
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, content)
    assert message in " ".join(str(error) for error in failure.value.errors)
    assert count(RateCardItem) == 0


def test_a_huge_file_is_refused_before_it_is_read(contract_manager, nacro_contract):
    huge = HEADER.encode() + b"x" * (50 * 1024 * 1024)
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, huge)
    assert "smaller than 1 MB" in str(failure.value.errors[0])


def test_reimporting_replaces_an_items_prices_with_the_files(contract_manager, nacro_contract):
    import_rate_card(contract_manager, nacro_contract, TTG_RATE_CARD.encode())
    changed = (
        HEADER
        + "ACC-TTG-REF,ACC-TTG,Through the Gate referral fee,accommodation,custody,per_referral,,1,170.00,2026-04-01,\n"
    )
    summary = import_rate_card(contract_manager, nacro_contract, changed.encode())
    assert (summary.items_updated, summary.prices_changed, summary.prices_removed) == (1, 1, 1)
    assert summary.items_added == 0
    referral = db.session.scalars(select(RateCardItem).where(RateCardItem.code == "ACC-TTG-REF")).one()
    assert referral.name == "Through the Gate referral fee"
    assert [p.unit_price_pence for p in referral.prices] == [17000]
    assert count(RateCardItem) == 8  # items the file does not name are left as they are


def test_a_price_used_on_a_submitted_invoice_must_stay_in_the_file(contract_manager, nacro_contract, monkeypatch):
    import_rate_card(contract_manager, nacro_contract, TTG_RATE_CARD.encode())
    locked = db.session.scalars(select(RateCardPrice).where(RateCardPrice.unit_price_pence == 15000)).one()
    monkeypatch.setattr(service, "price_usage_checks", [lambda price: price.id == locked.id])
    dropped = (
        HEADER
        + "ACC-TTG-REF,ACC-TTG,Through the Gate referral,accommodation,custody,per_referral,,1,165.00,2026-04-01,\n"
    )
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, dropped.encode())
    assert "has been used on a submitted invoice" in str(failure.value.errors[0])
    repriced = TTG_RATE_CARD.replace("1,150.00,2025-04-01", "1,155.00,2025-04-01")
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, repriced.encode())
    assert errors_of(failure) == [(2, "unit_price")]
    assert db.session.get(RateCardPrice, locked.id).unit_price_pence == 15000


def test_only_contract_managers_import(nacro_manager, nacro_contract):
    with pytest.raises(NotAllowed):
        import_rate_card(nacro_manager, nacro_contract, TTG_RATE_CARD.encode())


def test_an_ended_contract_takes_no_import(contract_manager, crc, nacro):
    from portal.contracts.models import ContractStatus

    ended = ContractFactory(crc=crc, partner=nacro, status=ContractStatus.ENDED)
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, ended, TTG_RATE_CARD.encode())
    assert "has ended" in str(failure.value.errors[0])


def test_existing_outcome_types_are_reused(contract_manager, nacro_contract):
    service.add_outcome_type(
        contract_manager,
        nacro_contract,
        code="accommodation_secured_first_night",
        name="First night",
        pathway="accommodation",
    )
    summary = import_rate_card(contract_manager, nacro_contract, TTG_RATE_CARD.encode())
    assert summary.outcome_types_added == ["accommodation_sustained_13_weeks"]
    assert count(OutcomeType) == 2


# --- the command line ----------------------------------------------------------------------------


def test_cli_imports_and_exports_a_rate_card(runner, nacro_contract, tmp_path):
    path = tmp_path / "ttg.csv"
    path.write_text(TTG_RATE_CARD, encoding="utf-8")
    result = runner.invoke(args=["rate-card", "import", "bench-acc-01", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported ttg.csv into BENCH-ACC-01: 8 item(s) added" in result.output
    exported = runner.invoke(args=["rate-card", "export", "BENCH-ACC-01"])
    assert exported.exit_code == 0
    path.write_text(exported.output, encoding="utf-8")
    again = runner.invoke(args=["rate-card", "import", "BENCH-ACC-01", str(path)])
    assert "0 item(s) added; 0 updated; 8 unchanged; 0 price(s) added; 0 changed; 0 removed" in again.output
    assert db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "rate_card.imported")).first()


def test_cli_import_failure_lists_every_error_and_exits_non_zero(runner, nacro_contract, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "ONE,SVC,First,housing,both,per_session,,,-1,2026-04-01,\n", encoding="utf-8")
    result = runner.invoke(args=["rate-card", "import", "BENCH-ACC-01", str(path)])
    assert result.exit_code == 1
    assert "Nothing was saved" in result.output
    assert "Row 2, column pathway" in result.output
    assert "Row 2, column unit_price" in result.output


def test_cli_names_an_unknown_contract(runner, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(TTG_RATE_CARD, encoding="utf-8")
    result = runner.invoke(args=["rate-card", "export", "NOPE-01"])
    assert result.exit_code == 1
    assert "no contract has the reference 'NOPE-01'" in result.output


# --- outcome rules in the file ------------------------------------------------------------------------

RULE_HEADER = HEADER.rstrip("\n") + (
    ",session_kinds,outcome_from,outcome_earliest_days,outcome_latest_days,outcome_max_per_referral,"
    "outcome_evidence_required\n"
)
RULED_CARD = RULE_HEADER + (
    "ACC-TTG-NIGHT,ACC-TTG,Accommodation on the first night,accommodation,custody,per_outcome,"
    "accommodation_secured_first_night,1,400.00,2025-04-01,,,release,0,1,1,yes\n"
    "ACC-TTG-13WK,ACC-TTG,Accommodation sustained 13 weeks,accommodation,both,per_outcome,"
    "accommodation_sustained_13_weeks,1,600.00,2025-04-01,,,start,91,,1,yes\n"
    "FBD-DEBT,FBD-ADVICE,Debt advice session,finance_benefit_debt,community,per_session,,6,45.50,2025-04-01,,,,,,,\n"
)


def rule_of(code):
    outcome = db.session.scalars(select(OutcomeType).where(OutcomeType.code == code)).one()
    return (
        outcome.outcome_from and outcome.outcome_from.value,
        outcome.outcome_earliest_days,
        outcome.outcome_latest_days,
        outcome.max_per_referral,
        outcome.evidence_required,
    )


def test_a_rate_card_file_sets_each_outcome_types_rule_and_exports_it_back(contract_manager, nacro_contract):
    import_rate_card(contract_manager, nacro_contract, RULED_CARD.encode())
    assert rule_of("accommodation_sustained_13_weeks") == ("start", 91, None, 1, True)
    assert rule_of("accommodation_secured_first_night") == ("release", 0, 1, 1, True)
    exported = export_rate_card(nacro_contract)
    assert "accommodation_sustained_13_weeks,1,600.00,2025-04-01,,,start,91,,1,yes" in exported
    again = import_rate_card(contract_manager, nacro_contract, exported.encode())
    assert not again.changed_anything and export_rate_card(nacro_contract) == exported
    # A changed rule is an audited change of the outcome type.
    changed = import_rate_card(contract_manager, nacro_contract, exported.replace(",start,91,", ",start,84,").encode())
    assert changed.outcome_rules_changed == ["accommodation_sustained_13_weeks"]
    assert rule_of("accommodation_sustained_13_weeks")[1] == 84
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "outcome_type.updated")).one()
    assert audit.details["changes"]["outcome_earliest_days"] == {"before": 91, "after": 84}


def test_a_file_without_the_rule_columns_leaves_the_rules_alone(contract_manager, nacro_contract):
    import_rate_card(contract_manager, nacro_contract, RULED_CARD.encode())
    import_rate_card(contract_manager, nacro_contract, TTG_RATE_CARD.encode())
    assert rule_of("accommodation_sustained_13_weeks") == ("start", 91, None, 1, True)


def test_bad_rules_are_named_by_row_and_column_and_nothing_is_saved(contract_manager, nacro_contract):
    bad = RULE_HEADER + (
        "ACC-TTG-NIGHT,ACC-TTG,First night,accommodation,custody,per_outcome,"
        "accommodation_secured_first_night,1,400.00,2025-04-01,,,gate,0,1,1,yes\n"
        "ACC-TTG-13WK,ACC-TTG,13 weeks,accommodation,both,per_outcome,"
        "accommodation_sustained_13_weeks,1,600.00,2025-04-01,,,start,91,90,0,maybe\n"
        "FBD-DEBT,FBD-ADVICE,Debt advice,finance_benefit_debt,community,per_session,,6,45.50,2025-04-01,,,start,,,,\n"
        "ACC-TTG-13WK-B,ACC-TTG,13 weeks (second item),accommodation,both,per_outcome,"
        "accommodation_sustained_13_weeks,1,600.00,2025-04-01,,,release,91,,1,yes\n"
    )
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, bad.encode())
    assert errors_of(failure) == [
        (2, "outcome_from"),
        (3, "outcome_latest_days"),
        (3, "outcome_max_per_referral"),
        (3, "outcome_evidence_required"),
        (4, "outcome_from"),
    ]
    assert count(RateCardItem) == 0 and count(OutcomeType) == 0
    messages = [str(error) for error in failure.value.errors]
    assert "Row 2, column outcome_from: Unknown outcome from 'gate': use acceptance, start or release" in messages
    assert "Row 4, column outcome_from: Only per_outcome items have an outcome rule: leave it empty" in messages
    # Two items pricing one outcome type must give it one rule.
    fixed = (
        bad.replace(",gate,", ",release,")
        .replace(",91,90,0,maybe", ",91,,1,yes")
        .replace("2025-04-01,,,start,,,,", "2025-04-01,,,,,,,")
    )
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, fixed.encode())
    assert [str(error) for error in failure.value.errors] == [
        "Row 5, column outcome_from: Outcome type accommodation_sustained_13_weeks has a different rule in row 3: "
        "an outcome type has one rule, so give both items' rows the same"
    ]
