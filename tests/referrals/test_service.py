"""Referral operations: the CRC sends, the partner answers, both follow the case, risk first."""

import re
import threading
from datetime import date

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts.service import end_contract
from portal.dates import london_today
from portal.errors import InvalidTransition, NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.notifications.models import OutboundEmail
from portal.people.models import Person
from portal.referrals import service
from portal.referrals.models import (
    CaseNote,
    CaseNotesAreFinal,
    Referral,
    ReferralEvent,
    ReferralEventKind,
    ReferralStatus,
)
from portal.working_days import add_working_days
from tests.factories import (
    ContractFactory,
    CrcFactory,
    PersonFactory,
    RateCardItemFactory,
    ReferralFactory,
    UserFactory,
)
from tests.helpers import DaysFromToday, dated, days_from_today


def whole_referral(contract, **overrides):
    fields = {
        "contract_id": contract.id,
        "service_code": "ACC-TTG",
        "crn": "x123456",
        "given_name": "Jamie",
        "family_name": "Walker",
        "date_of_birth": date(1990, 4, 1),
        "gender": "male",
        "ethnicity": "white_british",
        "disability": "no",
        "prison_number": "a1234bc",
        "interpreter_language": "",
        "location_type": "custody",
        "prison": "HMP Bedford",
        "expected_release_date": days_from_today(30),
        "community_office": "",
        "postcode": "",
        "contact_details": "",
        "rosh_level": "medium",
        "risk_flags": ["domestic_abuse", "child_safeguarding"],
        "risk_summary": "Domestic abuse towards former partner; children subject to a child protection plan.",
        "complexity": "high",
        "desired_outcomes": ["Settled accommodation on release", "Open a bank account"],
        "reason": "No fixed abode on release.",
        "rar_days": None,  # someone in custody has no RAR days
        "sentence_end_date": days_from_today(400),
        "urgent": False,
        "colour_band": "",
    }
    return fields | overrides


def emails_to(address):
    return db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)).all()


def timeline_kinds(referral):
    return db.session.scalars(
        select(ReferralEvent.kind).where(ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.id)
    ).all()


@pytest.fixture
def sent(referrer, ttg_service, nacro_manager):
    return service.create_and_send(referrer, whole_referral(ttg_service))


def on_a_community_order(contract, **overrides):
    return whole_referral(
        contract,
        location_type="community",
        prison="",
        expected_release_date=None,
        community_office="Bedford probation office",
        rar_days=10,
        **overrides,
    )


@pytest.fixture
def sent_community(referrer, ttg_service, nacro_manager):
    return service.create_and_send(referrer, on_a_community_order(ttg_service))


# --- drafting and sending ---------------------------------------------------------------------


def test_referrer_drafts_a_referral_step_by_step_and_sends_it(referrer, ttg_service, nacro_manager):
    draft = service.start_draft(referrer)
    fields = whole_referral(ttg_service)
    for step in service.STEPS:
        assert step in service.missing_steps(draft)
        service.save_step(referrer, draft, step, fields)
    assert service.missing_steps(draft) == []
    sent = service.send_referral(referrer, draft)

    assert re.fullmatch(r"[A-HJ-NP-Z]{2}\d{4}[A-HJ-NP-Z]{2}", sent.reference)
    assert "I" not in sent.reference and "O" not in sent.reference
    assert sent.status == ReferralStatus.SENT
    assert sent.accept_due_on == add_working_days(london_today(), 2)
    assert timeline_kinds(sent) == [ReferralEventKind.SENT]
    assert "referral.sent" in db.session.scalars(select(AuditEvent.action)).all()
    assert len(emails_to("referrals@nacro.example")) == 1
    [email] = emails_to(nacro_manager.email)
    assert sent.reference in email.subject
    assert "Jamie" not in email.body_text, "emails carry the reference, not the person's name"


def test_an_incomplete_draft_cannot_be_sent(referrer, ttg_service):
    draft = service.start_draft(referrer)
    service.save_step(referrer, draft, "service", whole_referral(ttg_service))
    with pytest.raises(ValidationFailed) as failure:
        service.send_referral(referrer, draft)
    assert set(failure.value.errors) == {"person", "location", "risk", "needs"}
    assert draft.status == ReferralStatus.DRAFT


def test_a_referral_to_an_existing_crn_reuses_the_person(referrer, ttg_service):
    first = service.create_and_send(referrer, whole_referral(ttg_service))
    second = service.create_and_send(referrer, whole_referral(ttg_service, given_name="James"))
    assert first.person_id == second.person_id
    assert db.session.get(Person, first.person_id).given_name == "James"
    assert len(db.session.scalars(select(Person)).all()) == 1


def test_a_mistyped_crn_cannot_rewrite_someone_elses_record(referrer, ttg_service):
    first = service.create_and_send(referrer, whole_referral(ttg_service))
    someone_else = whole_referral(ttg_service, family_name="Okonkwo", date_of_birth=date(1971, 2, 3))
    with pytest.raises(ValidationFailed) as failure:
        service.create_and_send(referrer, someone_else)
    assert "already recorded for someone with a different surname and date of birth" in failure.value.errors["crn"][0]
    person = db.session.get(Person, first.person_id)
    assert person.family_name != "Okonkwo"
    # A correction of one of them (a typo in the date of birth, a new surname) is still allowed.
    service.create_and_send(referrer, whole_referral(ttg_service, date_of_birth=date(1971, 2, 3)))
    assert db.session.get(Person, first.person_id).date_of_birth == date(1971, 2, 3)


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"crn": "12345"}, "crn", "Enter a CRN in the correct format, like X123456"),
        ({"prison_number": "1234ABC"}, "prison_number", "like A1234BC"),
        ({"date_of_birth": DaysFromToday(1)}, "date_of_birth", "must be in the past"),
        ({"date_of_birth": DaysFromToday(-17 * 365)}, "date_of_birth", "18 or over"),
        ({"expected_release_date": DaysFromToday(-1)}, "expected_release_date", "today or in the future"),
        ({"rar_days": 61}, "rar_days", "from 0 to 60"),
        ({"rar_days": -1}, "rar_days", "from 0 to 60"),
        ({"rar_days": 5}, "rar_days", "RAR days are for community orders: leave RAR days empty for someone in custody"),
        ({"service_code": "OLD-SVC"}, "service_code", "Select a service this contract provides"),
        ({"service_code": "GRANT"}, "service_code", "Select a service this contract provides"),
        ({"rosh_level": "high"}, "rosh_level", "low or medium"),
        ({"risk_flags": ["gang_affiliation"]}, "risk_flags", "Unknown risk flag"),
        ({"risk_summary": " "}, "risk_summary", "Enter a summary"),
        ({"desired_outcomes": []}, "desired_outcomes", "at least one outcome"),
        ({"ethnicity": "martian"}, "ethnicity", "ethnic group"),
        ({"location_type": "community", "community_office": ""}, "community_office", "probation office"),
        (
            {"location_type": "community", "community_office": "Luton", "postcode": "NOT A CODE"},
            "postcode",
            "real postcode",
        ),
    ],
)
def test_bad_details_are_refused_naming_the_field_and_nothing_is_saved(referrer, ttg_service, override, field, message):
    with pytest.raises(ValidationFailed) as failure:
        service.create_and_send(referrer, whole_referral(ttg_service, **dated(override)))
    assert message in failure.value.errors[field][0]
    assert db.session.scalars(select(Referral)).all() == []
    assert db.session.scalars(select(Person)).all() == []


def test_every_bad_field_is_reported_at_once(referrer, ttg_service):
    with pytest.raises(ValidationFailed) as failure:
        service.create_and_send(referrer, whole_referral(ttg_service, crn="bad", rar_days=99, rosh_level=""))
    assert {"crn", "rar_days", "rosh_level"} <= set(failure.value.errors)


def test_a_contract_the_referrers_crc_does_not_hold_is_refused(referrer, nacro):
    elsewhere = ContractFactory(crc=CrcFactory(name="Another CRC"), partner=nacro)
    RateCardItemFactory(contract=elsewhere, service_code="ACC-TTG")
    with pytest.raises(ValidationFailed) as failure:
        service.create_and_send(referrer, whole_referral(elsewhere))
    assert "contract_id" in failure.value.errors


def test_a_draft_or_ended_contract_is_refused(referrer, ttg_service):
    end_contract(None, ttg_service, end_date=ttg_service.end_date)
    with pytest.raises(ValidationFailed) as failure:
        service.create_and_send(referrer, whole_referral(ttg_service))
    assert "contract_id" in failure.value.errors


@pytest.mark.parametrize("who", ["nacro_manager", "contract_manager", "admin"])
def test_only_referrers_draft_referrals(request, who):
    with pytest.raises(NotAllowed):
        service.start_draft(request.getfixturevalue(who))


# --- the partner's answer ----------------------------------------------------------------------


def test_accepting_needs_the_risk_information_read_and_records_it(sent, nacro_manager, nacro_caseworker, referrer):
    with pytest.raises(ValidationFailed) as failure:
        service.accept_referral(nacro_manager, sent, risk_information_read=False)
    assert "Confirm you have read the risk information" in failure.value.errors["risk_information_read"][0]
    assert sent.status == ReferralStatus.SENT

    service.accept_referral(nacro_manager, sent, risk_information_read=True, caseworker=nacro_caseworker.email)
    assert sent.status == ReferralStatus.ACCEPTED
    assert sent.risk_confirmed_by_id == nacro_manager.id and sent.risk_confirmed_at is not None
    assert sent.caseworker_id == nacro_caseworker.id
    assert sent.first_contact_due_on == add_working_days(london_today(), 5)
    assert timeline_kinds(sent) == [ReferralEventKind.SENT, ReferralEventKind.ACCEPTED, ReferralEventKind.ASSIGNED]
    assert [e.subject for e in emails_to(referrer.email)] == [f"Referral {sent.reference} has been accepted"]
    assert len(emails_to(nacro_caseworker.email)) == 1
    accepted = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.accepted")).one()
    assert accepted.details["risk_information_read"] is True


def test_only_the_partners_managers_answer(sent, nacro_caseworker, st_giles_manager, referrer):
    with pytest.raises(NotAllowed):
        service.accept_referral(nacro_caseworker, sent, risk_information_read=True)
    with pytest.raises(NotFound):
        service.accept_referral(st_giles_manager, sent, risk_information_read=True)
    with pytest.raises(NotAllowed):
        service.decline_referral(referrer, sent, reason_code="no_capacity", detail="x")


def test_a_caseworker_must_belong_to_the_partner(sent, nacro_manager, st_giles_caseworker):
    with pytest.raises(ValidationFailed) as failure:
        service.accept_referral(nacro_manager, sent, risk_information_read=True, caseworker=st_giles_caseworker.id)
    assert "caseworker" in failure.value.errors
    assert sent.status == ReferralStatus.SENT


def test_declining_needs_a_reason_code_and_detail(sent, nacro_manager, referrer):
    with pytest.raises(ValidationFailed) as failure:
        service.decline_referral(nacro_manager, sent, reason_code="bored", detail="")
    assert set(failure.value.errors) == {"reason_code", "detail"}
    service.decline_referral(nacro_manager, sent, reason_code="no_capacity", detail="Caseloads full until March.")
    assert sent.status == ReferralStatus.DECLINED
    assert sent.decline_reason.value == "no_capacity"
    assert emails_to(referrer.email)[0].subject == f"Referral {sent.reference} has been declined"


def test_acting_in_the_wrong_state_is_refused_and_changes_nothing(sent, nacro_manager, referrer):
    service.withdraw_referral(referrer, sent, reason_code="moved_out_of_area", detail="Moved to Kent.")
    with pytest.raises(InvalidTransition, match="waiting for an answer"):
        service.accept_referral(nacro_manager, sent, risk_information_read=True)
    with pytest.raises(InvalidTransition):
        service.withdraw_referral(referrer, sent, reason_code="other", detail="again")
    assert sent.status == ReferralStatus.WITHDRAWN


def test_reassigning_keeps_the_history(sent, nacro_manager, nacro_caseworker, nacro):
    second = UserFactory(organisation=nacro, name="Second Worker", email="second@nacro.example")
    service.accept_referral(nacro_manager, sent, risk_information_read=True, caseworker=nacro_caseworker)
    service.assign_caseworker(nacro_manager, sent, caseworker=second.id)
    summaries = db.session.scalars(
        select(ReferralEvent.summary).where(ReferralEvent.kind == ReferralEventKind.ASSIGNED).order_by(ReferralEvent.id)
    ).all()
    assert summaries == ["Assigned to Cas Worker", "Assigned to Second Worker (was Cas Worker)"]


# --- withdrawing and amending ---------------------------------------------------------------------


def test_withdrawing_tells_the_partner(sent, nacro_manager, nacro_caseworker, referrer):
    service.accept_referral(nacro_manager, sent, risk_information_read=True, caseworker=nacro_caseworker)
    service.withdraw_referral(referrer, sent, reason_code="recalled", detail="Recalled on 1 December.")
    assert sent.status == ReferralStatus.WITHDRAWN
    assert sent.withdraw_reason.group == "The sentence changed"
    assert any("withdrawn" in e.subject for e in emails_to(nacro_manager.email))
    assert any("withdrawn" in e.subject for e in emails_to(nacro_caseworker.email))


def test_amending_needs_a_reason_and_is_logged_with_before_and_after(sent_community, referrer, nacro_manager):
    sent = sent_community
    with pytest.raises(ValidationFailed) as failure:
        service.amend_referral(referrer, sent, changes_wanted={"rar_days": 15}, reason="")
    assert "reason" in failure.value.errors
    service.amend_referral(
        referrer, sent, changes_wanted={"rar_days": 15, "risk_flags": ["violence"]}, reason="Court varied the order"
    )
    assert sent.rar_days == 15 and sent.risk_flags == ["violence"]
    event = db.session.scalars(select(ReferralEvent).where(ReferralEvent.kind == ReferralEventKind.AMENDED)).one()
    assert event.details["reason"] == "Court varied the order"
    assert event.details["changes"]["rar_days"] == {"before": 10, "after": 15}
    assert any("amended" in e.subject for e in emails_to(nacro_manager.email))
    assert "risk information has changed" in emails_to(nacro_manager.email)[-1].body_text


def test_amendments_keep_the_rules(sent_community, referrer):
    sent = sent_community
    for wanted, field in (
        ({"rar_days": 99}, "rar_days"),
        ({"expected_release_date": days_from_today(-3)}, "expected_release_date"),
        ({"service_code": "OTHER"}, "service_code"),
        ({"desired_outcomes": []}, "desired_outcomes"),
    ):
        with pytest.raises(ValidationFailed) as failure:
            service.amend_referral(referrer, sent, changes_wanted=wanted, reason="because")
        assert field in failure.value.errors
    assert sent.rar_days == 10


def test_a_custody_referral_cannot_be_amended_to_have_rar_days(sent, referrer):
    with pytest.raises(ValidationFailed) as failure:
        service.amend_referral(referrer, sent, changes_wanted={"rar_days": 5}, reason="Court order")
    assert "RAR days are for community orders" in failure.value.errors["rar_days"][0]
    assert sent.rar_days is None


def test_a_community_referral_keeps_its_rar_days(sent_community):
    assert sent_community.rar_days == 10


# --- case notes --------------------------------------------------------------------------------


def test_both_sides_add_case_notes_which_are_never_edited(sent, referrer, nacro_manager, st_giles_manager):
    service.add_case_note(referrer, sent, "Spoke to the prison OMU: release date confirmed.")
    note = service.add_case_note(nacro_manager, sent, "Housing options assessment booked.")
    with pytest.raises(NotFound):
        service.add_case_note(st_giles_manager, sent, "Nosy")
    with pytest.raises(ValidationFailed):
        service.add_case_note(referrer, sent, "   ")
    note.body = "Rewritten history"
    with pytest.raises(CaseNotesAreFinal):
        db.session.commit()
    db.session.rollback()
    assert len(db.session.scalars(select(CaseNote)).all()) == 2


# --- concurrency ------------------------------------------------------------------------------------


def test_a_stale_answer_is_refused(sent, nacro_manager, nacro):
    other_manager = UserFactory(organisation=nacro, role=nacro_manager.role, email="other.manager@nacro.example")
    version_both_saw = sent.version
    service.accept_referral(nacro_manager, sent, risk_information_read=True, version=version_both_saw)
    with pytest.raises(StaleRecord, match="changed by someone else"):
        service.decline_referral(
            other_manager, sent, reason_code="no_capacity", detail="Full", version=version_both_saw
        )


def test_two_managers_answering_at_the_same_moment_exactly_one_wins(app, sent, nacro_manager, nacro):
    """Two requests, each in its own session and transaction, racing for the same referral."""
    other_manager = UserFactory(organisation=nacro, role=nacro_manager.role, email="other.manager@nacro.example")
    reference, version = sent.reference, sent.version
    manager_ids = [nacro_manager.id, other_manager.id]
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def answer(user_id: int, accept: bool) -> None:
        with app.app_context():
            from portal.accounts.models import User

            user = db.session.get(User, user_id)
            referral = db.session.scalars(select(Referral).where(Referral.reference == reference)).one()
            barrier.wait()
            try:
                if accept:
                    service.accept_referral(user, referral, risk_information_read=True, version=version)
                else:
                    service.decline_referral(user, referral, reason_code="no_capacity", detail="Full", version=version)
                outcomes.append("won")
            except StaleRecord:
                outcomes.append("stale")
            except Exception as error:  # noqa: BLE001 - SQLite may refuse the second writer outright
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=answer, args=(manager_ids[0], True)),
        threading.Thread(target=answer, args=(manager_ids[1], False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["stale", "won"]
    final = db.session.scalars(select(Referral).where(Referral.reference == reference)).one()
    assert final.status in (ReferralStatus.ACCEPTED, ReferralStatus.DECLINED)
    assert final.version == version + 1


def test_drafts_are_invisible_to_partners(referrer, ttg_service, nacro_manager):
    from portal import access

    draft = service.start_draft(referrer)
    service.save_step(referrer, draft, "service", whole_referral(ttg_service))
    assert db.session.scalars(access.visible(Referral, nacro_manager)).all() == []
    sent = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", person=PersonFactory())
    assert db.session.scalars(access.visible(Referral, nacro_manager)).all() == [sent]
