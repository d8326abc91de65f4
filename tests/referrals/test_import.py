"""Bulk import of referrals from a CSV extract: all or nothing, row errors, a preview, progress."""

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.contracts.service import end_contract
from portal.csv_files import FileRejected
from portal.extensions import db
from portal.referrals import bulk_import
from portal.referrals.models import ImportStatus, Referral, ReferralImport
from tests.helpers import QueryCounter, days_from_today, text_of


def row(**overrides):
    values = {
        "contract": "BENCH-ACC-01",
        "service_code": "ACC-TTG",
        "crn": "X100001",
        "given_name": "Ali",
        "family_name": "Khan",
        "date_of_birth": "1991-05-05",
        "gender": "male",
        "ethnicity": "asian_pakistani",
        "disability": "no",
        "prison_number": "",
        "interpreter_language": "",
        "location_type": "community",
        "prison": "",
        "expected_release_date": "",
        "community_office": "Luton",
        "postcode": "LU1 2PJ",
        "contact_details": "",
        "rosh_level": "low",
        "risk_flags": "",
        "risk_summary": "No known risks to others.",
        "complexity": "low",
        "desired_outcomes": "Stable tenancy|Debt plan",
        "reason": "Rent arrears.",
        "rar_days": "",
        "sentence_end_date": days_from_today(300).isoformat(),
        "urgent": "no",
        "colour_band": "",
    }
    return values | overrides


def csv_bytes(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=bulk_import.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def upload(portal, content, filename="referrals.csv"):
    portal.get("/referrals/import")
    return portal.post(
        "/referrals/import", {"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data"
    )


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_referrer_imports_a_file_after_a_preview(portal, ttg_service, referrer, nacro_manager):
    rows = [row(crn=f"X10000{n}", given_name=f"Person{n}") for n in range(1, 4)]
    rows[1] |= {
        "location_type": "custody",
        "prison": "HMP Bedford",
        "expected_release_date": days_from_today(9).isoformat(),
        "risk_flags": "violence;arson",
    }
    portal.sign_in(referrer)
    response = upload(portal, csv_bytes(rows))
    assert response.status_code == 302
    preview = portal.get(response.headers["Location"])
    assert "Check the referrals before sending" in text_of(preview)
    assert "Person2" in text_of(preview) and "HMP Bedford" in text_of(preview)
    assert count(Referral) == 0

    done = portal.post(response.headers["Location"])
    assert done.status_code == 302
    result = text_of(portal.get(done.headers["Location"]))
    assert "3 referrals sent" in result
    assert count(Referral) == 3
    references = re.findall(r"\b[A-Z]{2}\d{4}[A-Z]{2}\b", result)
    assert len(set(references)) == 3
    custody = db.session.scalars(select(Referral).where(Referral.prison == "HMP Bedford")).one()
    assert custody.risk_flags == ["violence", "arson"]
    assert custody.desired_outcomes == ["Stable tenancy", "Debt plan"]


def test_a_bad_file_lists_every_problem_by_row_and_column_and_saves_nothing(portal, ttg_service, referrer):
    rows = [
        row(),
        row(crn="BAD", date_of_birth="2015-01-01"),
        row(crn="X100003", contract="NOPE-99"),
        row(
            crn="X100004",
            rar_days="99",
            risk_flags="gangs",
            location_type="custody",
            prison="HMP Bedford",
            expected_release_date=days_from_today(-1).isoformat(),
        ),
        row(),  # the same person and service as row 2
    ]
    portal.sign_in(referrer)
    response = upload(portal, csv_bytes(rows))
    assert response.status_code == 200
    page = text_of(response)
    assert "Nothing was saved" in page
    for expected in (
        "3 crn",
        "3 date_of_birth",
        "4 contract",
        "5 expected_release_date",
        "5 risk_flags",
        "5 rar_days",
        "6 crn",
    ):
        assert expected in page, expected
    assert count(ReferralImport) == 0 and count(Referral) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "The file is empty"), (b"\xff\xfe\x00b", "saved as UTF-8"), (b"crn,name\nX1,A\n", "missing the column")],
)
def test_unusable_files_are_explained(portal, ttg_service, referrer, content, message):
    portal.sign_in(referrer)
    assert message in text_of(upload(portal, content))


def test_nothing_is_sent_if_the_file_goes_stale_before_confirming(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    response = upload(portal, csv_bytes([row(), row(crn="X100002")]))
    status_url = response.headers["Location"]
    end_contract(None, ttg_service, end_date=ttg_service.end_date)  # the contract manager ends it meanwhile
    page = text_of(portal.get(status_url))
    assert "There is a problem" in page
    portal.post(status_url)
    assert count(Referral) == 0
    referral_import = db.session.scalars(select(ReferralImport)).one()
    assert referral_import.status == ImportStatus.FAILED
    assert "The import failed" in text_of(portal.get(status_url))


def test_progress_is_reported_while_importing(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    response = upload(portal, csv_bytes([row(crn=f"X2000{n:02d}") for n in range(30)]))
    portal.post(response.headers["Location"])
    import_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    progress = portal.get(f"/referrals/import/{import_id}/status.json").json
    assert progress["import_status"] == "imported"
    assert progress["percent"] == 100
    assert progress["done"] == 30


def test_the_template_has_every_column_and_a_valid_example(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    template = portal.get("/referrals/import/template.csv")
    assert template.mimetype == "text/csv"
    header = template.get_data(as_text=True).splitlines()[0].split(",")
    assert header == list(bulk_import.COLUMNS)


def test_partners_cannot_import_and_nobody_sees_anothers_upload(
    portal, ttg_service, referrer, nacro_manager, contract_manager
):
    portal.sign_in(nacro_manager)
    assert portal.get("/referrals/import").status_code == 403
    portal.sign_out()
    portal.sign_in(referrer)
    status_url = upload(portal, csv_bytes([row()])).headers["Location"]
    portal.sign_out()
    portal.sign_in(contract_manager)
    assert portal.get(status_url).status_code == 404
    assert portal.get(status_url + "/status.json").status_code == 404


def a_mixed_file(rows: int) -> bytes:
    """People in prisons and at probation offices, so every row needs its places and its service's rules."""
    lines = []
    for n in range(rows):
        if n % 2:
            lines.append(
                row(
                    crn=f"X3{n:05d}",
                    location_type="custody",
                    prison="HMP Bedford",
                    expected_release_date=days_from_today(30).isoformat(),
                    community_office="",
                    postcode="",
                )
            )
        else:
            lines.append(row(crn=f"X3{n:05d}", community_office="Bedford"))
    return csv_bytes(lines)


def test_checking_a_file_looks_places_and_rules_up_once_not_once_a_row(observer_app, ttg_service, referrer):
    from portal.contracts.models import Service
    from portal.places.models import Prison, ProbationOffice

    service = db.session.scalars(select(Service).where(Service.code == "ACC-TTG")).one()
    # A service with rules that name places, so saying a broken rule would need their names.
    service.prison_ids = [db.session.scalars(select(Prison.id).where(Prison.name == "HMP Bedford")).one()]
    service.probation_office_ids = list(db.session.scalars(select(ProbationOffice.id)).all())
    db.session.commit()
    bulk_import.check_file(referrer, a_mixed_file(1))  # the referrer and their CRC, loaded once
    with QueryCounter(observer_app) as few:
        assert len(bulk_import.check_file(referrer, a_mixed_file(3))) == 3
    with QueryCounter(observer_app) as many:
        assert len(bulk_import.check_file(referrer, a_mixed_file(300))) == 300
    assert many.count == few.count


def imported(referrer, content: bytes) -> ReferralImport:
    """A checked file, confirmed: as the page leaves it for the background job."""
    referral_import = bulk_import.upload(referrer, "referrals.csv", content)
    referral_import.status = ImportStatus.IMPORTING
    db.session.commit()
    return referral_import


def test_sending_a_file_takes_the_same_queries_for_40_rows_as_for_4(observer_app, ttg_service, referrer):
    """Once checked, a file's referrals are sent with the queries of one: people, contracts,
    references and partners' managers looked up once, each table written in one statement."""
    counts = {}
    for rows, first_crn in ((4, "X3"), (40, "X5")):
        referral_import = imported(referrer, a_mixed_file(rows).replace(b"X3", first_crn.encode()))
        import_id, referrer_id = referral_import.id, referrer.id
        with observer_app.app_context(), QueryCounter(observer_app) as queries:
            bulk_import.run_import(import_id, referrer_id)
        counts[rows] = queries.count
        db.session.expire_all()
        assert db.session.get(ReferralImport, import_id).status == ImportStatus.IMPORTED
    assert count(Referral) == 44
    assert counts[40] == counts[4], counts


def what_was_saved() -> dict:
    """Everything sending wrote, without what differs from one sending to the next (ids, random
    references, moments): referrals, people, timeline, audit trail and emails, in the order saved."""
    from portal.audit.models import AuditEvent
    from portal.notifications.models import OutboundEmail
    from portal.people.models import Person
    from portal.referrals.models import ReferralEvent

    db.session.flush()
    referrals = db.session.scalars(select(Referral).order_by(Referral.id)).all()
    names = {referral.reference: f"<referral {n}>" for n, referral in enumerate(referrals)}
    crns = {person.id: person.crn for person in db.session.scalars(select(Person))}

    def plain(value):
        text = repr(value)
        for reference, name in names.items():
            text = text.replace(reference, name)
        return text

    # The version too: one by one, a referral is saved three times (draft, person, sent), at once once.
    moving = {"id", "reference", "person_id", "created_at", "updated_at", "sent_at", "version"}
    columns = [column.key for column in Referral.__table__.columns if column.key not in moving]
    person_columns = [
        column.key for column in Person.__table__.columns if column.key not in {"id", "created_at", "updated_at"}
    ]
    return {
        "referrals": [(crns[r.person_id], [(key, plain(getattr(r, key))) for key in columns]) for r in referrals],
        "people": sorted(
            [(key, plain(getattr(p, key))) for key in person_columns] for p in db.session.scalars(select(Person))
        ),
        "audit": [
            (e.action, e.record_type, plain(e.details))
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ],
        "timeline": [
            (e.kind, plain(e.summary), plain(e.details))
            for e in db.session.scalars(select(ReferralEvent).order_by(ReferralEvent.id))
        ],
        "emails": [
            (e.template, e.recipient, plain(e.subject), plain(e.body_text), e.record_type)
            for e in db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id))
        ],
    }


def test_sending_a_file_saves_what_sending_its_rows_one_by_one_would(ttg_service, referrer, nacro_manager):
    """The batch sends each row as the one-referral path would: people created, or brought up to
    date with their changes audited; every referral sent, on its timeline, audited and emailed."""
    from portal.referrals import service
    from tests.factories import PersonFactory

    PersonFactory(crn="X300002", given_name="Alison", family_name="Khan", date_of_birth=date(1991, 5, 5))
    rows = [(row.number, row.data, row.service) for row in bulk_import.check_file(referrer, a_mixed_file(6))]

    one_by_one = []
    for _, data, service_record in rows:
        one_by_one.append(service.send_checked(referrer, data, save=False, service=service_record))
    alone = what_was_saved()
    db.session.rollback()
    assert count(Referral) == 0

    sent = service.send_checked_rows(referrer, rows)
    together = what_was_saved()
    assert [(r.status.value, r.version) for r in sent] == [("sent", 1)] * 6 and len({r.reference for r in sent}) == 6
    assert together == alone
    # What the comparison stands on: both paths did all of it.
    actions = [action for action, _, _ in together["audit"]]
    assert actions.count("person.created") == 5 and actions.count("person.updated") == 1
    assert actions.count("referral.sent") == 6 and len(together["timeline"]) == 6
    assert len(together["emails"]) == 12  # Nacro's referral mailbox and its manager told of each


def test_a_row_naming_someone_elses_crn_stops_the_import_naming_the_row(ttg_service, referrer):
    """A CRN the CRC holds for someone with another surname and date of birth is most likely
    mistyped: nothing is sent, and the import says which row."""
    from tests.factories import PersonFactory

    PersonFactory(crn="X300003", given_name="Bo", family_name="Nolan", date_of_birth=date(1970, 1, 1))
    referral_import = imported(referrer, a_mixed_file(5))
    import_id = referral_import.id
    with pytest.raises(FileRejected):
        bulk_import.run_import(import_id, referrer.id)
    assert count(Referral) == 0
    failed = db.session.get(ReferralImport, import_id)
    assert failed.status == ImportStatus.FAILED
    assert failed.result["errors"] == [
        "Row 5, column crn: CRN X300003 is already recorded for someone with a different surname and date of "
        "birth. Check the CRN"
    ]
