"""Rate-card items say which sessions they price (issue 15): the item form, the price form and the
CSV import refuse a rate card in which one session could be billed twice by one measure, naming
both items (and rows); files without the new column still import; the export writes it."""

from datetime import date

import pytest
from sqlalchemy import select

from portal.contracts import service
from portal.contracts.measures import SESSION_KINDS, Period, PricedItem, double_billing
from portal.contracts.models import RateCardItem, Unit
from portal.contracts.rate_card_csv import (
    COLUMNS,
    REQUIRED_COLUMNS,
    RateCardImportFailed,
    export_rate_card,
    import_rate_card,
)
from portal.delivery.models import SessionKind
from portal.errors import ValidationFailed
from portal.extensions import db
from tests.factories import RateCardItemFactory, RateCardPriceFactory
from tests.helpers import text_of

APRIL = date(2026, 4, 1)


def item_fields(**changes):
    return {
        "code": "DA-GROUP",
        "service_code": "DA-PROG",
        "name": "Group-work session",
        "pathway": "attitudes_thinking_behaviour",
        "setting": "community",
        "unit": "per_session",
        "session_kinds": ["group"],
    } | changes


def priced(contract, code, unit, kinds, *, service_code="DA-PROG", start=APRIL, end=None):
    item = RateCardItemFactory(
        contract=contract, code=code, service_code=service_code, unit=unit, session_kinds=list(kinds)
    )
    RateCardPriceFactory(item=item, unit_price_pence=8500, effective_from=start, effective_to=end)
    db.session.commit()
    db.session.expire(item, ["prices"])
    return item


def test_the_kinds_are_the_session_kinds_of_delivery():
    assert list(SESSION_KINDS) == [kind.value for kind in SessionKind]
    assert list(SESSION_KINDS.values()) == [kind.label for kind in SessionKind]


# --- the rule --------------------------------------------------------------------------------------


def rule_item(code, unit, kinds=(), service="S", periods=((APRIL, None),)):
    return PricedItem(code, service, unit, tuple(kinds), tuple(Period(*period) for period in periods))


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        (rule_item("A", Unit.PER_SESSION), rule_item("B", Unit.PER_HOUR), True),  # both every kind
        (rule_item("A", Unit.PER_SESSION, ["group"]), rule_item("B", Unit.PER_SESSION, ["one_to_one"]), False),
        (rule_item("A", Unit.PER_SESSION, ["group", "phone"]), rule_item("B", Unit.PER_HOUR, ["phone"]), True),
        (rule_item("A", Unit.PER_SESSION), rule_item("B", Unit.PER_RAR_DAY), False),  # a RAR-day fee stacks
        (rule_item("A", Unit.PER_RAR_DAY), rule_item("B", Unit.PER_RAR_DAY, ["video"]), True),
        # A RAR day is a day: two RAR-day prices of one service on one day clash whatever their kinds.
        (rule_item("A", Unit.PER_RAR_DAY, ["group"]), rule_item("B", Unit.PER_RAR_DAY, ["video"]), True),
        (rule_item("A", Unit.PER_SESSION), rule_item("B", Unit.PER_SESSION, service="T"), False),
        (rule_item("A", Unit.PER_SESSION), rule_item("B", Unit.PER_REFERRAL), False),
        (
            rule_item("A", Unit.PER_SESSION, periods=[(APRIL, date(2026, 6, 30))]),
            rule_item("B", Unit.PER_SESSION, periods=[(date(2026, 7, 1), None)]),
            False,  # one replaces the other
        ),
        (rule_item("A", Unit.PER_SESSION, periods=[]), rule_item("B", Unit.PER_SESSION), False),  # no price yet
    ],
)
def test_one_session_is_billed_at_most_once_per_measure(first, second, clash):
    assert bool(double_billing([first, second])) is clash


# --- the item and price forms (the service) ------------------------------------------------------------


def test_an_item_saves_its_session_kinds_in_order_and_audits_them(contract_manager, nacro_contract):
    item = service.add_item(
        contract_manager, nacro_contract, **item_fields(session_kinds=["phone", "one_to_one", "phone"])
    )
    assert db.session.get(RateCardItem, item.id).session_kinds == ["one_to_one", "phone"]
    assert item.session_kinds_label == "One-to-one, phone"


def test_an_item_that_would_bill_a_session_twice_is_refused_naming_the_other(contract_manager, nacro_contract):
    priced(nacro_contract, "DA-121", Unit.PER_SESSION, ["one_to_one", "group"])
    priced(nacro_contract, "DA-RAR", Unit.PER_RAR_DAY, ["one_to_one"])  # stacks: a separate fee
    item = service.add_item(contract_manager, nacro_contract, **item_fields(code="DA-HOUR", unit="per_hour"))
    with pytest.raises(ValidationFailed) as refused:  # without a price it bills nothing; priced, it would
        service.add_price(contract_manager, item, nacro_contract, unit_price_pence=3000, effective_from=APRIL)
    [message] = refused.value.errors["effective_from"]
    assert message.startswith("Item DA-121 already prices group sessions of service DA-PROG (per attended session)")
    assert "from 1 April 2026: one session would be billed twice" in message
    fields = item_fields(code="DA-HOUR", unit="per_hour", session_kinds=["video"])
    service.update_item(contract_manager, item, nacro_contract, **fields)
    service.add_price(contract_manager, item, nacro_contract, unit_price_pence=3000, effective_from=APRIL)
    # Widening it later to every kind is refused.
    with pytest.raises(ValidationFailed) as widened:
        service.update_item(contract_manager, item, nacro_contract, **fields | {"session_kinds": []})
    assert "Item DA-121 already prices one-to-one, group sessions" in widened.value.errors["session_kinds"][0]
    assert db.session.get(RateCardItem, item.id).session_kinds == ["video"]


def test_a_price_that_would_make_two_items_bill_one_session_is_refused(contract_manager, nacro_contract):
    priced(nacro_contract, "DA-OLD", Unit.PER_SESSION, [], end=date(2026, 6, 30))
    item = service.add_item(contract_manager, nacro_contract, **item_fields(session_kinds=[]))  # no price yet
    with pytest.raises(ValidationFailed) as refused:
        service.add_price(
            contract_manager, item, nacro_contract, unit_price_pence=9000, effective_from=date(2026, 6, 1)
        )
    assert "Item DA-OLD already prices sessions of every kind" in refused.value.errors["effective_from"][0]
    service.add_price(contract_manager, item, nacro_contract, unit_price_pence=9000, effective_from=date(2026, 7, 1))


def test_only_session_units_take_session_kinds_and_kinds_must_be_known(contract_manager, nacro_contract):
    with pytest.raises(ValidationFailed) as referral_fee:
        service.add_item(contract_manager, nacro_contract, **item_fields(unit="per_referral"))
    assert "Only items billed per session, per hour or per RAR day" in referral_fee.value.errors["session_kinds"][0]
    with pytest.raises(ValidationFailed) as unknown:
        service.add_item(contract_manager, nacro_contract, **item_fields(session_kinds=["canoeing"]))
    assert "Unknown session kind canoeing" in unknown.value.errors["session_kinds"][0]


def test_the_item_form_offers_the_kinds_and_the_pages_show_them(portal, contract_manager, nacro_contract):
    priced(nacro_contract, "DA-121", Unit.PER_SESSION, ["one_to_one"])
    group = priced(nacro_contract, "DA-GROUP", Unit.PER_SESSION, ["group"])
    portal.sign_in(contract_manager)
    form = text_of(portal.get("/contracts/BENCH-ACC-01/items/new"))
    assert "Which sessions does it price? (optional)" in form and "In custody" in form
    edit = portal.get("/contracts/BENCH-ACC-01/items/DA-GROUP/edit").get_data(as_text=True)
    assert 'value="group" checked' in edit
    fields = item_fields(session_kinds=["one_to_one", "group"], active="y", version=str(group.version))
    refused = portal.post("/contracts/BENCH-ACC-01/items/DA-GROUP/edit", fields)
    assert refused.status_code == 200
    assert text_of(refused).count("Item DA-121 already prices one-to-one sessions of service DA-PROG") == 2
    response = portal.post(
        "/contracts/BENCH-ACC-01/items/DA-GROUP/edit", fields | {"session_kinds": ["group", "video"]}
    )
    assert response.status_code == 302
    assert "Sessions it prices Group, video" in text_of(portal.get("/contracts/BENCH-ACC-01/items/DA-GROUP"))
    contract_page = text_of(portal.get("/contracts/BENCH-ACC-01"))
    assert "Per attended session One-to-one" in contract_page and "Per attended session Group, video" in contract_page


# --- the CSV file ----------------------------------------------------------------------------------------

# The columns up to session_kinds (the outcome rule's columns after it are optional, and these items have none).
HEADER = ",".join(COLUMNS[: COLUMNS.index("session_kinds") + 1]) + "\n"
ROW = "{code},DA-PROG,{name},attitudes_thinking_behaviour,community,{unit},,,85.00,{start},{end},{kinds}\n"


def row(code, unit, kinds, start="2026-04-01", end=""):
    return ROW.format(code=code, name=code.title(), unit=unit, kinds=kinds, start=start, end=end)


def test_a_file_that_would_bill_one_session_twice_is_refused_naming_both_rows(contract_manager, nacro_contract):
    data = HEADER + (
        row("DA-GROUP", "per_session", "group")
        + row("DA-121", "per_session", "one_to_one|phone", end="2026-06-30")
        + row("DA-121", "per_session", "one_to_one|phone", start="2026-07-01")
        + row("DA-HOUR", "per_hour", "phone|video", start="2026-08-01")
        + row("DA-RAR", "per_rar_day", "one_to_one|group")
    )
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, data.encode())
    [error] = failure.value.errors
    assert (error.row, error.column) == (5, "session_kinds")
    assert error.message.startswith("Item DA-121 (row 4) and item DA-HOUR (row 5): both price phone sessions")
    assert "from 1 August 2026" in error.message
    assert db.session.scalar(select(RateCardItem.id)) is None


def test_a_file_clashing_with_an_item_it_does_not_name_is_refused(contract_manager, nacro_contract):
    priced(nacro_contract, "DA-KEEP", Unit.PER_HOUR, [])
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, (HEADER + row("DA-NEW", "per_session", "")).encode())
    [error] = failure.value.errors
    assert "Item DA-KEEP (on the rate card, not in this file) and item DA-NEW (row 2)" in error.message


def test_an_old_file_without_session_kinds_imports_and_the_export_writes_every_column(contract_manager, nacro_contract):
    old = ",".join(REQUIRED_COLUMNS) + "\n" + row("DA-GROUP", "per_session", "").rsplit(",", 1)[0] + "\n"
    import_rate_card(contract_manager, nacro_contract, old.encode())
    assert db.session.scalars(select(RateCardItem)).one().session_kinds == []

    import_rate_card(
        contract_manager,
        nacro_contract,
        (HEADER + row("DA-GROUP", "per_session", "group") + row("DA-RAR", "per_rar_day", "one_to_one")).encode(),
    )
    exported = export_rate_card(nacro_contract)
    lines = exported.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1].endswith(",group,,,,,") and lines[2].endswith(",one_to_one,,,,,")
    summary = import_rate_card(contract_manager, nacro_contract, exported.encode())
    assert not summary.changed_anything


def test_unknown_kinds_and_kinds_on_other_units_are_named_by_row_and_column(contract_manager, nacro_contract):
    data = HEADER + row("DA-GROUP", "per_session", "group|canoe") + row("DA-REF", "per_referral", "group")
    with pytest.raises(RateCardImportFailed) as failure:
        import_rate_card(contract_manager, nacro_contract, data.encode())
    assert [(error.row, error.column) for error in failure.value.errors] == [
        (2, "session_kinds"),
        (3, "session_kinds"),
    ]
    assert "Unknown session kind canoe" in failure.value.errors[0].message


def test_a_rate_card_saved_before_the_rule_is_flagged_on_the_contract_page(portal, contract_manager, nacro_contract):
    priced(nacro_contract, "DA-SESSION", Unit.PER_SESSION, [])
    priced(nacro_contract, "DA-HOUR", Unit.PER_HOUR, [])  # as rate cards were: every item priced every kind
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/contracts/BENCH-ACC-01"))
    assert (
        "Warning This rate card could bill one session twice: items DA-HOUR and DA-SESSION both price sessions "
        "of every kind of service DA-PROG from 1 April 2026" in page
    )
    assert "Edit the items' session kinds" in page
