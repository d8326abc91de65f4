"""Bulk import of referrals from a CSV extract: all or nothing, row errors, a preview, progress."""

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from portal.contracts.service import end_contract
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
