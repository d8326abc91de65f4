"""Contract operations: who may do them, the rules they keep, and the audit trail they leave."""

from datetime import date

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts import service
from portal.contracts.models import ContractStatus, ContractTier, Pathway, RateCardPrice, Setting, Unit
from portal.errors import InvalidTransition, NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from tests.factories import ContractFactory, CrcFactory, OutcomeTypeFactory, RateCardItemFactory, RateCardPriceFactory
from tests.helpers import STORY_DAY

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def contract_fields(partner, **overrides):
    fields = {
        "reference": "bench-new-01",
        "title": "Peer mentoring",
        "partner_id": partner.id,
        "tier": "subcontract",
        "start_date": date(2026, 4, 1),
        "end_date": date(2027, 3, 31),
        "value_cap_pence": 12_000_000,
        "vat_rate_bp": 0,
        "payment_terms_days": 30,
        "accept_sla_working_days": 2,
        "first_contact_sla_working_days": 5,
        "counties": ["Hertfordshire"],
        "prisons": [],
        "description": "",
    }
    return fields | overrides


def actions():
    return db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_contract_manager_creates_a_draft_contract_for_their_crc(contract_manager, nacro):
    contract = service.create_contract(contract_manager, **contract_fields(nacro))
    assert contract.reference == "BENCH-NEW-01"
    assert contract.status == ContractStatus.DRAFT
    assert contract.crc_id == contract_manager.organisation_id
    assert contract.tier == ContractTier.SUBCONTRACT
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contract.created")).one()
    assert event.details["value_cap_pence"] == 12_000_000
    assert event.details["reference"] == "BENCH-NEW-01"


@pytest.mark.parametrize("role_fixture", ["admin", "referrer", "nacro_manager", "nacro_caseworker"])
def test_only_contract_managers_create_contracts(request, role_fixture, nacro):
    with pytest.raises(NotAllowed):
        service.create_contract(request.getfixturevalue(role_fixture), **contract_fields(nacro))


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"reference": "x"}, "reference", "3 to 30 capital letters"),
        ({"reference": ""}, "reference", "Enter a contract reference"),
        ({"title": "  "}, "title", "Enter the contract's title"),
        ({"tier": "franchise"}, "tier", "subcontract or a grant"),
        ({"end_date": date(2026, 3, 31)}, "end_date", "same as or after the start date"),
        ({"start_date": None}, "start_date", "Enter the start date"),
        ({"value_cap_pence": 0}, "value_cap_pence", "more than £0"),
        ({"value_cap_pence": 12.5}, "value_cap_pence", "value cap in pounds"),
        ({"vat_rate_bp": 1750}, "vat_rate_bp", "0% or 20%"),
        ({"payment_terms_days": -1}, "payment_terms_days", "0 to 120"),
        ({"accept_sla_working_days": 0}, "accept_sla_working_days", "1 to 30"),
        ({"counties": ["Kent"]}, "counties", "There is no county called Kent in use"),
        ({"counties": [], "prisons": []}, "counties", "at least one county or prison"),
        ({"prisons": ["HMP Nowhere"]}, "prisons", "There is no prison called HMP Nowhere in use"),
        ({"prisons": [999_999]}, "prisons", "Select a prison from the list"),
        ({"prisons": [{"name": "HMP Bedford"}]}, "prisons", "Select a prison from the list"),
    ],
)
def test_bad_contract_details_are_refused_naming_the_field(contract_manager, nacro, override, field, message):
    with pytest.raises(ValidationFailed) as failure:
        service.create_contract(contract_manager, **contract_fields(nacro, **override))
    assert message in failure.value.errors[field][0]
    assert actions() == []


def test_a_contract_must_be_with_a_partner(contract_manager, crc):
    with pytest.raises(ValidationFailed) as failure:
        service.create_contract(contract_manager, **contract_fields(crc))
    assert "partner_id" in failure.value.errors


def test_references_are_unique(contract_manager, nacro, nacro_contract):
    with pytest.raises(ValidationFailed) as failure:
        service.create_contract(contract_manager, **contract_fields(nacro, reference="bench-acc-01"))
    assert "already exists" in failure.value.errors["reference"][0]


def test_editing_records_before_and_after(contract_manager, nacro_contract):
    fields = contract_fields(nacro_contract.partner, reference=nacro_contract.reference, value_cap_pence=30_000_000)
    service.update_contract(contract_manager, nacro_contract, version=nacro_contract.version, **fields)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contract.updated")).one()
    assert event.details["changes"]["value_cap_pence"] == {"before": 25_000_000, "after": 30_000_000}


def test_a_stale_edit_is_refused(contract_manager, nacro_contract):
    stale = nacro_contract.version
    fields = contract_fields(nacro_contract.partner, reference=nacro_contract.reference)
    service.update_contract(contract_manager, nacro_contract, version=stale, **fields)
    with pytest.raises(StaleRecord):
        service.update_contract(contract_manager, nacro_contract, version=stale, **fields | {"title": "Later"})


def test_the_reference_is_fixed_once_active(contract_manager, nacro_contract):
    fields = contract_fields(nacro_contract.partner, reference="BENCH-RENAMED")
    with pytest.raises(ValidationFailed) as failure:
        service.update_contract(contract_manager, nacro_contract, **fields)
    assert "cannot change" in failure.value.errors["reference"][0]


def test_another_crcs_contract_is_not_found_for_a_contract_manager(contract_manager, nacro):
    elsewhere = ContractFactory(crc=CrcFactory(name="Other CRC"), partner=nacro)
    with pytest.raises(NotFound):
        service.activate_contract(contract_manager, elsewhere)


def test_draft_becomes_active_then_ends_and_each_step_is_audited(contract_manager, nacro):
    contract = service.create_contract(contract_manager, **contract_fields(nacro))
    service.activate_contract(contract_manager, contract)
    assert contract.status == ContractStatus.ACTIVE
    with pytest.raises(InvalidTransition, match="Only a draft contract can be made active"):
        service.activate_contract(contract_manager, contract)
    service.end_contract(contract_manager, contract, end_date=date(2026, 12, 31))
    assert contract.status == ContractStatus.ENDED
    assert contract.end_date == date(2026, 12, 31)
    assert actions() == ["contract.created", "contract.activated", "contract.ended"]
    ended = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contract.ended")).one()
    assert ended.details["status"] == {"before": "active", "after": "ended"}
    assert ended.details["end_date"] == {"before": "2027-03-31", "after": "2026-12-31"}


def test_an_ended_contract_cannot_be_changed(contract_manager, nacro_contract):
    service.end_contract(contract_manager, nacro_contract, end_date=date(2027, 1, 31))
    with pytest.raises(ValidationFailed):
        service.add_item(
            contract_manager,
            nacro_contract,
            code="NEW",
            service_code="SVC",
            name="x",
            pathway="health",
            setting="both",
            unit="per_session",
        )


# --- rate-card items ---------------------------------------------------------------------------


def item_fields(**overrides):
    fields = {
        "code": "acc-ttg-ref",
        "service_code": "acc-ttg",
        "name": "Through the Gate referral",
        "pathway": "accommodation",
        "setting": "custody",
        "unit": "per_referral",
        "outcome_type_id": None,
        "max_units_per_referral": 1,
    }
    return fields | overrides


def test_contract_manager_adds_an_item_with_codes_in_capitals(contract_manager, nacro_contract):
    item = service.add_item(contract_manager, nacro_contract, **item_fields())
    assert (item.code, item.service_code) == ("ACC-TTG-REF", "ACC-TTG")
    assert (item.pathway, item.setting, item.unit) == (Pathway.ACCOMMODATION, Setting.CUSTODY, Unit.PER_REFERRAL)
    assert "rate_card_item.created" in actions()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"pathway": "housing"}, "pathway"),
        ({"unit": "per_fortnight"}, "unit"),
        ({"setting": "online"}, "setting"),
        ({"unit": "per_outcome"}, "outcome_type_id"),
        ({"max_units_per_referral": 0}, "max_units_per_referral"),
        ({"unit": "monthly_fixed", "max_units_per_referral": 3}, "max_units_per_referral"),
        ({"code": "bad code!"}, "code"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_items_are_refused_naming_the_field(contract_manager, nacro_contract, override, field):
    with pytest.raises(ValidationFailed) as failure:
        service.add_item(contract_manager, nacro_contract, **item_fields(**override))
    assert field in failure.value.errors


def test_item_codes_are_unique_within_a_contract_but_not_across_contracts(
    contract_manager, nacro_contract, st_giles_contract
):
    service.add_item(contract_manager, nacro_contract, **item_fields())
    with pytest.raises(ValidationFailed) as failure:
        service.add_item(contract_manager, nacro_contract, **item_fields(name="Again"))
    assert "already has an item with this code" in failure.value.errors["code"][0]
    service.add_item(contract_manager, st_giles_contract, **item_fields())


def test_a_per_outcome_item_pays_for_an_outcome_type_of_its_own_contract(
    contract_manager, nacro_contract, st_giles_contract
):
    other_contracts_outcome = OutcomeTypeFactory(contract=st_giles_contract, code="entered_employment")
    with pytest.raises(ValidationFailed):
        service.add_item(
            contract_manager,
            nacro_contract,
            **item_fields(unit="per_outcome", outcome_type_id=other_contracts_outcome.id),
        )
    own = service.add_outcome_type(
        contract_manager,
        nacro_contract,
        code="accommodation_secured_first_night",
        name="Accommodation secured on the first night",
        pathway="accommodation",
    )
    item = service.add_item(
        contract_manager,
        nacro_contract,
        **item_fields(code="ACC-FIRST-NIGHT", unit="per_outcome", outcome_type_id=own.id),
    )
    assert item.outcome_type.code == "accommodation_secured_first_night"


def test_outcome_type_codes_are_unique_per_contract_and_edits_keep_the_code(contract_manager, nacro_contract):
    outcome = service.add_outcome_type(
        contract_manager, nacro_contract, code="Bank_Account_Opened", name="", pathway="finance_benefit_debt"
    )
    assert outcome.code == "bank_account_opened"
    assert outcome.name == "Bank account opened"
    with pytest.raises(ValidationFailed):
        service.add_outcome_type(
            contract_manager, nacro_contract, code="bank_account_opened", name="x", pathway="finance_benefit_debt"
        )
    service.update_outcome_type(
        contract_manager,
        outcome,
        nacro_contract,
        code="renamed",
        name="Bank account",
        pathway="finance_benefit_debt",
        active=False,
    )
    assert outcome.code == "bank_account_opened" and outcome.active is False


# --- prices ------------------------------------------------------------------------------------


@pytest.fixture
def referral_fee(nacro_contract):
    return RateCardItemFactory(contract=nacro_contract, code="ACC-TTG-REF", unit=Unit.PER_REFERRAL)


def test_prices_of_one_item_never_overlap(contract_manager, nacro_contract, referral_fee):
    service.add_price(
        contract_manager,
        referral_fee,
        nacro_contract,
        unit_price_pence=15000,
        effective_from=date(2026, 4, 1),
        effective_to=date(2027, 3, 31),
    )
    with pytest.raises(ValidationFailed) as failure:
        service.add_price(
            contract_manager,
            referral_fee,
            nacro_contract,
            unit_price_pence=16000,
            effective_from=date(2027, 3, 31),
            effective_to=None,
        )
    assert "overlaps the price from 1 April 2026 to 31 March 2027" in failure.value.errors["effective_from"][0]
    service.add_price(
        contract_manager,
        referral_fee,
        nacro_contract,
        unit_price_pence=16000,
        effective_from=date(2027, 4, 1),
        effective_to=None,
    )
    assert [p.unit_price_pence for p in db.session.scalars(select(RateCardPrice).order_by(RateCardPrice.id))] == [
        15000,
        16000,
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"unit_price_pence": -1}, "unit_price_pence"),
        ({"unit_price_pence": "12.50"}, "unit_price_pence"),
        ({"effective_from": None}, "effective_from"),
        ({"effective_to": date(2026, 3, 1)}, "effective_to"),
    ],
)
def test_bad_prices_are_refused(contract_manager, nacro_contract, referral_fee, fields, field):
    values = {"unit_price_pence": 100, "effective_from": date(2026, 4, 1), "effective_to": None} | fields
    with pytest.raises(ValidationFailed) as failure:
        service.add_price(contract_manager, referral_fee, nacro_contract, **values)
    assert field in failure.value.errors


def test_editing_a_price_may_not_make_it_overlap_but_may_keep_its_own_dates(
    contract_manager, nacro_contract, referral_fee
):
    first = RateCardPriceFactory(
        item=referral_fee, unit_price_pence=100, effective_from=date(2026, 4, 1), effective_to=date(2026, 9, 30)
    )
    RateCardPriceFactory(item=referral_fee, unit_price_pence=200, effective_from=date(2026, 10, 1))
    db.session.expire(referral_fee, ["prices"])
    service.update_price(
        contract_manager,
        first,
        referral_fee,
        nacro_contract,
        unit_price_pence=150,
        effective_from=date(2026, 4, 1),
        effective_to=date(2026, 9, 30),
    )
    with pytest.raises(ValidationFailed):
        service.update_price(
            contract_manager,
            first,
            referral_fee,
            nacro_contract,
            unit_price_pence=150,
            effective_from=date(2026, 4, 1),
            effective_to=date(2026, 10, 1),
        )
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rate_card_price.updated")).one()
    assert event.details["changes"] == {"unit_price_pence": {"before": 100, "after": 150}}


def test_a_price_used_on_a_submitted_invoice_can_be_ended_but_not_changed_or_deleted(
    contract_manager, nacro_contract, referral_fee, monkeypatch
):
    price = RateCardPriceFactory(item=referral_fee, unit_price_pence=100, effective_from=date(2026, 4, 1))
    monkeypatch.setattr(service, "price_usage_checks", [lambda p: p.id == price.id])
    with pytest.raises(ValidationFailed):
        service.update_price(
            contract_manager,
            price,
            referral_fee,
            nacro_contract,
            unit_price_pence=999,
            effective_from=date(2026, 4, 1),
            effective_to=None,
        )
    with pytest.raises(ValidationFailed):
        service.delete_price(contract_manager, price, referral_fee, nacro_contract)
    service.end_price(contract_manager, price, referral_fee, nacro_contract, effective_to=date(2026, 12, 31))
    assert price.effective_to == date(2026, 12, 31)
    assert price.unit_price_pence == 100
    assert "rate_card_price.ended" in actions()


def test_ending_can_only_bring_the_last_day_forward(contract_manager, nacro_contract, referral_fee):
    price = RateCardPriceFactory(item=referral_fee, effective_from=date(2026, 4, 1), effective_to=date(2026, 12, 31))
    with pytest.raises(ValidationFailed):
        service.end_price(contract_manager, price, referral_fee, nacro_contract, effective_to=date(2027, 1, 31))
    with pytest.raises(ValidationFailed):
        service.end_price(contract_manager, price, referral_fee, nacro_contract, effective_to=date(2026, 3, 31))


def test_an_unused_price_can_be_deleted_and_that_is_audited(contract_manager, nacro_contract, referral_fee):
    price = RateCardPriceFactory(item=referral_fee)
    service.delete_price(contract_manager, price, referral_fee, nacro_contract)
    assert db.session.scalars(select(RateCardPrice)).all() == []
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rate_card_price.deleted")).one()
    assert event.details["unit_price_pence"] == 5000
