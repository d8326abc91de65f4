"""The colour band the CRC's operating model suggests for a person, from their risk of serious harm
and likelihood of reoffending. The referrer may choose another band, saying why.

Annex 3 of the 2019 inspection report ("Colour banding allocation guidance"), as BeNCH gave it:

    RAR - Green  (Low harm/ low reoffending)                                     12 hours
    RAR - Yellow (Low harm/ high reoffending / low C2C
                  AND Medium harm/ low reoffending/ all C2C)                     24 hours
    RAR - Blue   (Medium harm/ high reoffending/ low C2C)                        35 hours
    RAR - Red    (Low harm/ high reoffending/ high C2C
                  AND Medium harm/ high reoffending/ high C2C)                   35 hours

The portal does not record C2C, so for high reoffending it suggests the low-C2C band (yellow for low
harm, blue for medium harm); a case with high C2C is red, which the referrer chooses with the reason.
"""

from __future__ import annotations

from portal.referrals.models import ColourBand, Reoffending, RoshLevel

SUGGESTED = {
    (RoshLevel.LOW, Reoffending.LOW): ColourBand.GREEN,
    (RoshLevel.LOW, Reoffending.HIGH): ColourBand.YELLOW,
    (RoshLevel.MEDIUM, Reoffending.LOW): ColourBand.YELLOW,
    (RoshLevel.MEDIUM, Reoffending.HIGH): ColourBand.BLUE,
}


def suggested_band(rosh: RoshLevel | str | None, reoffending: Reoffending | str | None) -> ColourBand | None:
    """The band Annex 3 gives (assuming low C2C), or None until both are known."""
    try:
        return SUGGESTED[(RoshLevel(rosh), Reoffending(reoffending))]  # type: ignore[arg-type]
    except ValueError:
        return None
