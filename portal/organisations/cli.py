"""`flask org …`: provisioning organisations from scripts."""

from __future__ import annotations

import sys

import click

from portal.errors import ValidationFailed
from portal.organisations import service


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def fail_validation(error: ValidationFailed) -> None:
    for field, messages in error.errors.items():
        for message in messages:
            click.echo(f"Error: {field}: {message}", err=True)
    sys.exit(1)


@click.group("org", help="Manage organisations.")
def org_cli() -> None:
    pass


@org_cli.command("create", help="Create a CRC or partner organisation.")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(["crc", "partner"]))
@click.option("--tier", type=click.Choice(["II", "III"], case_sensitive=False), help="Partners only.")
@click.option("--vat-number")
@click.option("--charity-number")
@click.option("--company-number")
def create(
    name: str,
    kind: str,
    tier: str | None,
    vat_number: str | None,
    charity_number: str | None,
    company_number: str | None,
) -> None:
    try:
        organisation = service.create_organisation(
            None,
            name=name,
            kind=kind,
            tier=tier,
            vat_number=vat_number,
            charity_number=charity_number,
            company_number=company_number,
        )
    except ValidationFailed as error:
        fail_validation(error)
    tier_text = f", tier {organisation.tier.value}" if organisation.tier else ""
    click.echo(
        f"Created {organisation.kind.value} organisation {organisation.name!r} (id {organisation.id}{tier_text})"
    )
