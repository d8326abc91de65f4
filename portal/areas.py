"""The Contract Package Area's counties and prisons (BeNCH: Bedfordshire, Northamptonshire,
Cambridgeshire and Hertfordshire), used for contracts' service areas and people's locations."""

COUNTIES = (
    "Bedfordshire",
    "Cambridgeshire",
    "Hertfordshire",
    "Northamptonshire",
)

# From Annex 3 of the 2019 inspection report: resettlement prisons the CRC hosts or leads
# Through the Gate in, and HMP Littlehey (not a resettlement prison).
PRISONS = (
    "HMP Bedford",
    "HMP Littlehey",
    "HMP Peterborough (female)",
    "HMP Peterborough (male)",
    "HMP The Mount",
    "HMP Woodhill",
)
