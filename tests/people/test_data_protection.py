"""Data protection: an administrator downloads everything held about one person (subject access);
the retention rule anonymises people seven years after their last referral ended, keeping the
figures invoices need; a privacy notice is one click from every page."""

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.dates import london_today
from portal.delivery import outcomes, sessions
from portal.delivery.models import EvidenceFile, Outcome, Session
from portal.extensions import db
from portal.people.models import Person
from portal.referrals.models import CaseNote, Referral, ReferralStatus
from portal.referrals.service import REFERRAL_WORKFLOW
from tests.factories import OutcomeTypeFactory, ReferralFactory
from tests.helpers import text_of

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def storage(app, observer_app, tmp_path):
    previous = app.config["STORAGE_DIR"]
    app.config["STORAGE_DIR"] = observer_app.config["STORAGE_DIR"] = tmp_path
    yield tmp_path
    app.config["STORAGE_DIR"] = observer_app.config["STORAGE_DIR"] = previous


@pytest.fixture
def worked(referrer, nacro_caseworker, ttg_service, storage):
    """A referral with a session, a case note and an outcome claimed with an evidence file."""
    nacro_referral = ReferralFactory(
        reference="NC2345AB",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        caseworker=nacro_caseworker,
        in_progress=True,
    )
    db.session.add(
        CaseNote(referral_id=nacro_referral.id, author_id=nacro_caseworker.id, body="Told me about his brother.")
    )
    db.session.commit()
    day = london_today() - timedelta(days=2)
    sessions.record_session(
        nacro_caseworker,
        nacro_referral,
        {"date": day, "start_time": "10:00", "duration_minutes": 60, "kind": "one_to_one",
         "attendance": "attended", "summary": "Talked through the tenancy."},
    )  # fmt: skip
    outcome_type = OutcomeTypeFactory(contract=ttg_service, recorded_unpaid=True)
    outcomes.claim_outcome(
        nacro_caseworker,
        nacro_referral,
        {"outcome_type_id": outcome_type.id, "achieved_on": day, "evidence": "Tenancy agreement signed."},
        [("tenancy.pdf", PDF)],
    )
    return nacro_referral


def test_an_administrator_downloads_everything_held_about_a_person(portal, admin, worked):
    person = db.session.get(Person, worked.person_id)
    portal.sign_in(admin)
    found = portal.get("/people/", query_string={"crn": person.crn.lower()})
    assert f"{person.full_name} ({person.crn})" in text_of(found)
    page = portal.get(f"/people/{person.id}")
    assert "Download everything held about" in text_of(page)
    response = portal.get(f"/people/{person.id}/subject-access.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert "records.json" in names and "summary.pdf" in names
    assert [name for name in names if name.startswith("evidence/")] == [
        f"evidence/{db.session.scalar(select(EvidenceFile.id))}-tenancy.pdf"
    ]
    records = json.loads(archive.read("records.json"))
    assert records["person"]["crn"] == person.crn
    [referral] = records["referrals"]
    assert referral["reference"] == worked.reference
    assert [note["body"] for note in referral["case_note"]] == ["Told me about his brother."]
    assert [s["summary"] for s in referral["delivery_session"]] == ["Talked through the tenancy."]
    assert [o["evidence"] for o in referral["outcome"]] == ["Tenancy agreement signed."]
    summary = "".join(page.extract_text() for page in PdfReader(io.BytesIO(archive.read("summary.pdf"))).pages)
    assert person.full_name in summary and "Told me about his brother." in summary
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "person.subject_access_exported")).one()
    assert event.actor_id == admin.id and event.details["referrals"] == 1 and event.details["evidence_files"] == 1


def test_only_administrators_export_and_only_their_own_crcs_people(portal, contract_manager, worked, admin):
    from tests.factories import CrcFactory, UserFactory

    person_id = worked.person_id
    portal.sign_in(contract_manager)
    assert portal.get(f"/people/{person_id}/subject-access.zip").status_code == 403
    assert portal.get("/people/").status_code == 403
    other_admin = UserFactory(email="admin@other-crc.example", role=admin.role, organisation=CrcFactory())
    other = portal.__class__(portal.client.application.test_client())
    other.sign_in(other_admin)
    assert other.get(f"/people/{person_id}").status_code == 404
    assert other.get(f"/people/{person_id}/subject-access.zip").status_code == 404


def ended_years_ago(referral, years, days=1):
    """Completed that long ago: staged through the referral's own workflow, which stamps it."""
    ended = datetime.now(UTC) - timedelta(days=365 * years + 2 + days)
    REFERRAL_WORKFLOW.apply(referral, "complete", db.session.get(User, referral.caseworker_id), at=ended)
    db.session.commit()


def test_the_retention_rule_dry_run_lists_and_changes_nothing(runner, worked):
    ended_years_ago(worked, 7)
    result = runner.invoke(args=["people", "retention", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would anonymise 1 person(s)" in result.output
    assert f"person {worked.person_id}: last referral ended" in result.output
    person = db.session.get(Person, worked.person_id)
    assert person.anonymised_at is None and person.crn not in result.output and person.family_name not in result.output


def test_people_within_seven_years_are_kept(runner, worked):
    ended_years_ago(worked, 6)
    assert "Anonymised 0 person(s)" in runner.invoke(args=["people", "retention"]).output


def test_people_with_a_live_referral_are_kept_however_long_ago_another_ended(runner, worked, ttg_service):
    ended_years_ago(worked, 8)
    ReferralFactory(
        person=db.session.get(Person, worked.person_id), contract=ttg_service, service_code="ACC-TTG", in_progress=True
    )
    assert "Anonymised 0 person(s)" in runner.invoke(args=["people", "retention"]).output


def test_the_retention_rule_anonymises_keeping_the_figures(runner, worked, storage):
    ended_years_ago(worked, 8)
    stored = storage / "evidence" / db.session.scalar(select(EvidenceFile.stored_name))
    assert stored.exists()
    session_before = db.session.scalars(select(Session)).one()
    figures = (session_before.date, session_before.duration_minutes, session_before.attendance)

    result = runner.invoke(args=["people", "retention"])
    assert "Anonymised 1 person(s)" in result.output, result.output

    db.session.expire_all()
    person = db.session.get(Person, worked.person_id)
    assert (person.given_name, person.family_name, person.date_of_birth.year) == ("Anonymised", "person", 1900)
    assert person.crn.startswith("#") and person.anonymised_at is not None
    referral = db.session.get(Referral, worked.id)
    assert referral.reference == worked.reference and referral.status == ReferralStatus.COMPLETED
    assert "removed" in referral.risk_summary and referral.contact_details is None
    assert db.session.scalar(select(CaseNote.body)).startswith("[removed")
    session = db.session.scalars(select(Session)).one()
    assert session.summary is None and (session.date, session.duration_minutes, session.attendance) == figures
    assert db.session.scalar(select(Outcome.evidence)).startswith("[removed")
    assert not stored.exists()
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == "person.anonymised"
    assert "Anonymised 0 person(s)" in runner.invoke(args=["people", "retention"]).output  # once only


def test_the_retention_period_is_configurable(runner, worked, observer_app, monkeypatch):
    monkeypatch.setitem(observer_app.config, "RETENTION_YEARS", 2)
    ended_years_ago(worked, 3)
    assert "Would anonymise 1 person(s)" in runner.invoke(args=["people", "retention", "--dry-run"]).output


def test_the_privacy_notice_is_linked_from_every_page(client):
    home = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/privacy">Privacy notice</a>' in home
    notice = text_of(client.get("/privacy"))
    assert "kept for 7 years after their last referral ends" in notice
    assert "subject access request" in notice
