"""Recording delivery: sessions, group sessions, alerts, RAR days, outcomes with evidence, corrections,
and the end-of-service report."""

import io
import zipfile
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.contracts.models import Unit
from portal.dates import london_day, london_today
from portal.delivery import corrections, evidence
from portal.delivery.alerts import acknowledge_alert, open_alerts
from portal.delivery.corrections import add_correction_note
from portal.delivery.end_of_service import complete_referral
from portal.delivery.models import (
    Alert,
    AlertKind,
    EndOfServiceReport,
    EvidenceFile,
    Outcome,
    OutcomeStatus,
    Session,
    SessionReschedule,
)
from portal.delivery.outcomes import (
    claim_outcome,
    delete_outcome,
    reclaim_outcome,
    reject_outcome,
    update_outcome,
    verify_outcome,
)
from portal.delivery.sessions import (
    delete_session,
    rar_days_counted,
    record_group_session,
    record_session,
    reschedule_session,
    session_start,
    sessions_of,
    update_session,
)
from portal.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.notifications.models import OutboundEmail
from portal.referrals.models import CaseNote, LocationType, ReferralStatus
from tests.factories import (
    OutcomeTypeFactory,
    RateCardItemFactory,
    ReferralFactory,
)
from tests.helpers import DaysFromToday, dated, days_from_today

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.fixture
def accepted(ttg_service, referrer, nacro_caseworker):
    """Nacro's referral, accepted a week ago and assigned, with 2 RAR days ordered."""
    return ReferralFactory(
        reference="NC2345AB",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        accepted_at=datetime.now(UTC) - timedelta(days=7),
        caseworker=nacro_caseworker,
        rar_days=2,
    )


def session_fields(**overrides):
    fields = {
        "date": days_from_today(-1),
        "start_time": "10:30",
        "duration_minutes": 60,
        "kind": "one_to_one",
        "attendance": "attended",
        "non_attendance_reason": "",
        "counts_as_rar_day": False,
        "summary": "Housing options discussed.",
        "behaviour_concern": False,
        "concern_detail": "",
    }
    return fields | overrides


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


# --- sessions ---------------------------------------------------------------------------------------


def test_the_first_attended_session_starts_the_referral_and_stops_the_first_contact_clock(accepted, nacro_caseworker):
    recorded = record_session(nacro_caseworker, accepted, session_fields())
    assert recorded.record.attended
    assert accepted.status == ReferralStatus.IN_PROGRESS
    assert accepted.first_contact_at == session_start(days_from_today(-1), time(10, 30))
    assert "session.created" in db.session.scalars(select(AuditEvent.action)).all()


def test_a_session_can_be_scheduled_ahead_and_its_attendance_recorded_once_it_has_happened(accepted, nacro_caseworker):
    ahead = record_session(nacro_caseworker, accepted, session_fields(date=days_from_today(3), attendance="")).record
    assert ahead.awaiting_feedback and accepted.status == ReferralStatus.ACCEPTED
    with pytest.raises(ValidationFailed) as failure:
        update_session(nacro_caseworker, ahead, session_fields(date=days_from_today(3)))
    assert "has not happened yet" in failure.value.errors["attendance"][0]


def test_attendance_recorded_on_a_booked_session_starts_the_referral(accepted, nacro_caseworker):
    booked = record_session(nacro_caseworker, accepted, session_fields(attendance="")).record
    assert accepted.status == ReferralStatus.ACCEPTED and accepted.first_contact_at is None
    update_session(nacro_caseworker, booked, session_fields())
    assert accepted.status == ReferralStatus.IN_PROGRESS
    assert accepted.first_contact_at == session_start(days_from_today(-1), time(10, 30))
    assert "referral.started" in db.session.scalars(select(AuditEvent.action)).all()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 601}, "duration_minutes"),
        ({"date": DaysFromToday(-30)}, "date"),
        ({"start_time": "25:00"}, "start_time"),
        ({"kind": "carrier_pigeon"}, "kind"),
        ({"attendance": "did_not_attend"}, "non_attendance_reason"),
        ({"behaviour_concern": True}, "concern_detail"),
    ],
)
def test_bad_sessions_are_refused_naming_the_field(accepted, nacro_caseworker, override, field):
    with pytest.raises(ValidationFailed) as failure:
        record_session(nacro_caseworker, accepted, session_fields(**dated(override)))
    assert field in failure.value.errors
    assert count(Session) == 0


def test_a_rar_day_needs_rar_days_ordered(accepted, nacro_caseworker):
    accepted.rar_days = None
    db.session.commit()
    with pytest.raises(ValidationFailed) as failure:
        record_session(nacro_caseworker, accepted, session_fields(counts_as_rar_day=True))
    assert "no RAR days ordered" in failure.value.errors["counts_as_rar_day"][0]


def test_rar_days_beyond_the_order_are_recorded_with_a_warning_and_not_counted(accepted, nacro_caseworker):
    for days_ago in (3, 2):
        assert not record_session(
            nacro_caseworker, accepted, session_fields(date=days_from_today(-days_ago), counts_as_rar_day=True)
        ).warnings
    third = record_session(nacro_caseworker, accepted, session_fields(counts_as_rar_day=True))
    assert "the 1 beyond the order will not count" in third.warnings[0]
    assert rar_days_counted(accepted, sessions_of(accepted)) == (2, 1)


def test_two_rar_sessions_on_one_day_are_one_rar_day(accepted, nacro_caseworker):
    yesterday = days_from_today(-1)
    record_session(nacro_caseworker, accepted, session_fields(start_time="09:00", counts_as_rar_day=True))
    second = record_session(
        nacro_caseworker, accepted, session_fields(date=yesterday, start_time="14:00", counts_as_rar_day=True)
    )
    assert not second.warnings
    assert rar_days_counted(accepted, sessions_of(accepted)) == (1, 0)


def test_a_session_on_a_custody_referral_cannot_count_as_a_rar_day(accepted, nacro_caseworker):
    accepted.location_type = LocationType.CUSTODY
    accepted.prison = "HMP Bedford"
    db.session.commit()
    with pytest.raises(ValidationFailed) as failure:
        record_session(nacro_caseworker, accepted, session_fields(counts_as_rar_day=True))
    assert "RAR days are for community orders" in failure.value.errors["counts_as_rar_day"][0]


def test_an_unacceptable_absence_alerts_the_referrer_at_once(accepted, nacro_caseworker, referrer):
    record_session(
        nacro_caseworker, accepted, session_fields(attendance="did_not_attend", non_attendance_reason="unacceptable")
    )
    alert = db.session.scalars(select(Alert)).one()
    assert alert.kind == AlertKind.UNACCEPTABLE_ABSENCE
    email = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == referrer.email)).one()
    assert "unacceptable absence" in email.subject
    assert [a.id for a in open_alerts(referrer)] == [alert.id]
    acknowledge_alert(referrer, alert)
    assert open_alerts(referrer) == []


def test_a_behaviour_concern_alerts_the_referrer(accepted, nacro_caseworker, referrer):
    record_session(
        nacro_caseworker, accepted, session_fields(behaviour_concern=True, concern_detail="Threatened staff.")
    )
    assert db.session.scalars(select(Alert.kind)).all() == [AlertKind.BEHAVIOUR_CONCERN]


def test_a_concern_added_on_a_later_edit_alerts_the_referrer_once(accepted, nacro_caseworker):
    session = record_session(nacro_caseworker, accepted, session_fields()).record
    assert db.session.scalars(select(Alert)).all() == []
    update_session(
        nacro_caseworker, session, session_fields(behaviour_concern=True, concern_detail="Shouted at reception.")
    )
    assert db.session.scalars(select(Alert.kind)).all() == [AlertKind.BEHAVIOUR_CONCERN]
    # Editing it again (the summary, say) does not raise the same alert twice.
    update_session(
        nacro_caseworker,
        session,
        session_fields(behaviour_concern=True, concern_detail="Shouted at reception.", summary="Mentoring."),
    )
    assert db.session.scalars(select(Alert.kind)).all() == [AlertKind.BEHAVIOUR_CONCERN]


def test_changing_attendance_to_an_unacceptable_absence_alerts_the_referrer(accepted, nacro_caseworker):
    session = record_session(nacro_caseworker, accepted, session_fields(attendance="late")).record
    update_session(
        nacro_caseworker, session, session_fields(attendance="did_not_attend", non_attendance_reason="unacceptable")
    )
    assert db.session.scalars(select(Alert.kind)).all() == [AlertKind.UNACCEPTABLE_ABSENCE]


def test_only_referrers_acknowledge_alerts_so_none_disappears_from_the_referrers_list(
    accepted, nacro_caseworker, referrer, contract_manager, admin
):
    record_session(
        nacro_caseworker, accepted, session_fields(attendance="did_not_attend", non_attendance_reason="unacceptable")
    )
    alert = db.session.scalars(select(Alert)).one()
    assert [a.id for a in open_alerts(contract_manager)] == [alert.id]  # managers see them
    for someone_else in (contract_manager, admin):
        with pytest.raises(NotAllowed):
            acknowledge_alert(someone_else, alert)
    assert [a.id for a in open_alerts(referrer)] == [alert.id]


def test_rescheduling_keeps_the_history(accepted, nacro_caseworker):
    session = record_session(nacro_caseworker, accepted, session_fields(date=days_from_today(2), attendance="")).record
    reschedule_session(
        nacro_caseworker,
        session,
        new_date=days_from_today(5),
        new_time="14:00",
        reason="Person has a medical appointment",
    )
    move = db.session.scalars(select(SessionReschedule)).one()
    assert (move.from_date, move.to_date, move.to_time) == (
        days_from_today(2),
        days_from_today(5),
        time(14, 0),
    )
    with pytest.raises(ValidationFailed):
        reschedule_session(nacro_caseworker, session, new_date=days_from_today(6), new_time="14:00", reason="")


def test_edits_are_audited_with_before_and_after_until_the_session_is_invoiced(accepted, nacro_caseworker, monkeypatch):
    session = record_session(nacro_caseworker, accepted, session_fields()).record
    update_session(nacro_caseworker, session, session_fields(duration_minutes=90))
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "session.updated")).one()
    assert event.details["changes"]["duration_minutes"] == {"before": 60, "after": 90}
    monkeypatch.setattr(corrections, "session_lock_checks", [lambda ids: {session.id} & set(ids)])
    with pytest.raises(ValidationFailed):
        update_session(nacro_caseworker, session, session_fields(duration_minutes=30))
    with pytest.raises(ValidationFailed):
        delete_session(nacro_caseworker, session)
    note = add_correction_note(nacro_caseworker, session=session, body="Was 60 minutes, not 90.")
    assert note.is_correction and db.session.get(Session, session.id).duration_minutes == 90


def test_only_the_partner_records_sessions(accepted, referrer, st_giles_caseworker):
    with pytest.raises(NotAllowed):
        record_session(referrer, accepted, session_fields())
    with pytest.raises(NotFound):
        record_session(st_giles_caseworker, accepted, session_fields())


def test_a_group_session_makes_one_session_each_and_alerts_for_the_unacceptable_absence(
    ttg_service, referrer, nacro_caseworker, accepted
):
    others = [
        ReferralFactory(
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            status=ReferralStatus.IN_PROGRESS,
            accepted_at=accepted.accepted_at,
        )
        for _ in range(2)
    ]
    group = record_group_session(
        nacro_caseworker,
        ttg_service,
        {
            "title": "Tenancy skills",
            "facilitator": "Cas Worker",
            "date": days_from_today(-1),
            "start_time": "13:00",
            "duration_minutes": 120,
        },
        [
            {"referral_id": accepted.id, "attendance": "attended"},
            {"referral_id": others[0].id, "attendance": "late"},
            {"referral_id": others[1].id, "attendance": "did_not_attend", "non_attendance_reason": "unacceptable"},
        ],
    ).record
    sessions = db.session.scalars(select(Session).where(Session.group_session_id == group.id)).all()
    assert len(sessions) == 3 and {s.kind.value for s in sessions} == {"group"}
    assert db.session.scalars(select(Alert.referral_id)).all() == [others[1].id]


def test_a_group_roster_of_another_contract_or_partner_is_refused(
    ttg_service, st_giles_contract, nacro_caseworker, accepted
):
    elsewhere = ReferralFactory(contract=st_giles_contract, service_code="ETE", status=ReferralStatus.IN_PROGRESS)
    with pytest.raises(ValidationFailed) as failure:
        record_group_session(
            nacro_caseworker,
            ttg_service,
            {
                "title": "Group",
                "facilitator": "Me",
                "date": days_from_today(-1),
                "start_time": "13:00",
                "duration_minutes": 60,
            },
            [
                {"referral_id": accepted.id, "attendance": "attended"},
                {"referral_id": elsewhere.id, "attendance": "attended"},
            ],
        )
    assert "roster-1" in failure.value.errors
    assert count(Session) == 0


# --- outcomes -----------------------------------------------------------------------------------------


@pytest.fixture
def first_night(ttg_service):
    outcome_type = OutcomeTypeFactory(
        contract=ttg_service, code="accommodation_secured_first_night", name="Accommodation on the first night"
    )
    RateCardItemFactory(
        contract=ttg_service, code="ACC-NIGHT", service_code="ACC-TTG", unit=Unit.PER_OUTCOME, outcome_type=outcome_type
    )
    return outcome_type


@pytest.fixture
def storage(app, tmp_path):
    previous = app.config["STORAGE_DIR"]
    for flask_app in (app,):
        flask_app.config["STORAGE_DIR"] = tmp_path
    from flask import current_app

    current_app.config["STORAGE_DIR"] = tmp_path
    yield tmp_path
    app.config["STORAGE_DIR"] = previous


def stored_files(storage):
    return sorted(path.name for path in (storage / "evidence").glob("*")) if (storage / "evidence").exists() else []


def claim(actor, referral, outcome_type, files=(), **overrides):
    fields = {
        "outcome_type_id": outcome_type.id,
        "achieved_on": days_from_today(-1),
        "evidence": "Tenancy agreement seen and copied.",
    } | overrides
    return claim_outcome(actor, referral, fields, list(files))


def test_partner_claims_an_outcome_with_evidence_files_checked_by_content(
    accepted, nacro_caseworker, first_night, storage
):
    outcome = claim(
        nacro_caseworker, accepted, first_night, [("tenancy.pdf", PDF), ("photo.png", PNG), ("letter.docx", docx())]
    )
    assert outcome.status == OutcomeStatus.CLAIMED
    files = db.session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)).all()
    assert [f.content_type for f in files] == [
        "application/pdf",
        "image/png",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]
    assert sorted(f.stored_name for f in files) == stored_files(storage)
    assert all(not name.startswith(".staging") for name in stored_files(storage))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("report.pdf", b"MZ\x90\x00" + b"\x00" * 200, "must be a PDF, JPEG, PNG or Word"),
        ("big.pdf", PDF + b"0" * (10 * 1024 * 1024), "smaller than 10 MB"),
        ("empty.pdf", b"", "is empty"),
    ],
)
def test_bad_evidence_is_refused_and_nothing_is_half_written(
    accepted, nacro_caseworker, first_night, storage, name, content, message
):
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, accepted, first_night, [("good.pdf", PDF), (name, content)])
    assert message in failure.value.errors["evidence_files"][0]
    assert count(Outcome) == 0 and count(EvidenceFile) == 0
    assert stored_files(storage) == []


def test_an_outcome_type_must_be_on_the_contract_and_the_date_sensible(
    accepted, nacro_caseworker, first_night, st_giles_contract, storage
):
    elsewhere = OutcomeTypeFactory(contract=st_giles_contract, code="entered_employment")
    for overrides, field in (
        ({"outcome_type_id": elsewhere.id}, "outcome_type_id"),
        ({"achieved_on": days_from_today(1)}, "achieved_on"),
        ({"evidence": ""}, "evidence"),
    ):
        with pytest.raises(ValidationFailed) as failure:
            claim(nacro_caseworker, accepted, first_night, **overrides)
        assert field in failure.value.errors


def test_the_same_outcome_cannot_be_claimed_twice_for_the_same_day(accepted, nacro_caseworker, first_night, storage):
    first = claim(nacro_caseworker, accepted, first_night)
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, accepted, first_night)
    assert "already claimed for this referral" in failure.value.errors["outcome_type_id"][0]
    # Its own edit is not a duplicate of itself.
    update_outcome(
        nacro_caseworker,
        first,
        {"outcome_type_id": first_night.id, "achieved_on": first.achieved_on, "evidence": "Seen."},
    )


def test_the_crc_verifies_or_rejects_with_a_reason_and_a_rejected_claim_can_be_made_again(
    accepted, nacro_caseworker, referrer, contract_manager, first_night, storage
):
    first = claim(nacro_caseworker, accepted, first_night)
    with pytest.raises(ValidationFailed):
        reject_outcome(referrer, first, reason="")
    reject_outcome(referrer, first, reason="The tenancy starts next month.")
    assert first.status == OutcomeStatus.REJECTED
    again = reclaim_outcome(
        nacro_caseworker,
        first,
        {"achieved_on": london_today(), "evidence": "Keys handed over."},
        [("keys.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64)],
    )
    assert again.previous_claim_id == first.id
    verify_outcome(contract_manager, again)
    assert again.status == OutcomeStatus.VERIFIED
    with pytest.raises(ValidationFailed):
        update_outcome(
            nacro_caseworker,
            again,
            {"outcome_type_id": first_night.id, "achieved_on": london_today(), "evidence": "changed"},
        )
    with pytest.raises(InvalidTransition):
        reject_outcome(referrer, again, reason="Changed my mind")
    decided = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == nacro_caseworker.email)).all()
    assert [e.subject.split()[-1] for e in decided] == ["rejected", "verified"]


def test_partners_cannot_verify_their_own_outcomes(
    accepted, nacro_caseworker, nacro_manager, st_giles_manager, first_night, storage
):
    outcome = claim(nacro_caseworker, accepted, first_night)
    with pytest.raises(NotAllowed):
        verify_outcome(nacro_manager, outcome)
    with pytest.raises(NotFound):
        verify_outcome(st_giles_manager, outcome)


def test_a_claimed_outcome_can_be_withdrawn_and_its_files_go_too(accepted, nacro_caseworker, first_night, storage):
    outcome = claim(nacro_caseworker, accepted, first_night, [("tenancy.pdf", PDF)])
    delete_outcome(nacro_caseworker, outcome)
    assert count(Outcome) == 0 and stored_files(storage) == []


# --- end of service ------------------------------------------------------------------------------------


def test_the_end_of_service_report_completes_the_referral_and_tells_the_referrer(accepted, nacro_caseworker, referrer):
    with pytest.raises(ValidationFailed) as failure:
        complete_referral(nacro_caseworker, accepted, summary="", outcomes=[])
    assert {"summary", "outcomes-0"} <= set(failure.value.errors)
    report = complete_referral(
        nacro_caseworker,
        accepted,
        summary="Housed in a supported tenancy.",
        outcomes=[
            {
                "desired_outcome": "Find settled accommodation",
                "achievement": "partially_achieved",
                "comment": "Supported housing for now.",
            }
        ],
        further_needs="Debt advice.",
    )
    assert accepted.status == ReferralStatus.COMPLETED
    assert report.outcomes[0]["achievement"] == "partially_achieved"
    assert db.session.scalars(select(OutboundEmail.subject).where(OutboundEmail.recipient == referrer.email)).all() == [
        f"Referral {accepted.reference} is complete"
    ]
    with pytest.raises(InvalidTransition):
        complete_referral(nacro_caseworker, accepted, summary="again", outcomes=report.outcomes)
    assert count(EndOfServiceReport) == 1


def test_evidence_names_are_checked_before_serving(storage):
    with pytest.raises(ValueError):
        evidence.path_of("../../etc/passwd")


def test_case_notes_with_corrections_are_still_never_edited(accepted, nacro_caseworker):
    session = record_session(nacro_caseworker, accepted, session_fields()).record
    note = add_correction_note(nacro_caseworker, session=session, body="Wrong room recorded.")
    assert db.session.get(CaseNote, note.id).session_id == session.id


def test_deleting_the_only_attended_session_undoes_first_contact_and_restarts_its_clock(accepted, nacro_caseworker):
    session = record_session(nacro_caseworker, accepted, session_fields()).record
    assert accepted.status == ReferralStatus.IN_PROGRESS and accepted.first_contact_at is not None
    delete_session(nacro_caseworker, session)
    db.session.refresh(accepted)
    assert accepted.status == ReferralStatus.ACCEPTED and accepted.first_contact_at is None
    assert "referral.first_contact_undone" in db.session.scalars(select(AuditEvent.action)).all()


def test_marking_the_first_session_missed_moves_first_contact_to_the_next_attended_one(accepted, nacro_caseworker):
    first = record_session(nacro_caseworker, accepted, session_fields(date=days_from_today(-3))).record
    record_session(nacro_caseworker, accepted, session_fields(date=days_from_today(-1)))
    update_session(
        nacro_caseworker,
        first,
        session_fields(date=days_from_today(-3), attendance="did_not_attend", non_attendance_reason="acceptable"),
    )
    db.session.refresh(accepted)
    assert accepted.status == ReferralStatus.IN_PROGRESS
    assert london_day(accepted.first_contact_at) == days_from_today(-1)


def test_completing_or_withdrawing_a_referral_cancels_its_booked_sessions_and_tells_the_caseworker(
    ttg_service, referrer, nacro_caseworker
):
    from sqlalchemy import select as select_

    from portal.delivery.models import Session as Session_
    from portal.notifications.models import OutboundEmail
    from portal.referrals import service as referrals
    from tests.factories import ReferralFactory, SessionFactory

    referral = ReferralFactory(
        contract=ttg_service, service_code="ACC-TTG", in_progress=True, referrer=referrer, caseworker=nacro_caseworker
    )
    held = SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=days_from_today(-3))
    SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=days_from_today(2), attendance=None)
    SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=days_from_today(9), attendance=None)
    referrals.withdraw_referral(referrer, referral, reason_code="moved_out_of_area", detail="Moved to Leeds")
    left = db.session.scalars(select_(Session_.id).where(Session_.referral_id == referral.id)).all()
    assert left == [held.id]
    [email] = db.session.scalars(
        select_(OutboundEmail).where(
            OutboundEmail.recipient == nacro_caseworker.email, OutboundEmail.template == "sessions_cancelled"
        )
    ).all()
    assert email.subject == f"2 booked sessions cancelled on referral {referral.reference}"
