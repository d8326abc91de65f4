"""One person's sessions with one partner never overlap (issue 15): recording, changing or moving a
session, or a group session, that overlaps another session of the same person is refused, naming
the other session; on the form beside the field, in the API as a 409 problem."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.delivery.models import GroupSession, Session
from portal.delivery.sessions import (
    correct_group_session,
    record_group_session,
    record_session,
    reschedule_session,
    update_session,
)
from portal.errors import Conflict
from portal.extensions import db
from tests.factories import ReferralFactory
from tests.helpers import days_from_today, text_of


@pytest.fixture
def accepted(ttg_service, referrer, nacro_caseworker):
    return ReferralFactory(
        reference="NC2345AB",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        accepted_at=datetime.now(UTC) - timedelta(days=7),
        caseworker=nacro_caseworker,
        rar_days=4,
    )


@pytest.fixture
def another(ttg_service, referrer, nacro_caseworker):
    return ReferralFactory(
        reference="NC9876ZY",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        accepted_at=datetime.now(UTC) - timedelta(days=7),
        caseworker=nacro_caseworker,
    )


def one_to_one(start="10:00", minutes=60, day=None, **overrides):
    return {
        "date": day or days_from_today(-1),
        "start_time": start,
        "duration_minutes": minutes,
        "kind": "one_to_one",
        "attendance": "attended",
    } | overrides


def group_fields(start="00:10", minutes=60, day=None):
    return {
        "title": "Tenancy skills",
        "facilitator": "Cas Worker",
        "date": day or days_from_today(-1),
        "start_time": start,
        "duration_minutes": minutes,
    }


def count_sessions():
    return db.session.scalar(select(func.count()).select_from(Session))


def test_an_overlapping_session_is_refused_naming_the_other(accepted, nacro_caseworker):
    day = days_from_today(-1)
    record_session(nacro_caseworker, accepted, one_to_one("10:00", 60))
    with pytest.raises(Conflict) as refused:
        record_session(nacro_caseworker, accepted, one_to_one("10:30", 30))
    [message] = refused.value.errors["start_time"]
    assert message.startswith(f"This overlaps the one-to-one session on {day.day} {day:%B %Y} from 10am to 11am")
    assert count_sessions() == 1


def test_back_to_back_sessions_and_sessions_that_did_not_happen_are_fine(accepted, nacro_caseworker):
    record_session(nacro_caseworker, accepted, one_to_one("10:00", 60))
    record_session(nacro_caseworker, accepted, one_to_one("11:00", 60))
    record_session(
        nacro_caseworker,
        accepted,
        one_to_one("11:30", 30, attendance="session_did_not_happen", non_attendance_reason="logistics"),
    )
    assert count_sessions() == 3


def test_a_session_past_midnight_overlaps_the_next_mornings(accepted, nacro_caseworker):
    record_session(nacro_caseworker, accepted, one_to_one("23:30", 90, day=days_from_today(-2)))
    with pytest.raises(Conflict):
        record_session(nacro_caseworker, accepted, one_to_one("00:30", 30, day=days_from_today(-1)))


def test_another_referral_of_the_same_person_with_the_partner_counts(accepted, another, nacro_caseworker):
    another.person_id = accepted.person_id
    db.session.commit()
    record_session(nacro_caseworker, another, one_to_one("10:00", 60))
    with pytest.raises(Conflict) as refused:
        record_session(nacro_caseworker, accepted, one_to_one("10:15", 30))
    assert "session (referral NC9876ZY)" in refused.value.errors["start_time"][0]


def test_someone_else_at_the_same_time_is_fine(accepted, another, nacro_caseworker):
    record_session(nacro_caseworker, another, one_to_one("10:00", 60))
    record_session(nacro_caseworker, accepted, one_to_one("10:00", 60))
    assert count_sessions() == 2


def test_changing_or_moving_a_session_onto_another_is_refused(accepted, nacro_caseworker):
    record_session(nacro_caseworker, accepted, one_to_one("10:00", 60))
    later = record_session(nacro_caseworker, accepted, one_to_one("14:00", 60)).record
    with pytest.raises(Conflict):
        update_session(nacro_caseworker, later, one_to_one("10:45", 60))
    update_session(nacro_caseworker, later, one_to_one("14:00", 90))  # itself does not count
    booked = record_session(
        nacro_caseworker, accepted, one_to_one("10:00", 60, day=days_from_today(3), attendance="")
    ).record
    with pytest.raises(Conflict) as refused:
        reschedule_session(
            nacro_caseworker, booked, new_date=days_from_today(-1), new_time="14:30", reason="Clash at work"
        )
    assert "from 2pm to 3:30pm" in refused.value.errors["start_time"][0]


def test_a_group_session_overlapping_a_one_to_one_is_refused_for_that_person(
    accepted, another, nacro_caseworker, ttg_service
):
    # The case: a group session 00:10 to 01:10 and a one-to-one 00:30 to 01:30.
    record_session(nacro_caseworker, accepted, one_to_one("00:30", 60))
    roster = [
        {"referral_id": another.id, "attendance": "attended"},
        {"referral_id": accepted.id, "attendance": "attended"},
    ]
    with pytest.raises(Conflict) as refused:
        record_group_session(nacro_caseworker, ttg_service, group_fields("00:10", 60), roster)
    assert list(refused.value.errors) == ["roster-1"]
    assert refused.value.errors["roster-1"][0].startswith("NC2345AB: This overlaps the one-to-one session")
    assert count_sessions() == 1 and db.session.scalar(select(func.count()).select_from(GroupSession)) == 0


def test_a_one_to_one_during_a_group_session_is_refused(accepted, nacro_caseworker, ttg_service):
    record_group_session(
        nacro_caseworker, ttg_service, group_fields("13:00", 120), [{"referral_id": accepted.id, "attendance": "late"}]
    )
    with pytest.raises(Conflict) as refused:
        record_session(nacro_caseworker, accepted, one_to_one("14:00", 30))
    assert "This overlaps the group session" in refused.value.errors["start_time"][0]


def test_correcting_a_group_session_onto_a_members_other_session_is_refused(accepted, nacro_caseworker, ttg_service):
    group = record_group_session(
        nacro_caseworker, ttg_service, group_fields("13:00", 60), [{"referral_id": accepted.id, "attendance": "late"}]
    ).record
    record_session(nacro_caseworker, accepted, one_to_one("15:00", 60))
    with pytest.raises(Conflict) as refused:
        correct_group_session(nacro_caseworker, group, group_fields("14:30", 60))
    assert refused.value.errors["start_time"][0].startswith("NC2345AB: This overlaps the one-to-one session")
    correct_group_session(nacro_caseworker, group, group_fields("13:30", 90))  # up to 15:00 is fine


def test_the_form_names_the_other_session_beside_the_start_time(portal, accepted, nacro_caseworker):
    record_session(nacro_caseworker, accepted, one_to_one("10:00", 60))
    day = days_from_today(-1)
    portal.sign_in(nacro_caseworker)
    portal.get(f"/referrals/{accepted.reference}/sessions/new")
    response = portal.post(
        f"/referrals/{accepted.reference}/sessions/new",
        {
            "date": [str(day.day), str(day.month), str(day.year)],
            "start_time": "10:30",
            "duration_minutes": "45",
            "kind": "phone",
            "attendance": "attended",
        },
    )
    assert response.status_code == 200
    assert text_of(response).count("This overlaps the one-to-one session") == 2  # the summary and the field
    assert 'href="#start_time"' in response.get_data(as_text=True)
    assert count_sessions() == 1
