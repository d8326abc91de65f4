"""The colour band is suggested from the risk of serious harm and the likelihood of reoffending, as
Annex 3 of the inspection report bands cases; the referrer may choose another, saying why."""

import pytest

from portal.errors import ValidationFailed
from portal.referrals import service
from portal.referrals.banding import suggested_band
from portal.referrals.models import ColourBand
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
