"""Recording delivery through the pages, as a caseworker's day goes; the CRC follows and decides."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.contracts.models import Unit
from portal.delivery.models import Alert, EvidenceFile, Outcome, OutcomeStatus, Session
from portal.extensions import db
from portal.referrals.models import ReferralStatus
from tests.factories import OutcomeFactory, OutcomeTypeFactory, RateCardItemFactory, ReferralFactory
from tests.helpers import days_from_today, text_of

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def parts(day):
    return [str(day.day), str(day.month), str(day.year)]


@pytest.fixture
def accepted(ttg_service, referrer, nacro_caseworker):
    """Nacro's referral, accepted a week ago and assigned, with a RAR day ordered."""
    return ReferralFactory(
        reference="NC2345AB",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        accepted_at=datetime.now(UTC) - timedelta(days=7),
        caseworker=nacro_caseworker,
        rar_days=1,
    )


@pytest.fixture
def storage(app, observer_app, tmp_path):
    previous = app.config["STORAGE_DIR"]
    app.config["STORAGE_DIR"] = observer_app.config["STORAGE_DIR"] = tmp_path
    yield tmp_path
    app.config["STORAGE_DIR"] = observer_app.config["STORAGE_DIR"] = previous


def session_form(**overrides):
    return {
        "date": parts(days_from_today(-1)),
        "start_time": "10:00",
        "duration_minutes": "90",
        "kind": "one_to_one",
        "attendance": "attended",
        "summary": "Bidding for council housing.",
    } | overrides


def post_session(portal, referral, **overrides):
    portal.get(f"/referrals/{referral.reference}/sessions/new")
    return portal.post(f"/referrals/{referral.reference}/sessions/new", session_form(**overrides))


def test_caseworker_records_a_session_and_the_referral_shows_hours_and_rar_days(portal, accepted, nacro_caseworker):
    accepted.colour_band = "green"
    db.session.commit()
    portal.sign_in(nacro_caseworker)
    response = post_session(portal, accepted, counts_as_rar_day="y")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/referrals/{accepted.reference}/sessions"
    page = text_of(portal.get(response.headers["Location"]))
    assert "The session has been saved" in page
    assert "1 of 1 RAR days delivered" in page
    assert "Green band: 1.5 face-to-face hours delivered of 12 minimum" in page
    db.session.refresh(accepted)
    assert accepted.status == ReferralStatus.IN_PROGRESS


def test_only_in_person_contact_counts_toward_the_colour_band(portal, accepted, nacro_caseworker):
    accepted.colour_band = "green"
    db.session.commit()
    portal.sign_in(nacro_caseworker)
    assert post_session(portal, accepted, kind="phone", date=parts(days_from_today(-3))).status_code == 302
    assert post_session(portal, accepted, kind="video", date=parts(days_from_today(-2))).status_code == 302
    page = text_of(portal.get(f"/referrals/{accepted.reference}/sessions"))
    assert "Green band: 0.0 face-to-face hours delivered of 12 minimum" in page
    assert post_session(portal, accepted, kind="home_visit").status_code == 302
    page = text_of(portal.get(f"/referrals/{accepted.reference}/sessions"))
    assert "Green band: 1.5 face-to-face hours delivered of 12 minimum" in page


def test_a_rar_day_beyond_the_order_is_saved_with_a_warning(portal, accepted, nacro_caseworker):
    portal.sign_in(nacro_caseworker)
    post_session(portal, accepted, counts_as_rar_day="y", date=parts(days_from_today(-2)))
    response = post_session(portal, accepted, counts_as_rar_day="y")
    page = text_of(portal.get(response.headers["Location"]))
    assert "will not count as RAR days" in page
    assert "1 of 1 RAR days delivered (1 more day with RAR activity recorded beyond the order, not counted)" in page


def test_session_form_names_each_problem(portal, accepted, nacro_caseworker):
    portal.sign_in(nacro_caseworker)
    response = post_session(portal, accepted, duration_minutes="0", start_time="noon", attendance="did_not_attend")
    page = text_of(response)
    assert "Enter the length in minutes, from 1 to 600" in page
    assert "Enter the start time in the 24-hour clock" in page
    assert "Select whether the absence was acceptable" in page
    assert db.session.scalars(select(Session)).all() == []


def test_a_future_session_is_scheduled_then_its_attendance_recorded_from_my_sessions(
    portal, accepted, nacro_caseworker
):
    portal.sign_in(nacro_caseworker)
    post_session(portal, accepted, date=parts(days_from_today(-1)), attendance="")
    session = db.session.scalars(select(Session)).one()
    day = text_of(portal.get("/my-sessions"))
    assert "Awaiting feedback (1)" in day
    edit = portal.get(f"/referrals/{accepted.reference}/sessions/{session.id}/edit")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', edit.get_data(as_text=True)).group(1)
    portal.post(
        f"/referrals/{accepted.reference}/sessions/{session.id}/edit", session_form(version=version, attendance="late")
    )
    assert "Awaiting feedback (0)" in text_of(portal.get("/my-sessions"))


def test_an_unacceptable_absence_shows_on_the_referrers_home_and_queue_until_acknowledged(
    portal, accepted, nacro_caseworker, referrer
):
    portal.sign_in(nacro_caseworker)
    post_session(portal, accepted, attendance="did_not_attend", non_attendance_reason="unacceptable")
    assert "1 alert raised on your cases, waiting for the referrer" in text_of(portal.get("/"))
    portal.sign_out()
    portal.sign_in(referrer)
    home = portal.get("/").get_data(as_text=True)
    assert 'href="/alerts/"' in home and "1 alert to acknowledge" in text_of(portal.get("/"))
    queue = text_of(portal.get("/alerts/"))
    assert "Unacceptable absence" in queue and accepted.reference in queue
    alert = db.session.scalars(select(Alert)).one()
    response = portal.post(f"/alerts/{alert.id}/acknowledge", {"next": "//evil.example/"})
    assert response.headers["Location"] == "/"  # a link back elsewhere is ignored
    assert "No alerts to acknowledge" in text_of(portal.get("/"))
    assert "No alerts match these filters" in text_of(portal.get("/alerts/"))


def test_group_session_for_three_people_in_one_form(portal, accepted, nacro_caseworker, ttg_service, referrer):
    others = [
        ReferralFactory(
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            status=ReferralStatus.IN_PROGRESS,
            accepted_at=accepted.accepted_at,
            reference=f"GR{n}000AA",
        )
        for n in range(2)
    ]
    portal.sign_in(nacro_caseworker)
    portal.get(f"/group-sessions/new?contract={ttg_service.reference}")
    response = portal.post(
        f"/group-sessions/new?contract={ttg_service.reference}",
        {
            "title": "Tenancy skills",
            "facilitator": "Cas Worker",
            "date": parts(days_from_today(-1)),
            "start_time": "13:00",
            "duration_minutes": "120",
            f"attendance-{accepted.id}": "attended",
            f"rar-{accepted.id}": "y",
            f"attendance-{others[0].id}": "late",
            f"attendance-{others[1].id}": "did_not_attend",
            f"reason-{others[1].id}": "unacceptable",
        },
    )
    assert response.status_code == 302
    assert len(db.session.scalars(select(Session)).all()) == 3
    assert db.session.scalars(select(Alert.referral_id)).all() == [others[1].id]

    # The saved group has a page of its own, and is corrected for everyone at once.
    page = text_of(portal.get(response.headers["Location"]))
    assert "saved for 3 people" in page and "Tenancy skills" in page and "Did not attend: unacceptable" in page
    edit = response.headers["Location"] + "/edit"
    assert 'value="Tenancy skills"' in portal.get(edit).get_data(as_text=True)
    too_long = portal.post(
        edit,
        {
            "title": "Tenancy skills",
            "facilitator": "Cas Worker",
            "date": parts(days_from_today(-1)),
            "start_time": "13:00",
            "duration_minutes": "99999",
        },
    )
    assert "Length in minutes must be 4 characters or fewer" in text_of(too_long)
    fixed = portal.post(
        edit,
        {
            "title": "Tenancy skills (week 1)",
            "facilitator": "Cas Worker",
            "date": parts(days_from_today(-1)),
            "start_time": "14:00",
            "duration_minutes": "90",
        },
    )
    assert fixed.status_code == 302
    assert {(s.start_time.hour, s.duration_minutes) for s in db.session.scalars(select(Session))} == {(14, 90)}
    assert "Tenancy skills (week 1)" in text_of(portal.get(fixed.headers["Location"]))


def test_claiming_an_outcome_with_a_pdf_then_the_referrer_verifies_it(
    portal, accepted, nacro_caseworker, referrer, ttg_service, storage
):
    outcome_type = OutcomeTypeFactory(
        contract=ttg_service, code="accommodation_secured_first_night", name="Accommodation on the first night"
    )
    # The referral's service prices it, so the claim form offers it.
    RateCardItemFactory(contract=ttg_service, service_code="ACC-TTG", unit=Unit.PER_OUTCOME, outcome_type=outcome_type)
    portal.sign_in(nacro_caseworker)
    portal.get(f"/referrals/{accepted.reference}/outcomes/new")
    response = portal.post(
        f"/referrals/{accepted.reference}/outcomes/new",
        {
            "outcome_type_id": str(outcome_type.id),
            "achieved_on": parts(days_from_today(-1)),
            "evidence": "Licence agreement signed.",
            "evidence_files": (io.BytesIO(PDF), "licence.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, text_of(response)
    file = db.session.scalars(select(EvidenceFile)).one()
    download = portal.get(f"/evidence/{file.id}")
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]
    portal.sign_out()

    portal.sign_in(referrer)
    assert portal.get(f"/evidence/{file.id}").status_code == 200
    outcome = db.session.scalars(select(Outcome)).one()
    portal.get(f"/referrals/{accepted.reference}")
    portal.post(f"/referrals/{accepted.reference}/outcomes/{outcome.id}/verify", {"version": outcome.version})
    db.session.refresh(outcome)
    assert outcome.status == OutcomeStatus.VERIFIED


def test_an_executable_renamed_pdf_is_refused(portal, accepted, nacro_caseworker, ttg_service, storage):
    outcome_type = OutcomeTypeFactory(contract=ttg_service, recorded_unpaid=True)
    portal.sign_in(nacro_caseworker)
    portal.get(f"/referrals/{accepted.reference}/outcomes/new")
    response = portal.post(
        f"/referrals/{accepted.reference}/outcomes/new",
        {
            "outcome_type_id": str(outcome_type.id),
            "achieved_on": parts(days_from_today(-1)),
            "evidence": "x",
            "evidence_files": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 300), "evidence.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert "must be a PDF, JPEG, PNG or Word" in text_of(response)
    assert db.session.scalars(select(Outcome)).all() == []
    assert not list(storage.rglob("*.*"))


def test_rejecting_needs_a_reason(portal, accepted, nacro_caseworker, referrer, ttg_service):
    outcome = OutcomeFactory(
        referral=accepted,
        outcome_type=OutcomeTypeFactory(contract=ttg_service),
        achieved_on=days_from_today(-1),
        evidence="seen",
        claimed_by=nacro_caseworker,
    )
    portal.sign_in(referrer)
    portal.get(f"/referrals/{accepted.reference}/outcomes/{outcome.id}/reject")
    response = portal.post(
        f"/referrals/{accepted.reference}/outcomes/{outcome.id}/reject", {"version": outcome.version, "reason": ""}
    )
    assert "Say why the claim is rejected" in text_of(response)


def test_caseworker_completes_the_end_of_service_report(portal, accepted, nacro_caseworker):
    portal.sign_in(nacro_caseworker)
    page = portal.get(f"/referrals/{accepted.reference}/complete")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True)).group(1)
    response = portal.post(
        f"/referrals/{accepted.reference}/complete",
        {
            "version": version,
            "outcomes-0-achievement": "achieved",
            "outcomes-0-comment": "Tenancy started.",
            "summary": "Housed and settled.",
            "further_needs": "",
        },
    )
    assert response.status_code == 302, text_of(response)
    page = text_of(portal.get(f"/referrals/{accepted.reference}"))
    assert "End-of-service report" in page and "Tenancy started." in page
    db.session.refresh(accepted)
    assert accepted.status == ReferralStatus.COMPLETED


@pytest.mark.parametrize(
    "path",
    [
        "/sessions/new",
        "/outcomes/new",
        "/complete",
    ],
)
def test_another_partner_gets_404_on_every_delivery_page(portal, accepted, st_giles_caseworker, path):
    portal.sign_in(st_giles_caseworker)
    assert portal.get(f"/referrals/{accepted.reference}{path}").status_code == 404


def test_another_partner_cannot_download_evidence(
    portal, accepted, nacro_caseworker, st_giles_caseworker, ttg_service, storage
):
    from portal.delivery.outcomes import claim_outcome

    outcome_type = OutcomeTypeFactory(contract=ttg_service, recorded_unpaid=True)
    outcome = claim_outcome(
        nacro_caseworker,
        accepted,
        {"outcome_type_id": outcome_type.id, "achieved_on": days_from_today(-1), "evidence": "x"},
        [("a.pdf", PDF)],
    )
    file_id = db.session.scalars(select(EvidenceFile.id).where(EvidenceFile.outcome_id == outcome.id)).one()
    portal.sign_in(st_giles_caseworker)
    assert portal.get(f"/evidence/{file_id}").status_code == 404


def test_the_crc_reads_delivery_but_cannot_record_it(portal, accepted, referrer):
    portal.sign_in(referrer)
    assert portal.get(f"/referrals/{accepted.reference}/sessions/new").status_code == 403
    assert portal.get("/my-sessions").status_code == 403


def test_a_group_session_with_mistakes_shows_each_beside_its_field_and_keeps_what_was_typed(
    portal, accepted, nacro_caseworker, ttg_service
):
    accepted.risk_flags = ["violence"]
    db.session.commit()
    portal.sign_in(nacro_caseworker)
    url = f"/group-sessions/new?contract={ttg_service.reference}"
    page = portal.get(url).get_data(as_text=True)
    assert "Violence" in page  # each person's risk beside their name, before the session is recorded
    response = portal.post(
        url,
        {
            "title": "",
            "facilitator": "Cas Worker",
            "date": parts(days_from_today(-1)),
            "start_time": "13:00",
            "duration_minutes": "0",
            f"attendance-{accepted.id}": "did_not_attend",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="#title"' in body and "Enter the group session&#39;s title" in body
    assert 'href="#duration_minutes"' in body
    assert f'href="#attendance-{accepted.id}"' in body  # the person's own problem links to their row
    assert 'id="facilitator" name="facilitator" type="text" value="Cas Worker"' in body
    assert db.session.scalars(select(Session)).all() == []


def test_a_moved_session_shows_when_it_was_and_why_it_moved_on_the_referral(portal, accepted, nacro_caseworker):
    from datetime import timedelta

    from portal.delivery.sessions import record_session, reschedule_session

    planned = days_from_today(2)
    session = record_session(
        nacro_caseworker,
        accepted,
        {"date": planned, "start_time": "10:00", "duration_minutes": 60, "kind": "one_to_one", "attendance": ""},
    ).record
    reschedule_session(
        nacro_caseworker, session, new_date=planned + timedelta(days=1), new_time="11:00", reason="Court date clash"
    )
    portal.sign_in(nacro_caseworker)
    page = text_of(portal.get(f"/referrals/{accepted.reference}/sessions"))
    assert "Court date clash" in page and "10:00" in page


def test_evidence_downloads_are_named_by_type_and_audited(portal, accepted, nacro_caseworker, ttg_service, storage):
    from portal.audit.models import AuditEvent
    from portal.delivery import outcomes

    outcome_type = OutcomeTypeFactory(contract=ttg_service, recorded_unpaid=True)
    outcome = outcomes.claim_outcome(
        nacro_caseworker,
        accepted,
        {"outcome_type_id": outcome_type.id, "achieved_on": days_from_today(-1), "evidence": "x"},
        [("page.html", PDF)],
    )
    file_id = db.session.scalars(select(EvidenceFile.id).where(EvidenceFile.outcome_id == outcome.id)).one()
    portal.sign_in(nacro_caseworker)
    response = portal.get(f"/evidence/{file_id}")
    assert response.status_code == 200
    assert "filename=page.pdf" in response.headers["Content-Disposition"]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.downloaded")).one()
    assert (event.actor_id, event.record_id, event.details["read"]) == (nacro_caseworker.id, str(file_id), True)
