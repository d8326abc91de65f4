"""`flask demo-data`: load the demo supply chain into an empty database and print the logins."""

from __future__ import annotations

import sys

import click
import pyotp
from flask import current_app

from portal.accounts import mfa
from portal.demo.loader import database_is_empty, demo_logins, describe_demo_data, load_demo_data
from portal.demo.supply_chain import DEMO_MFA_SECRET, DEMO_PASSWORD


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
    if current_app.config["MFA_REQUIRED"]:
        click.echo(
            "\nTwo-step verification: CRC staff and partner managers also need a code. Add this key to an "
            f"authenticator app once:\n  {mfa.grouped(DEMO_MFA_SECRET)}\n"
            "or print the current code with `flask demo-code`."
        )
    click.echo("")


@click.command("demo-code", help="Print the current two-step verification code of the demo accounts.")
def demo_code_command() -> None:
    """The demo's key is public (see the README); the code is printed only outside production."""
    if current_app.config["ENV_NAME"] == "production":
        click.echo("Error: there are no demo accounts under production settings (PORTAL_ENV=production).", err=True)
        sys.exit(1)
    click.echo(pyotp.TOTP(DEMO_MFA_SECRET).now())
