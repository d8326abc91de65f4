"""BeNCH's places (Bedfordshire, Northamptonshire, Cambridgeshire and Hertfordshire), which the demo
loads as its CRC's reference data. Only a seed: the portal reads places from the database."""

from __future__ import annotations

COUNTIES: dict[str, None] = dict.fromkeys(("Bedfordshire", "Cambridgeshire", "Hertfordshire", "Northamptonshire"))

# From Annex 3 of the 2019 inspection report: resettlement prisons the CRC hosts or leads Through
# the Gate in, and HMP Littlehey (not a resettlement prison). HMP Woodhill is in Milton Keynes,
# outside the four counties.
PRISONS: dict[str, str | None] = {
    "HMP Bedford": "Bedfordshire",
    "HMP Littlehey": "Cambridgeshire",
    "HMP Peterborough (female)": "Cambridgeshire",
    "HMP Peterborough (male)": "Cambridgeshire",
    "HMP The Mount": "Hertfordshire",
    "HMP Woodhill": None,
}

PROBATION_OFFICES: dict[str, str] = {
    "Bedford probation office": "Bedfordshire",
    "Luton probation office": "Bedfordshire",
    "Cambridge probation office": "Cambridgeshire",
    "Peterborough probation office": "Cambridgeshire",
    "Huntingdon probation office": "Cambridgeshire",
    "Stevenage probation office": "Hertfordshire",
    "Watford probation office": "Hertfordshire",
    "Hemel Hempstead probation office": "Hertfordshire",
    "Northampton probation office": "Northamptonshire",
    "Kettering probation office": "Northamptonshire",
    "Wellingborough probation office": "Northamptonshire",
}


def load_bench_places(crc_id: int) -> None:
    from portal.places.service import seed_places

    seed_places(crc_id, COUNTIES, PRISONS, PROBATION_OFFICES)
