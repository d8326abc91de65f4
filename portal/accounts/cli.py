"""`flask user …`: provisioning users from scripts; `flask api-token …`: API tokens for automation
(`create` prints the new token alone on stdout)."""

from __future__ import annotations

import click

from portal.accounts import service, tokens
from portal.accounts.models import Role
from portal.errors import ValidationFailed
from portal.organisations.cli import fail, fail_validation
from portal.organisations.service import find_organisation_by_name


@click.group("user", help="Manage user accounts.")
def user_cli() -> None:
    pass


@user_cli.command("create", help="Create a user. Without --password, prints a link to set one.")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--org", "org_name", required=True, help="The organisation's name.")
@click.option("--password", help="Set the password now instead of printing a set-password link.")
def create(email: str, name: str, role: str, org_name: str, password: str | None) -> None:
    organisation = find_organisation_by_name(org_name)
    if organisation is None:
        fail(f"no organisation is called {org_name!r}; create it with 'flask org create'")
    try:
        created = service.create_user(
            None,
            email=email,
            name=name,
            role=role,
            organisation=organisation,
            password=password,
            send_invitation=False,
        )
    except ValidationFailed as error:
        fail_validation(error)
    user = created.user
    click.echo(f"Created user {user.email} ({user.role.value}) in {organisation.name!r} (id {user.id})")
    if created.set_password_link:
        click.echo(f"Set-password link (valid for {created_link_days()} days): {created.set_password_link}")


def created_link_days() -> int:
    from flask import current_app

    return current_app.config["INVITATION_DAYS"]


@click.group("api-token", help="Manage personal API tokens.")
def api_token_cli() -> None:
    pass


@api_token_cli.command("create", help="Create a token for a user and print it (only the token, on stdout).")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", required=True, help="What will use it, e.g. 'Case management system'.")
def create_token(email: str, name: str) -> None:
    user = service.find_user_by_email(email)
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
def revoke_token(email: str, name: str) -> None:
    user = service.find_user_by_email(email)
    if user is None:
        fail(f"no user has the email address {email!r}")
    token = tokens.find_token(user, name)
    if token is None:
        fail(f"{user.email} has no active token called {name!r}")
    tokens.revoke_token(None, token)
    click.echo(f"Revoked the token {name!r} of {user.email}", err=True)
