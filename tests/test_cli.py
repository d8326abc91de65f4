"""Operator commands: print what they made, fail clearly on bad input, and write audit events."""

import re

from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.audit.models import AuditEvent
from portal.demo.supply_chain import DEMO_PASSWORD
from portal.extensions import db
from portal.organisations.models import Organisation, Tier


def test_org_create_makes_a_partner_and_says_so(runner):
    result = runner.invoke(
        args=[
            "org",
            "create",
            "--name",
            "Nacro",
            "--kind",
            "partner",
            "--tier",
            "II",
            "--vat-number",
            "GB123456789",
            "--charity-number",
            "226171",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created partner organisation 'Nacro'" in result.output
    organisation = db.session.scalars(select(Organisation)).one()
    assert organisation.tier == Tier.II
    assert organisation.vat_number == "GB123456789"
    event = db.session.scalars(select(AuditEvent)).one()
    assert event.action == "organisation.created"
    assert event.details["via"] == "cli"


def test_org_create_refuses_bad_input_with_a_clear_message(runner):
    result = runner.invoke(args=["org", "create", "--name", "Nacro", "--kind", "partner", "--vat-number", "123"])
    assert result.exit_code == 1
    assert "tier" in result.output
    assert "VAT number in the correct format" in result.output
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0


def test_org_create_refuses_a_duplicate_name(runner):
    runner.invoke(args=["org", "create", "--name", "BeNCH CRC", "--kind", "crc"])
    result = runner.invoke(args=["org", "create", "--name", "bench crc", "--kind", "crc"])
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_user_create_with_a_password(runner, nacro):
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "Boss@Nacro.example",
            "--name",
            "Bo Boss",
            "--role",
            "provider_manager",
            "--org",
            "nacro",
            "--password",
            "a-very-long-passphrase",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created user boss@nacro.example (provider_manager) in 'Nacro'" in result.output
    user = db.session.scalars(select(User)).one()
    assert user.role == Role.PROVIDER_MANAGER and user.has_password
    assert db.session.scalars(select(AuditEvent.action)).all() == ["user.created"]


def test_user_create_without_a_password_prints_a_set_password_link(runner, nacro, portal):
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "cw@nacro.example",
            "--name",
            "Cee Worker",
            "--role",
            "provider_caseworker",
            "--org",
            "Nacro",
        ]
    )
    assert result.exit_code == 0, result.output
    link = re.search(r"http://127\.0\.0\.1:5000(/set-password/\S+)", result.output).group(1)
    assert portal.get(link).status_code == 200


def test_user_create_refuses_an_unknown_organisation_and_a_role_of_the_wrong_kind(runner, nacro):
    unknown = runner.invoke(
        args=["user", "create", "--email", "a@b.example", "--name", "A", "--role", "admin", "--org", "Nowhere"]
    )
    assert unknown.exit_code == 1
    assert "no organisation is called 'Nowhere'" in unknown.output
    wrong_kind = runner.invoke(
        args=["user", "create", "--email", "a@b.example", "--name", "A", "--role", "admin", "--org", "Nacro"]
    )
    assert wrong_kind.exit_code == 1
    assert "cannot have the role admin" in wrong_kind.output
    weak = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "a@b.example",
            "--name",
            "A",
            "--role",
            "provider_manager",
            "--org",
            "Nacro",
            "--password",
            "password",
        ]
    )
    assert weak.exit_code == 1
    assert "12 characters" in weak.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_data_loads_the_annex_3_supply_chain_and_prints_the_logins(runner, portal):
    result = runner.invoke(args=["demo-data", "--no-history"])
    assert result.exit_code == 0, result.output
    assert "Loaded demo data: 11 organisations, 30 users and 14 contracts." in result.output
    assert f"password for all: {DEMO_PASSWORD}" in result.output
    for email in (
        "admin@bench-crc.example",
        "contracts@bench-crc.example",
        "referrer@bench-crc.example",
        "manager@nacro.example",
        "caseworker@nacro.example",
        "manager@st-giles-trust.example",
        "manager@user-voice.example",
    ):
        assert email in result.output
    names = set(db.session.scalars(select(Organisation.name)).all())
    assert {
        "Nacro",
        "St Giles Trust",
        "St Mungo Community Housing Association",
        "Bold Moves",
        "Ormiston Families",
        "Cambridge Women's Resource Centre",
        "User Voice",
    } <= names
    assert portal.sign_in("manager@nacro.example", DEMO_PASSWORD).status_code == 302

    again = runner.invoke(args=["demo-data", "--no-history"])
    assert again.exit_code == 0
    assert "already has data" in again.output
    assert len(names) == db.session.scalar(select(func.count()).select_from(Organisation))


def test_every_demo_login_works(runner, app):
    runner.invoke(args=["demo-data", "--no-history"])
    emails = re.findall(r"^\s+(\S+@\S+\.example)\s", runner.invoke(args=["demo-data"]).output, flags=re.M)
    assert len(emails) >= 20
    for email in emails:
        client = app.test_client()
        page = client.get("/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        response = client.post("/sign-in", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
        assert response.status_code == 302, email


def test_demo_data_refuses_to_run_under_production_settings(runner):
    runner.app.config["ENV_NAME"] = "production"
    try:
        result = runner.invoke(args=["demo-data"])
    finally:
        runner.app.config["ENV_NAME"] = "test"
    assert result.exit_code == 1
    assert "never loaded under production" in result.output
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0
