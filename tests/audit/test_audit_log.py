"""The audit log: every sign-in and change writes an event; admins browse it; nobody edits it."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from portal.audit.models import AuditEvent, AuditLogIsAppendOnly
from portal.audit.service import record_event
from portal.extensions import db
from tests.helpers import QueryCounter, pagination_link, text_of


def test_events_record_who_when_what_which_record_and_from_where(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.signed_in")).one()
    assert event.actor_id == nacro_manager.id
    assert event.actor_email == nacro_manager.email
    assert event.organisation_id == nacro_manager.organisation_id
    assert (event.record_type, event.record_id) == ("user", str(nacro_manager.id))
    assert event.ip_address == "127.0.0.1"
    assert event.request_id
    assert event.occurred_at.tzinfo is not None


def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(nacro_manager):
    event = record_event("test.happened", actor=nacro_manager)
    db.session.commit()
    event.action = "test.rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()


@pytest.mark.postgres_only
def test_postgresql_itself_refuses_to_change_audit_events(nacro_manager):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL, the production database")
    record_event("test.happened", actor=nacro_manager)
    db.session.commit()
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="cannot be changed or deleted"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_admin_browses_the_log_newest_first(portal, admin, nacro_manager, other_portal):
    other_portal.sign_in(nacro_manager)
    portal.sign_in(admin)
    page = text_of(portal.get("/audit/"))
    assert page.index("admin@crc.example") < page.index("manager@nacro.example")
    assert "auth.signed_in" in page


def test_admin_filters_the_log_by_user_action_record_and_date(portal, admin, nacro_manager, nacro_caseworker):
    record_event("user.updated", actor=admin, record=nacro_caseworker, details={"changes": {}})
    old = record_event("user.created", actor=admin, record=nacro_manager)
    old.occurred_at = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    db.session.commit()
    portal.sign_in(admin)

    by_action = text_of(portal.get("/audit/?action=user.updated"))
    assert "Showing 1 to 1 of 1 event" in by_action
    assert f"user {nacro_caseworker.id}" in by_action

    by_record = text_of(portal.get(f"/audit/?record_type=user&record_id={nacro_manager.id}"))
    assert "Showing 1 to 1 of 1 event" in by_record
    assert "3 March 2026" in by_record

    by_user = text_of(portal.get("/audit/?user=admin@crc"))
    assert "Showing 1 to 3 of 3 events" in by_user

    by_date = text_of(portal.get("/audit/?date_from=3/3/2026&date_to=3/3/2026"))
    assert "Showing 1 to 1 of 1 event" in by_date
    assert "3 March 2026" in by_date


def test_an_impossible_date_filter_is_explained(portal, admin):
    portal.sign_in(admin)
    page = text_of(portal.get("/audit/?date_from=31/2/2026"))
    assert "From must be a real date" in page
    assert "There is a problem" in page


def test_log_is_paginated(portal, admin):
    for number in range(60):
        record_event("test.bulk", actor=admin, record_type="thing", record_id=number)
    db.session.commit()
    portal.sign_in(admin)
    first = portal.get("/audit/")
    assert "Showing 1 to 50 of 61 events" in text_of(first)
    second = portal.get(pagination_link(first, "next"))
    assert "Showing 51 to 61 of 61 events" in text_of(second)
    assert pagination_link(second, "next") is None


def test_audit_page_queries_do_not_grow_with_the_rows_shown(portal, admin, app):
    for number in range(40):
        record_event("test.bulk", actor=admin, record_type="thing", record_id=number)
    db.session.commit()
    portal.sign_in(admin)
    with QueryCounter(app) as few:
        portal.get("/audit/")
    for number in range(40):
        record_event("test.more", actor=admin, record_type="thing", record_id=number)
    db.session.commit()
    with QueryCounter(app) as many:
        portal.get("/audit/")
    assert few.count > 2
    assert many.count == few.count


@pytest.mark.parametrize("role_fixture", ["contract_manager", "referrer", "nacro_manager", "nacro_caseworker"])
def test_only_admins_read_the_audit_log(portal, request, role_fixture):
    portal.sign_in(request.getfixturevalue(role_fixture))
    assert portal.get("/audit/").status_code == 403


def test_a_log_of_millions_is_counted_only_so_far_and_says_so(portal, admin, app, monkeypatch):
    from portal.audit import views

    monkeypatch.setattr(views, "AUDIT_COUNT_LIMIT", 20)
    monkeypatch.setitem(app.config, "AUDIT_PAGE_SIZE", 10)
    for number in range(30):
        record_event("test.bulk", actor=admin, record_type="thing", record_id=number)
    db.session.commit()
    portal.sign_in(admin)

    page = text_of(portal.get("/audit/"))

    assert "Showing 1 to 10 of more than 20 events: filter by date, action or record to find older ones" in page
    narrowed = text_of(portal.get("/audit/?action=auth.signed_in"))
    assert "Showing 1 to 1 of 1 event" in narrowed


def test_the_filters_offer_every_action_and_record_type_in_the_log(portal, admin, nacro_manager):
    record_event("user.updated", actor=admin, record=nacro_manager)
    record_event("contract.created", actor=admin, record_type="contract", record_id=7)
    db.session.commit()
    portal.sign_in(admin)

    page = portal.get("/audit/").get_data(as_text=True)

    for value in ("auth.signed_in", "contract.created", "user.updated", "contract", "user"):
        assert f'value="{value}"' in page
