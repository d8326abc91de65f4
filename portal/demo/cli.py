"""`flask demo-data`: load the demo supply chain into an empty database and print the logins."""

from __future__ import annotations

import sys

import click
from flask import current_app

from portal.demo.loader import database_is_empty, demo_logins, describe_demo_data, load_demo_data
from portal.demo.supply_chain import DEMO_PASSWORD


@click.command("demo-data", help="Load demo data into an empty database and print the demo logins.")
@click.option(
    "--history/--no-history",
    default=True,
    help="With a year of referrals, sessions, outcomes, invoices and service returns (the default), "
    "or only the organisations, users and contracts (seconds faster).",
)
def demo_data_command(history: bool) -> None:
    if current_app.config["ENV_NAME"] == "production":
        click.echo("Error: demo data is never loaded under production settings (PORTAL_ENV=production).", err=True)
        sys.exit(1)
    if database_is_empty():
        load_demo_data(history=history)
        click.echo(f"Loaded demo data: {describe_demo_data()}.")
    else:
        click.echo("The database already has data; demo data not loaded again.")
    print_logins()


def print_logins() -> None:
    logins = demo_logins()
    if not logins:
        return
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
    width = max(len(login.email) for login in logins)
    for login in logins:
        click.echo(f"  {login.email.ljust(width)}  {login.role.label:<17} {login.organisation}")
    click.echo("")
