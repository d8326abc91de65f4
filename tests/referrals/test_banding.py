"""The colour band is suggested from the risk of serious harm and the likelihood of reoffending, as
Annex 3 of the inspection report bands cases; the referrer may choose another, saying why."""

import pytest

from portal.csv_files import FileRejected
from portal.errors import ValidationFailed
from portal.referrals import service
from portal.referrals.banding import suggested_band
from portal.referrals.models import ColourBand
from tests.helpers import text_of
from tests.referrals.test_service import whole_referral


@pytest.mark.parametrize(
    ("rosh", "reoffending", "band"),
    [
        ("low", "low", ColourBand.GREEN),
        ("low", "high", ColourBand.YELLOW),
        ("medium", "low", ColourBand.YELLOW),
        ("medium", "high", ColourBand.BLUE),
        ("medium", None, None),
        (None, "high", None),
    ],
)
def test_the_annex_3_bands(rosh, reoffending, band):
    assert suggested_band(rosh, reoffending) == band


def test_a_referral_without_a_band_gets_the_suggested_one(referrer, ttg_service):
    sent = service.create_and_send(
        referrer, whole_referral(ttg_service, rosh_level="medium", reoffending="high", colour_band="")
    )
    assert (sent.colour_band, sent.colour_band_reason) == (ColourBand.BLUE, None)


def test_another_band_needs_the_referrers_reason(referrer, ttg_service):
    fields = whole_referral(ttg_service, rosh_level="medium", reoffending="high", colour_band="red")
    with pytest.raises(ValidationFailed) as failure:
        service.create_and_send(referrer, fields)
    assert failure.value.errors == {
        "colour_band_reason": ["Say why the band is Red: the risk and likelihood of reoffending suggest Blue"]
    }
    sent = service.create_and_send(referrer, fields | {"colour_band_reason": "High C2C: poor engagement so far"})
    assert (sent.colour_band, sent.colour_band_reason) == (ColourBand.RED, "High C2C: poor engagement so far")


def test_without_the_likelihood_of_reoffending_the_band_is_the_referrers(referrer, ttg_service):
    sent = service.create_and_send(referrer, whole_referral(ttg_service, colour_band="green"))
    assert (sent.colour_band, sent.reoffending) == (ColourBand.GREEN, None)


# --- amending a referral works the band out again ---------------------------------------------------


def test_amending_the_risk_moves_the_band_to_the_new_suggestion_and_keeps_its_history(
    portal, referrer, nacro_manager, ttg_service
):
    from sqlalchemy import select

    from portal.audit.models import AuditEvent
    from portal.extensions import db
    from portal.notifications.models import OutboundEmail

    sent = service.create_and_send(referrer, whole_referral(ttg_service, rosh_level="low", reoffending="high"))
    assert sent.colour_band == ColourBand.YELLOW
    service.amend_referral(
        referrer, sent, changes_wanted={"rosh_level": "medium"}, reason="New information from the police"
    )
    assert (sent.colour_band, sent.colour_band_reason) == (ColourBand.BLUE, None)
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.band_changed")).one()
    assert (audit.details["from"], audit.details["to"], audit.details["suggested"]) == ("yellow", "blue", "blue")
    email = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("amended"))).first()
    assert email is not None and "colour band" in email.body_text
    portal.sign_in(nacro_manager)
    history = text_of(portal.get(f"/referrals/{sent.reference}/history"))
    assert (
        "Colour band changed from Yellow to Blue: suggested by medium risk of serious harm and "
        "high likelihood of reoffending"
    ) in history


def test_a_band_chosen_with_a_reason_stays_until_the_referrer_changes_it(referrer, ttg_service):
    sent = service.create_and_send(
        referrer,
        whole_referral(
            ttg_service, rosh_level="low", reoffending="high", colour_band="red", colour_band_reason="High C2C"
        ),
    )
    service.amend_referral(referrer, sent, changes_wanted={"rosh_level": "medium"}, reason="Police information")
    assert (sent.colour_band, sent.colour_band_reason) == (ColourBand.RED, "High C2C")
    service.amend_referral(referrer, sent, changes_wanted={"colour_band": ""}, reason="C2C now low")
    assert (sent.colour_band, sent.colour_band_reason) == (ColourBand.BLUE, None)


def test_choosing_another_band_on_amendment_needs_a_reason(referrer, ttg_service):
    sent = service.create_and_send(referrer, whole_referral(ttg_service, rosh_level="low", reoffending="low"))
    with pytest.raises(ValidationFailed) as failure:
        service.amend_referral(referrer, sent, changes_wanted={"colour_band": "blue"}, reason="Worse than we thought")
    assert failure.value.errors == {
        "colour_band_reason": ["Say why the band is Blue: the risk and likelihood of reoffending suggest Green"]
    }
    assert sent.colour_band == ColourBand.GREEN


def test_the_amend_page_offers_the_likelihood_of_reoffending_and_the_band(portal, referrer, ttg_service):
    from portal.extensions import db

    sent = service.create_and_send(referrer, whole_referral(ttg_service, rosh_level="low", reoffending="low"))
    portal.sign_in(referrer)
    release = sent.expected_release_date
    page = portal.get(f"/referrals/{sent.reference}/amend")
    assert "the risk, likelihood of reoffending and C2C suggest green" in text_of(page)
    response = portal.post(
        f"/referrals/{sent.reference}/amend",
        {
            "version": sent.version,
            "rosh_level": "low",
            "risk_flags": sent.risk_flags,
            "risk_summary": sent.risk_summary,
            "desired_outcomes": "\n".join(sent.desired_outcomes),
            "rar_days": "" if sent.rar_days is None else str(sent.rar_days),
            "contact_details": sent.contact_details or "",
            "expected_release_date": [str(part) for part in (release.day, release.month, release.year)],
            "reoffending": "high",
            "colour_band": "",
            "colour_band_reason": "",
            "reason": "Reassessed with OASys",
        },
    )
    assert response.status_code == 302, text_of(response)
    db.session.refresh(sent)
    assert sent.colour_band == ColourBand.YELLOW


# --- C2C, Annex 3's third factor ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rosh", "reoffending", "c2c", "band"),
    [
        ("low", "high", "high", ColourBand.RED),
        ("medium", "high", "high", ColourBand.RED),
        ("low", "high", "low", ColourBand.YELLOW),
        ("medium", "high", "low", ColourBand.BLUE),
        ("medium", "low", "high", ColourBand.YELLOW),  # "medium harm/low reoffending/all C2C"
        ("low", "low", "high", ColourBand.GREEN),
        ("medium", "high", None, ColourBand.BLUE),  # not recorded: banded as low C2C
    ],
)
def test_c2c_decides_the_band_with_high_reoffending(rosh, reoffending, c2c, band):
    assert suggested_band(rosh, reoffending, c2c) == band


def test_a_referral_with_high_c2c_is_suggested_red_and_reads_it_back(referrer, ttg_service):
    sent = service.create_and_send(
        referrer, whole_referral(ttg_service, rosh_level="medium", reoffending="high", c2c="high")
    )
    assert (sent.c2c.value, sent.colour_band, sent.colour_band_reason) == ("high", ColourBand.RED, None)
    with pytest.raises(ValidationFailed) as failure:
        service.create_and_send(
            referrer,
            whole_referral(ttg_service, crn="x654321", rosh_level="medium", reoffending="high", c2c="high")
            | {"colour_band": "blue"},
        )
    assert failure.value.errors == {
        "colour_band_reason": ["Say why the band is Blue: the risk, likelihood of reoffending and C2C suggest Red"]
    }


def test_amending_c2c_moves_the_band(referrer, ttg_service):
    sent = service.create_and_send(referrer, whole_referral(ttg_service, rosh_level="low", reoffending="high"))
    assert sent.colour_band == ColourBand.YELLOW
    service.amend_referral(referrer, sent, changes_wanted={"c2c": "high"}, reason="Little capacity so far")
    assert (sent.c2c.value, sent.colour_band) == ("high", ColourBand.RED)


def test_c2c_is_a_column_of_the_import(referrer, ttg_service):
    import csv
    import io

    from portal.referrals import bulk_import
    from tests.referrals.test_import import row

    columns = bulk_import.COLUMNS
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerow(row(rosh_level="low", reoffending="high", c2c="high"))
    writer.writerow(row(crn="X100002", rosh_level="low", reoffending="high", c2c="middling"))
    with pytest.raises(FileRejected) as rejected:
        bulk_import.check_file(referrer, buffer.getvalue().encode())
    assert [str(error) for error in rejected.value.errors] == ["Row 3, column c2c: Select C2C: low or high"]
    checked = bulk_import.check_file(referrer, buffer.getvalue().encode().rsplit(b"X100002", 1)[0].rsplit(b"\n", 1)[0])
    assert (checked[0].data["c2c"].value, checked[0].data["colour_band"]) == ("high", ColourBand.RED)
