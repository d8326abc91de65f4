"""`flask contract create` and `flask rate-card import|export CONTRACT_REF`: contracts and their
rate cards from scripts, through the same validation as the pages."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import click
from sqlalchemy import func, select

from portal.contracts import service
from portal.contracts.models import Contract, ContractTier
from portal.contracts.rate_card_csv import RateCardImportFailed, export_rate_card, import_rate_card
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.organisations.cli import fail, fail_validation
from portal.organisations.models import Organisation, OrganisationKind


def _contract(reference: str) -> Contract:
    contract = db.session.scalars(select(Contract).where(Contract.reference == reference.upper())).first()
    if contract is None:
        click.echo(f"Error: no contract has the reference {reference!r}", err=True)
        sys.exit(1)
    return contract


@click.group("rate-card", help="Import and export contracts' rate cards as CSV.")
def rate_card_cli() -> None:
    pass


@rate_card_cli.command("import", help="Make a contract's rate card match a CSV file (all or nothing).")
@click.argument("contract_ref")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(contract_ref: str, file: Path) -> None:
    contract = _contract(contract_ref)
    try:
        summary = import_rate_card(None, contract, file.read_bytes(), filename=file.name)
    except RateCardImportFailed as failure:
        click.echo(f"Error: {failure.message}. Nothing was saved.", err=True)
        for error in failure.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(1)
    click.echo(f"Imported {file.name} into {contract.reference}: {summary.describe()}")


@rate_card_cli.command("export", help="Write a contract's rate card as CSV to standard output.")
@click.argument("contract_ref")
def export_command(contract_ref: str) -> None:
    click.echo(export_rate_card(_contract(contract_ref)), nl=False)


def _organisation(name: str, kind: OrganisationKind, option: str) -> Organisation:
    organisation = db.session.scalars(
        select(Organisation).where(func.lower(Organisation.name) == name.strip().lower(), Organisation.kind == kind)
    ).first()
    if organisation is None:
        fail(f"{option}: no {kind.value} organisation is called {name!r}")
    return organisation


@click.group("contract", help="Manage contracts between the CRC and its partners.")
def contract_cli() -> None:
    pass


@contract_cli.command("create", help="Create an active contract (the same rules as the contract pages).")
@click.option("--reference", required=True, help="Unique, like BENCH-ACC-01")
@click.option("--crc", "crc_name", required=True, help="The CRC's organisation name")
@click.option("--partner", "partner_name", required=True, help="The partner's organisation name")
@click.option("--title", required=True)
@click.option("--start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--vat-rate", required=True, type=click.Choice(["0", "20"]), help="Percent")
@click.option("--cap-pounds", required=True, type=click.IntRange(min=1), help="The value cap in whole pounds")
@click.option("--tier", type=click.Choice([tier.value for tier in ContractTier]), help="Default: by the partner's tier")
@click.option("--payment-terms-days", default=30, show_default=True, type=int)
@click.option("--sla-accept-days", default=2, show_default=True, type=int)
@click.option("--sla-first-contact-days", default=5, show_default=True, type=int)
@click.option("--county", "counties", multiple=True, help="Repeat for each county (one of the CRC's)")
@click.option("--prison", "prisons", multiple=True, help="Repeat for each prison (one of the CRC's)")
def create_command(
    reference: str,
    crc_name: str,
    partner_name: str,
    title: str,
    start: date,
    end: date,
    vat_rate: str,
    cap_pounds: int,
    tier: str | None,
    payment_terms_days: int,
    sla_accept_days: int,
    sla_first_contact_days: int,
    counties: tuple[str, ...],
    prisons: tuple[str, ...],
) -> None:
    crc = _organisation(crc_name, OrganisationKind.CRC, "--crc")
    partner = _organisation(partner_name, OrganisationKind.PARTNER, "--partner")
    if tier is None:
        # Tier II partners hold subcontracts, Tier III partners grants.
        tier = (
            ContractTier.GRANT.value if partner.tier and partner.tier.value == "III" else ContractTier.SUBCONTRACT.value
        )
    if not counties and not prisons:
        # The CRC's whole area unless told otherwise.
        counties = tuple(county.name for county in service.area_choices(crc.id)["counties"])
    try:
        contract = service.create_contract(
            None,
            crc=crc,
            reference=reference,
            title=title,
            partner_id=partner.id,
            tier=tier,
            start_date=start.date(),
            end_date=end.date(),
            value_cap_pence=cap_pounds * 100,
            vat_rate_bp=int(Decimal(vat_rate) * 100),
            payment_terms_days=payment_terms_days,
            accept_sla_working_days=sla_accept_days,
            first_contact_sla_working_days=sla_first_contact_days,
            counties=list(counties),
            prisons=list(prisons),
        )
        service.activate_contract(None, contract)
    except ValidationFailed as error:
        fail_validation(error)
    click.echo(
        f"Created active contract {contract.reference} ({contract.tier.value}) between {crc.name} and "
        f"{partner.name}: {start:%Y-%m-%d} to {end:%Y-%m-%d}, cap £{cap_pounds:,}, VAT {vat_rate}%, "
        f"payment terms {payment_terms_days} days, SLAs {sla_accept_days}/{sla_first_contact_days} working days, "
        f"area: {', '.join([*contract.county_names, *contract.prison_names])} (id {contract.id})"
    )
