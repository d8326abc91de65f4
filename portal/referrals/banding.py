"""The colour band the CRC's operating model suggests for a person, from their risk of serious harm,
likelihood of reoffending and C2C. The referrer may choose another band, saying why.

Annex 3 of the 2019 inspection report ("Colour banding allocation guidance"), as BeNCH gave it:

    RAR - Green  (Low harm/ low reoffending)                                     12 hours
    RAR - Yellow (Low harm/ high reoffending / low C2C
                  AND Medium harm/ low reoffending/ all C2C)                     24 hours
    RAR - Blue   (Medium harm/ high reoffending/ low C2C)                        35 hours
    RAR - Red    (Low harm/ high reoffending/ high C2C
                  AND Medium harm/ high reoffending/ high C2C)                   35 hours

C2C matters only with high reoffending. A referral that does not record it (those made before the
portal asked, or where the referrer leaves it empty) is banded as low C2C, as Annex 3's yellow and
blue rows read; its referrer may still choose red, with the reason.
"""

from __future__ import annotations

from portal.referrals.models import C2C, ColourBand, Reoffending, RoshLevel

SUGGESTED = {
    (RoshLevel.LOW, Reoffending.LOW, C2C.LOW): ColourBand.GREEN,
    (RoshLevel.LOW, Reoffending.LOW, C2C.HIGH): ColourBand.GREEN,
    (RoshLevel.LOW, Reoffending.HIGH, C2C.LOW): ColourBand.YELLOW,
    (RoshLevel.LOW, Reoffending.HIGH, C2C.HIGH): ColourBand.RED,
    (RoshLevel.MEDIUM, Reoffending.LOW, C2C.LOW): ColourBand.YELLOW,
    (RoshLevel.MEDIUM, Reoffending.LOW, C2C.HIGH): ColourBand.YELLOW,
    (RoshLevel.MEDIUM, Reoffending.HIGH, C2C.LOW): ColourBand.BLUE,
    (RoshLevel.MEDIUM, Reoffending.HIGH, C2C.HIGH): ColourBand.RED,
}


def suggested_band(
    rosh: RoshLevel | str | None, reoffending: Reoffending | str | None, c2c: C2C | str | None = None
) -> ColourBand | None:
    """The band Annex 3 gives (C2C unknown: low), or None until harm and reoffending are known."""
    try:
        return SUGGESTED[(RoshLevel(rosh), Reoffending(reoffending), C2C(c2c or C2C.LOW))]  # type: ignore[arg-type]
    except ValueError:
        return None
