"""`flask api-token …`: API tokens for automation. `create` prints the new token alone on stdout."""

from __future__ import annotations

import click

from portal.accounts.service import find_user_by_email
from portal.api import tokens
from portal.errors import ValidationFailed
from portal.organisations.cli import fail, fail_validation


@click.group("api-token", help="Manage personal API tokens.")
def api_token_cli() -> None:
    pass


@api_token_cli.command("create", help="Create a token for a user and print it (only the token, on stdout).")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", required=True, help="What will use it, e.g. 'Case management system'.")
def create(email: str, name: str) -> None:
    user = find_user_by_email(email)
    if user is None:
        fail(f"no user has the email address {email!r}")
    try:
        created = tokens.create_token(None, user, name=name)
    except ValidationFailed as error:
        fail_validation(error)
    click.echo(created.secret)


@api_token_cli.command("revoke", help="Revoke a user's active token by its name.")
@click.option("--email", required=True)
@click.option("--name", required=True)
def revoke(email: str, name: str) -> None:
    user = find_user_by_email(email)
    if user is None:
        fail(f"no user has the email address {email!r}")
    token = tokens.find_token(user, name)
    if token is None:
        fail(f"{user.email} has no active token called {name!r}")
    tokens.revoke_token(None, token)
    click.echo(f"Revoked the token {name!r} of {user.email}", err=True)
