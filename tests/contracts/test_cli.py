"""`flask contract create`: an operator provisions an active contract, by the pages' rules."""

from datetime import date

from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.contracts.models import Contract, ContractStatus, ContractTier
from portal.extensions import db

ARGS = [
    "contract", "create",
    "--reference", "bench-acc-02", "--crc", "BeNCH CRC", "--partner", "nacro",
    "--title", "Through the Gate accommodation", "--start", "2026-04-01", "--end", "2027-03-31",
    "--vat-rate", "20", "--cap-pounds", "250000",
]  # fmt: skip


def test_an_operator_creates_an_active_contract_and_is_told_what_was_made(runner, crc, nacro):
    result = runner.invoke(args=[*ARGS, "--payment-terms-days", "14", "--county", "Bedfordshire"])
    assert result.exit_code == 0, result.output
    assert "Created active contract BENCH-ACC-02" in result.output
    contract = db.session.scalars(select(Contract)).one()
    assert contract.status == ContractStatus.ACTIVE
    assert (contract.crc_id, contract.partner_id) == (crc.id, nacro.id)
    assert (contract.start_date, contract.end_date) == (date(2026, 4, 1), date(2027, 3, 31))
    assert (contract.value_cap_pence, contract.vat_rate_bp, contract.payment_terms_days) == (25_000_000, 2000, 14)
    assert (contract.accept_sla_working_days, contract.first_contact_sla_working_days) == (2, 5)
    assert contract.tier == ContractTier.SUBCONTRACT  # Nacro is a Tier II partner
    assert contract.county_names == ["Bedfordshire"]
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["contract.created", "contract.activated"]


def test_a_cap_beyond_a_32_bit_number_of_pence_is_kept_exactly(runner, crc, nacro):
    result = runner.invoke(args=[*ARGS[:-1], "45000000"])
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(Contract.value_cap_pence)).one() == 4_500_000_000


def test_bad_input_is_refused_with_the_field_named_and_nothing_saved(runner, crc, nacro):
    result = runner.invoke(args=[*ARGS[:-8], "--start", "2026-04-01", "--end", "2026-03-01", *ARGS[-4:]])
    assert result.exit_code == 1
    assert "end_date: The end date must be the same as or after the start date" in result.output
    assert db.session.scalar(select(func.count()).select_from(Contract)) == 0


def test_an_unknown_partner_or_crc_is_named(runner, crc, nacro):
    result = runner.invoke(args=[*ARGS[:7], "Nobody Trust", *ARGS[8:]])
    assert result.exit_code == 1
    assert "--partner: no partner organisation is called 'Nobody Trust'" in result.output
    result = runner.invoke(args=[*ARGS[:5], "Nacro", *ARGS[6:]])
    assert result.exit_code == 1
    assert "--crc: no crc organisation is called 'Nacro'" in result.output


def test_a_duplicate_reference_is_refused(runner, crc, nacro):
    assert runner.invoke(args=ARGS).exit_code == 0
    result = runner.invoke(args=ARGS)
    assert result.exit_code == 1
    assert "A contract with this reference already exists" in result.output
