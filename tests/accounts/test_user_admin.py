"""User administration: admins manage everyone; partner managers only their own organisation."""

import re

import pytest
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.notifications.models import OutboundEmail
from tests.factories import UserFactory
from tests.helpers import text_of


def invite(portal, **fields):
    portal.get("/users/new")
    return portal.post("/users/new", fields)


def test_partner_manager_invites_a_caseworker_who_gets_an_email(portal, nacro_manager, nacro):
    portal.sign_in(nacro_manager)
    response = invite(portal, name="Nina New", email="Nina@Nacro.example", role="provider_caseworker")
    assert response.status_code == 302
    user = db.session.scalars(select(User).where(User.email == "nina@nacro.example")).one()
    assert user.organisation_id == nacro.id
    assert user.role == Role.PROVIDER_CASEWORKER
    assert user.password_hash is None
    page = portal.get(response.headers["Location"])
    assert "An invitation has been sent to nina@nacro.example" in text_of(page)
    assert "Invited" in text_of(page)
    [email] = db.session.scalars(select(OutboundEmail)).all()
    assert email.recipient == "nina@nacro.example"
    assert re.search(r"/set-password/\S+", email.body_text)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.created")).one()
    assert event.actor_id == nacro_manager.id
    assert event.details["role"] == "provider_caseworker"


def test_partner_manager_cannot_give_a_crc_role(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    response = invite(portal, name="Sneaky", email="sneaky@nacro.example", role="admin")
    assert response.status_code == 200
    assert "Select a role this organisation's users can have" in text_of(response)
    assert db.session.scalars(select(User).where(User.email == "sneaky@nacro.example")).first() is None


def test_partner_manager_cannot_add_users_to_another_organisation(portal, nacro_manager, st_giles):
    portal.sign_in(nacro_manager)
    response = invite(
        portal,
        name="Elsewhere",
        email="x@stgiles.example",
        role="provider_caseworker",
        organisation_id=str(st_giles.id),
    )
    user = db.session.scalars(select(User).where(User.email == "x@stgiles.example")).first()
    assert user is None or user.organisation_id != st_giles.id
    assert response.status_code in (200, 302)


def test_invitation_form_names_every_bad_field(portal, admin):
    portal.sign_in(admin)
    response = invite(portal, name="", email="not-an-email", role="")
    page = text_of(response)
    assert "Enter the person's full name" in page
    assert "Select a role" in page
    assert "There is a problem" in page


def test_email_addresses_are_unique_whatever_their_case(portal, admin, crc, nacro_caseworker):
    portal.sign_in(admin)
    portal.get("/users/new")
    response = portal.post(
        "/users/new",
        {
            "name": "Dup",
            "email": "CASEWORKER@nacro.example",
            "organisation_id": str(nacro_caseworker.organisation_id),
            "role": "provider_caseworker",
        },
    )
    assert "A user with this email address already exists" in text_of(response)


def test_admin_invites_a_user_into_any_organisation_with_a_role_that_fits_it(portal, admin, st_giles):
    portal.sign_in(admin)
    portal.get("/users/new")
    wrong_kind = portal.post(
        "/users/new",
        {
            "name": "Pat",
            "email": "pat@stgiles.example",
            "organisation_id": str(st_giles.id),
            "role": "contract_manager",
        },
    )
    assert wrong_kind.status_code == 200
    right_kind = portal.post(
        "/users/new",
        {
            "name": "Pat",
            "email": "pat@stgiles.example",
            "organisation_id": str(st_giles.id),
            "role": "provider_manager",
        },
    )
    assert right_kind.status_code == 302


def test_partner_manager_sees_only_their_own_organisations_users(
    portal, nacro_manager, nacro_caseworker, st_giles_caseworker, admin
):
    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/users"))
    assert nacro_caseworker.email in page
    assert st_giles_caseworker.email not in page
    assert admin.email not in page


@pytest.mark.parametrize("path", ["/users/{id}", "/users/{id}/edit", "/users/{id}/deactivate"])
def test_partner_manager_gets_404_for_another_partners_user(portal, nacro_manager, st_giles_caseworker, path):
    portal.sign_in(nacro_manager)
    assert portal.get(path.format(id=st_giles_caseworker.id)).status_code == 404


@pytest.mark.parametrize("action", ["deactivate", "reactivate", "unlock", "resend-invitation", "edit"])
def test_partner_manager_cannot_act_on_another_partners_user(portal, nacro_manager, st_giles_caseworker, action):
    portal.sign_in(nacro_manager)
    response = portal.post(
        f"/users/{st_giles_caseworker.id}/{action}", {"name": "Hacked", "role": "provider_manager", "version": "1"}
    )
    assert response.status_code == 404
    db.session.refresh(st_giles_caseworker)
    assert st_giles_caseworker.active and st_giles_caseworker.name != "Hacked"


def test_partner_manager_gets_404_for_crc_users(portal, nacro_manager, admin):
    portal.sign_in(nacro_manager)
    assert portal.get(f"/users/{admin.id}").status_code == 404


@pytest.mark.parametrize("role_fixture", ["nacro_caseworker", "referrer", "contract_manager"])
def test_roles_without_user_administration_get_403(portal, request, role_fixture):
    portal.sign_in(request.getfixturevalue(role_fixture))
    assert portal.get("/users").status_code == 403
    assert portal.get("/users/new").status_code == 403


def test_partner_manager_changes_a_caseworkers_role_and_it_is_audited(portal, nacro_manager, nacro_caseworker):
    portal.sign_in(nacro_manager)
    portal.get(f"/users/{nacro_caseworker.id}/edit")
    response = portal.post(
        f"/users/{nacro_caseworker.id}/edit",
        {
            "name": "Cas Worker-Smith",
            "role": "provider_manager",
            "version": str(nacro_caseworker.version),
        },
    )
    assert response.status_code == 302
    db.session.refresh(nacro_caseworker)
    assert nacro_caseworker.role == Role.PROVIDER_MANAGER
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.updated")).one()
    assert event.details["changes"]["role"] == {"before": "provider_caseworker", "after": "provider_manager"}
    assert event.details["changes"]["name"]["after"] == "Cas Worker-Smith"


def test_a_stale_edit_is_detected_not_silently_overwritten(portal, other_portal, admin, nacro_caseworker):
    portal.sign_in(admin)
    other_portal.sign_in(admin)
    portal.get(f"/users/{nacro_caseworker.id}/edit")
    other_portal.get(f"/users/{nacro_caseworker.id}/edit")
    version = str(nacro_caseworker.version)
    first = portal.post(
        f"/users/{nacro_caseworker.id}/edit", {"name": "First Edit", "role": "provider_caseworker", "version": version}
    )
    assert first.status_code == 302
    second = other_portal.post(
        f"/users/{nacro_caseworker.id}/edit", {"name": "Second Edit", "role": "provider_caseworker", "version": version}
    )
    assert second.status_code == 200
    assert "changed by someone else" in text_of(second)
    db.session.refresh(nacro_caseworker)
    assert nacro_caseworker.name == "First Edit"


def test_deactivating_a_user_signs_them_out_at_once(portal, other_portal, nacro_manager, nacro_caseworker):
    other_portal.sign_in(nacro_caseworker)
    assert other_portal.get("/account").status_code == 200
    portal.sign_in(nacro_manager)
    page = portal.get(f"/users/{nacro_caseworker.id}/deactivate")
    assert "Deactivate Cas Worker's account?" in text_of(page)
    response = portal.post(f"/users/{nacro_caseworker.id}/deactivate", {"version": str(nacro_caseworker.version)})
    assert response.status_code == 302
    assert other_portal.get("/account").status_code == 302
    db.session.refresh(nacro_caseworker)
    assert not nacro_caseworker.active
    assert "user.deactivated" in db.session.scalars(select(AuditEvent.action)).all()

    portal.post(f"/users/{nacro_caseworker.id}/reactivate", {"version": str(nacro_caseworker.version)})
    db.session.refresh(nacro_caseworker)
    assert nacro_caseworker.active


def test_nobody_deactivates_their_own_account(portal, admin):
    portal.sign_in(admin)
    portal.get(f"/users/{admin.id}")
    response = portal.post(f"/users/{admin.id}/deactivate", {"version": str(admin.version)})
    assert response.status_code == 302
    db.session.refresh(admin)
    assert admin.active


def test_admin_unlocks_a_locked_account(portal, admin, nacro_caseworker):
    for _ in range(5):
        portal.post("/sign-in", {"email": nacro_caseworker.email, "password": "wrong-password-x"})
    portal.sign_in(admin)
    page = portal.get(f"/users/{nacro_caseworker.id}")
    assert "Locked" in text_of(page)
    portal.post(f"/users/{nacro_caseworker.id}/unlock")
    db.session.refresh(nacro_caseworker)
    assert not nacro_caseworker.is_locked()
    assert "user.unlocked" in db.session.scalars(select(AuditEvent.action)).all()


def test_a_new_invitation_replaces_the_old_link(portal, nacro_manager, nacro):
    invited = UserFactory(organisation=nacro, invited=True)
    from portal.accounts.passwords import make_password_token

    old_link = f"/set-password/{make_password_token(invited, 'invite')}"
    portal.sign_in(nacro_manager)
    portal.get(f"/users/{invited.id}")
    portal.post(f"/users/{invited.id}/resend-invitation")
    assert portal.get(old_link).status_code == 404
    [email] = db.session.scalars(select(OutboundEmail)).all()
    assert email.recipient == invited.email


def test_users_list_filters_by_status_and_role(portal, admin, nacro):
    UserFactory(organisation=nacro, invited=True, email="waiting@nacro.example")
    UserFactory(organisation=nacro, active=False, email="gone@nacro.example")
    portal.sign_in(admin)
    invited_page = text_of(portal.get("/users?status=invited"))
    assert "waiting@nacro.example" in invited_page and "gone@nacro.example" not in invited_page
    admins_page = text_of(portal.get("/users?role=admin"))
    assert admin.email in admins_page and "waiting@nacro.example" not in admins_page
