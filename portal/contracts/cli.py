"""`flask rate-card import|export CONTRACT_REF`: rate cards as CSV files from scripts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from portal.contracts.models import Contract
from portal.contracts.rate_card_csv import RateCardImportFailed, export_rate_card, import_rate_card
from portal.extensions import db


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
