"""People read a service by its name (its code as secondary text): the case file, its history, the
inbox and the import preview, without a query per row."""

from sqlalchemy import select

from portal.contracts.models import Service
from portal.extensions import db
from portal.referrals import bulk_import, service
from tests.factories import ReferralFactory
from tests.helpers import QueryCounter, text_of
from tests.referrals.test_import import csv_bytes, row


def renamed(code: str, name: str) -> Service:
    record = db.session.scalars(select(Service).where(Service.code == code)).one()
    record.name = name
    db.session.commit()
    return record


def test_the_case_file_names_the_service_as_its_record_does_not_as_its_first_rate_card_item(
    portal, nacro_referral, nacro_manager
):
    renamed("ACC-TTG", "Accommodation on release")
    portal.sign_in(nacro_manager)
    page = text_of(portal.get(f"/referrals/{nacro_referral.reference}"))
    # Before, the service was called after its first rate-card item ("Through the Gate accommodation").
    assert f"Referral {nacro_referral.reference} · Accommodation on release · Nacro" in page
    assert "Accommodation on release (ACC-TTG)" in page


def test_the_inbox_names_each_referrals_service_with_its_code_beneath(
    portal, app, ttg_service, referrer, nacro_manager
):
    renamed("ACC-TTG", "Accommodation on release")
    ReferralFactory(reference="SN1000AA", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
    portal.sign_in(nacro_manager)
    with QueryCounter(app) as few:
        page = text_of(portal.get("/referrals/?tab=new"))
    assert "Accommodation on release ACC-TTG" in page
    for number in range(20):
        ReferralFactory(reference=f"SN2{number:03d}AA", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
    with QueryCounter(app) as many:
        portal.get("/referrals/?tab=new")
    assert many.count == few.count


def test_the_history_says_which_service_a_referral_was_sent_to_by_name(portal, ttg_service, referrer):
    renamed("ACC-TTG", "Accommodation on release")
    checked = bulk_import.check_file(referrer, csv_bytes([row()]))
    sent = service.send_checked(referrer, checked[0].data)
    portal.sign_in(referrer)
    history = text_of(portal.get(f"/referrals/{sent.reference}/history"))
    assert "Referral sent to Nacro for Accommodation on release (ACC-TTG)" in history


def test_the_import_preview_names_each_rows_service(portal, ttg_service, referrer):
    renamed("ACC-TTG", "Accommodation on release")
    portal.sign_in(referrer)
    portal.get("/referrals/import")
    import io

    response = portal.post(
        "/referrals/import",
        {"file": (io.BytesIO(csv_bytes([row()])), "referrals.csv")},
        content_type="multipart/form-data",
    )
    preview = text_of(portal.get(response.headers["Location"]))
    assert "Accommodation on release ACC-TTG · BENCH-ACC-01" in preview
