"""The demo supply chain's contracts and rate cards, as data: one or more for each partner of Annex 3.

Prices are in pence, written with the pence after an underscore so they read as pounds:
`150_00` is £150.00. Values are illustrative, not the real contracts' terms.

The dates below are written for a demo loaded in the financial year that starts on 1 April 2026
(`REFERENCE_FINANCIAL_YEAR`): contracts run three years, 1 April 2025 to 31 March 2028; a few
prices change on 1 April 2026 (the old price ends on 31 March 2026) to show effective dating; a
pilot ended on 31 March 2025 and a new programme is being agreed to start on 1 April 2027.
`demo_contracts(today)` moves every date by whole years to the financial year of the day the demo
is loaded, so on any day the active contracts have one to two years behind them and ahead of them,
the pilot has ended and the new programme has not started.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date

from portal.contracts.models import ContractStatus, ContractTier, Pathway, Setting, Unit
from portal.contracts.rate_card_csv import COLUMNS
from portal.dates import financial_year_start
from portal.money import pounds

REFERENCE_FINANCIAL_YEAR = 2026
TERM_START = date(2025, 4, 1)
TERM_END = date(2028, 3, 31)
OLD_PRICE_ENDS = date(2026, 3, 31)
NEW_PRICE_STARTS = date(2026, 4, 1)
NEXT_YEAR_START = date(2027, 4, 1)

ACCOMMODATION = Pathway.ACCOMMODATION
ETE = Pathway.ETE
HEALTH = Pathway.HEALTH
DRUGS_ALCOHOL = Pathway.DRUGS_ALCOHOL
FINANCE = Pathway.FINANCE_BENEFIT_DEBT
FAMILIES = Pathway.CHILDREN_FAMILIES
BEHAVIOUR = Pathway.ATTITUDES_THINKING_BEHAVIOUR
WOMEN_ABUSE = Pathway.WOMEN_ABUSE
WOMEN_SEX_WORK = Pathway.WOMEN_SEX_WORK

CUSTODY, COMMUNITY, BOTH = Setting.CUSTODY, Setting.COMMUNITY, Setting.BOTH

ALL_COUNTIES = ("Bedfordshire", "Cambridgeshire", "Hertfordshire", "Northamptonshire")
PETERBOROUGH = ("HMP Peterborough (male)", "HMP Peterborough (female)")

# Every outcome the demo contracts recognise: code -> (name, pathway).
OUTCOME_TYPES: dict[str, tuple[str, Pathway]] = {
    "accommodation_secured_first_night": ("Accommodation secured for the first night of release", ACCOMMODATION),
    "accommodation_sustained_13_weeks": ("Accommodation sustained for 13 weeks", ACCOMMODATION),
    "benefit_claim_made": ("Benefit claim made", FINANCE),
    "bank_account_opened": ("Bank account opened", FINANCE),
    "debt_plan_agreed": ("Debt repayment plan agreed", FINANCE),
    "id_documents_obtained": ("Identity documents obtained", FINANCE),
    "entered_employment": ("Entered employment", ETE),
    "entered_education_or_training": ("Entered education or training", ETE),
    "employment_sustained_13_weeks": ("Employment sustained for 13 weeks", ETE),
    "programme_completed": ("Programme completed", BEHAVIOUR),
    "mentoring_goals_achieved": ("Mentoring goals achieved", BEHAVIOUR),
    "parenting_programme_completed": ("Parenting programme completed", FAMILIES),
    "family_contact_restored": ("Contact with children or family restored", FAMILIES),
    "safety_plan_agreed": ("Safety plan agreed", WOMEN_ABUSE),
    "exit_plan_agreed": ("Plan to exit sex work agreed", WOMEN_SEX_WORK),
    "registered_with_gp": ("Registered with a GP", HEALTH),
    "engaged_with_treatment": ("Engaged with drug or alcohol treatment", DRUGS_ALCOHOL),
}


@dataclass(frozen=True)
class DemoRule:
    """An outcome type's rule (API.md, "Billing rules"): counted from `outcome_from` (None:
    acceptance), `earliest` to `latest` days after it, at most `most` per referral."""

    outcome_from: str | None = "start"
    earliest: int = 0
    latest: int | None = None
    most: int | None = 1
    evidence_required: bool = False


OUTCOME_RULES: dict[str, DemoRule] = {
    "accommodation_secured_first_night": DemoRule("release", 0, 7),
    "accommodation_sustained_13_weeks": DemoRule("start", 91),
    "benefit_claim_made": DemoRule("start"),
    "bank_account_opened": DemoRule(None),
    "debt_plan_agreed": DemoRule("start"),
    "id_documents_obtained": DemoRule(None, most=2),
    "entered_employment": DemoRule("release", 0),
    "entered_education_or_training": DemoRule("start"),
    "employment_sustained_13_weeks": DemoRule("start", 91, evidence_required=True),
    "programme_completed": DemoRule("start", 28, evidence_required=True),
    "mentoring_goals_achieved": DemoRule("start", 28),
    "parenting_programme_completed": DemoRule("start", 28, evidence_required=True),
    "family_contact_restored": DemoRule("start"),
    "safety_plan_agreed": DemoRule("start"),
    "exit_plan_agreed": DemoRule("start"),
    "registered_with_gp": DemoRule(None),
    "engaged_with_treatment": DemoRule("start", 14),
}


@dataclass(frozen=True)
class DemoPrice:
    unit_price_pence: int
    effective_from: date
    effective_to: date | None = None


def price(pence: int, start: date = TERM_START, end: date | None = None) -> tuple[DemoPrice, ...]:
    """One price for the whole term (open-ended)."""
    return (DemoPrice(pence, start, end),)


def price_change(old: int, new: int) -> tuple[DemoPrice, ...]:
    """A price that changes mid-term: `old` until 31 March 2026, `new` from 1 April 2026."""
    return (DemoPrice(old, TERM_START, OLD_PRICE_ENDS), DemoPrice(new, NEW_PRICE_STARTS))


@dataclass(frozen=True)
class DemoItem:
    code: str
    service_code: str
    name: str
    pathway: Pathway
    setting: Setting
    unit: Unit
    prices: tuple[DemoPrice, ...]
    outcome_type: str | None = None
    max_units_per_referral: int | None = None
    # The session kinds a session item prices (empty: every kind): within a service no two items
    # of one measure share a kind, so no demo session is billed twice.
    session_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoGrantService:
    """A service of a grant: people are referred to it and its work is recorded, but no rate-card
    item prices it (the grant's schedule of instalments pays for it), so the contract manager adds
    it as a service of its own."""

    code: str
    pathway: Pathway
    setting: Setting


@dataclass(frozen=True)
class DemoContract:
    reference: str
    partner: str  # the partner's slug in supply_chain.PARTNERS
    title: str
    tier: ContractTier
    cap_pounds: int
    counties: tuple[str, ...]
    prisons: tuple[str, ...]
    description: str
    items: tuple[DemoItem, ...]
    # A grant's services, which no item prices (their codes are not the items').
    grant_services: tuple[DemoGrantService, ...] = ()
    # Outcomes the partner records for management information without being paid for them.
    also_records: tuple[str, ...] = ()
    status: ContractStatus = ContractStatus.ACTIVE
    start_date: date = TERM_START
    end_date: date = TERM_END
    vat_rate_bp: int = 0
    payment_terms_days: int = 30
    accept_sla_working_days: int = 2
    first_contact_sla_working_days: int = 5
    # Most rate cards are loaded from a spreadsheet (the CSV import, one transaction each);
    # the others are built item by item, as on the contract's page.
    imported_from_csv: bool = True

    @property
    def outcome_type_codes(self) -> tuple[str, ...]:
        """The contract's outcome types: those its items pay for, then those only recorded."""
        paid = [item.outcome_type for item in self.items if item.outcome_type]
        return tuple(dict.fromkeys([*paid, *self.also_records]))


def paid_outcome(
    code: str,
    service_code: str,
    name: str,
    outcome_type: str,
    setting: Setting,
    prices: tuple[DemoPrice, ...],
    max_units_per_referral: int | None = 1,
) -> DemoItem:
    """A per_outcome item; its pathway is its outcome type's."""
    return DemoItem(
        code=code,
        service_code=service_code,
        name=name,
        pathway=OUTCOME_TYPES[outcome_type][1],
        setting=setting,
        unit=Unit.PER_OUTCOME,
        prices=prices,
        outcome_type=outcome_type,
        max_units_per_referral=max_units_per_referral,
    )


PER_REFERRAL, PER_SESSION, PER_HOUR = Unit.PER_REFERRAL, Unit.PER_SESSION, Unit.PER_HOUR
PER_RAR_DAY, MONTHLY_FIXED = Unit.PER_RAR_DAY, Unit.MONTHLY_FIXED
SUBCONTRACT, GRANT = ContractTier.SUBCONTRACT, ContractTier.GRANT

DEMO_CONTRACTS: tuple[DemoContract, ...] = (
    # --- Nacro: accommodation, finance, benefit and debt, in custody and in the community -------
    DemoContract(
        reference="BENCH-ACC-01",
        partner="nacro",
        title="Through the Gate resettlement: accommodation, finance, benefit and debt",
        tier=SUBCONTRACT,
        cap_pounds=420_000,
        counties=(),
        prisons=("HMP Bedford", "HMP Woodhill"),
        description="In custody at HMP Bedford and HMP Woodhill: resettlement planning for accommodation, "
        "finance, benefit and debt, from 12 weeks before release to the first weeks in the community.",
        vat_rate_bp=2000,  # Nacro is VAT registered
        imported_from_csv=False,
        items=(
            DemoItem("ACC-TTG-REF", "ACC-TTG", "Resettlement referral: needs assessment and release plan",
                     ACCOMMODATION, CUSTODY, PER_REFERRAL, price(150_00), max_units_per_referral=1),
            paid_outcome("ACC-TTG-NIGHT", "ACC-TTG", "Accommodation secured for the first night of release",
                         "accommodation_secured_first_night", CUSTODY, price_change(400_00, 425_00)),
            paid_outcome("ACC-TTG-13WK", "ACC-TTG", "Accommodation sustained for 13 weeks after release",
                         "accommodation_sustained_13_weeks", BOTH, price(600_00)),
            DemoItem("FBD-TTG-DEBT", "FBD-TTG", "Debt and money advice session in custody",
                     FINANCE, CUSTODY, PER_SESSION, price(45_00), max_units_per_referral=6,
                     session_kinds=("in_custody",)),
            paid_outcome("FBD-TTG-BEN", "FBD-TTG", "Benefit claim made before release",
                         "benefit_claim_made", CUSTODY, price(75_00)),
            paid_outcome("FBD-TTG-BANK", "FBD-TTG", "Bank account opened", "bank_account_opened",
                         CUSTODY, price(50_00)),
        ),
        also_records=("debt_plan_agreed", "id_documents_obtained"),
    ),
    DemoContract(
        reference="BENCH-ACC-02",
        partner="nacro",
        title="Community accommodation, finance, benefit and debt support",
        tier=SUBCONTRACT,
        cap_pounds=360_000,
        counties=("Bedfordshire", "Northamptonshire"),
        prisons=(),
        description="In the community in Bedfordshire and Northamptonshire: finding and keeping a home, "
        "benefits, budgeting and debt.",
        vat_rate_bp=2000,
        items=(
            DemoItem("ACC-COM-REF", "ACC-COM", "Community accommodation referral and housing assessment",
                     ACCOMMODATION, COMMUNITY, PER_REFERRAL, price(150_00), max_units_per_referral=1),
            DemoItem("ACC-COM-SUPPORT", "ACC-COM", "Tenancy sustainment support",
                     ACCOMMODATION, COMMUNITY, PER_HOUR, price(28_00), max_units_per_referral=30,
                     session_kinds=("one_to_one", "phone", "video", "home_visit")),
            paid_outcome("ACC-COM-13WK", "ACC-COM", "Accommodation sustained for 13 weeks",
                         "accommodation_sustained_13_weeks", COMMUNITY, price(600_00)),
            paid_outcome("FBD-COM-DEBT", "FBD-COM", "Debt repayment plan agreed", "debt_plan_agreed",
                         COMMUNITY, price(120_00)),
            paid_outcome("FBD-COM-BEN", "FBD-COM", "Benefit claim made", "benefit_claim_made",
                         COMMUNITY, price(75_00)),
        ),
        also_records=("bank_account_opened",),
    ),
    # --- St Mungo's: HMP The Mount and Hertfordshire; and a pilot that has ended ----------------
    DemoContract(
        reference="BENCH-ACC-03",
        partner="st-mungos",
        title="Through the Gate and community accommodation: HMP The Mount and Hertfordshire",
        tier=SUBCONTRACT,
        cap_pounds=300_000,
        counties=("Hertfordshire",),
        prisons=("HMP The Mount",),
        description="Accommodation, finance, benefit and debt: in custody at HMP The Mount and in the "
        "community in Hertfordshire.",
        items=(
            DemoItem("ACC-MNT-REF", "ACC-MNT", "Resettlement referral: housing needs assessment",
                     ACCOMMODATION, CUSTODY, PER_REFERRAL, price(150_00), max_units_per_referral=1),
            paid_outcome("ACC-MNT-NIGHT", "ACC-MNT", "Accommodation secured for the first night of release",
                         "accommodation_secured_first_night", CUSTODY, price(400_00)),
            paid_outcome("ACC-HRT-13WK", "ACC-HRT", "Accommodation sustained for 13 weeks",
                         "accommodation_sustained_13_weeks", COMMUNITY, price_change(600_00, 650_00)),
            DemoItem("ACC-HRT-WORKSHOP", "ACC-HRT", "Tenancy-ready workshop",
                     ACCOMMODATION, COMMUNITY, PER_SESSION, price(45_00), max_units_per_referral=4,
                     session_kinds=("group",)),
            paid_outcome("FBD-HRT-DEBT", "FBD-HRT", "Debt repayment plan agreed", "debt_plan_agreed",
                         COMMUNITY, price(120_00)),
            paid_outcome("FBD-HRT-BEN", "FBD-HRT", "Benefit claim made", "benefit_claim_made",
                         BOTH, price(75_00)),
        ),
    ),
    DemoContract(
        reference="BENCH-ACC-P1",
        partner="st-mungos",
        title="Hertfordshire housing advice pilot",
        tier=SUBCONTRACT,
        cap_pounds=100_000,
        counties=("Hertfordshire",),
        prisons=(),
        description="A one-year pilot of housing advice in Stevenage and Watford probation offices, "
        "replaced by BENCH-ACC-03.",
        status=ContractStatus.ENDED,
        start_date=date(2024, 4, 1),
        end_date=date(2025, 3, 31),
        items=(
            DemoItem("HSG-ADVICE-REF", "HSG-ADVICE", "Housing advice referral",
                     ACCOMMODATION, COMMUNITY, PER_REFERRAL, price(140_00, date(2024, 4, 1), date(2025, 3, 31)),
                     max_units_per_referral=1),
            paid_outcome("HSG-ADVICE-13WK", "HSG-ADVICE", "Accommodation sustained for 13 weeks",
                         "accommodation_sustained_13_weeks", COMMUNITY,
                         price(550_00, date(2024, 4, 1), date(2025, 3, 31))),
        ),
    ),
    # --- St Giles Trust: BCST2, release planning and ETE; Peterborough and Cambridgeshire ---------
    DemoContract(
        reference="BENCH-ETE-01",
        partner="st-giles-trust",
        title="BCST2, release planning and ETE in custody",
        tier=SUBCONTRACT,
        cap_pounds=480_000,
        counties=(),
        prisons=("HMP Bedford", "HMP The Mount", "HMP Woodhill", *PETERBOROUGH),
        description="In custody at HMP The Mount, Bedford, Woodhill and Peterborough: Basic Custody "
        "Screening Tool part 2, resettlement planning and education, training and employment.",
        accept_sla_working_days=1,  # screening is due soon after reception
        first_contact_sla_working_days=3,
        items=(
            DemoItem("REL-BCST2", "REL-PLAN", "BCST2 screening and resettlement plan",
                     ACCOMMODATION, CUSTODY, PER_REFERRAL, price(150_00), max_units_per_referral=1),
            DemoItem("REL-PRE-RELEASE", "REL-PLAN", "Pre-release planning session",
                     ACCOMMODATION, CUSTODY, PER_SESSION, price(55_00), max_units_per_referral=3,
                     session_kinds=("in_custody",)),
            DemoItem("ETE-CUS-121", "ETE-CUS", "ETE guidance session in custody",
                     ETE, CUSTODY, PER_SESSION, price(60_00), max_units_per_referral=8,
                     session_kinds=("in_custody",)),
            paid_outcome("ETE-CUS-EMP", "ETE-CUS", "Entered employment on release", "entered_employment",
                         BOTH, price(500_00)),
            paid_outcome("ETE-CUS-EDU", "ETE-CUS", "Entered education or training on release",
                         "entered_education_or_training", BOTH, price(300_00)),
        ),
        also_records=("id_documents_obtained",),
    ),
    DemoContract(
        reference="BENCH-ETE-02",
        partner="st-giles-trust",
        title="Resettlement and ETE: HMP Peterborough and Cambridgeshire",
        tier=SUBCONTRACT,
        cap_pounds=390_000,
        counties=("Cambridgeshire",),
        prisons=PETERBOROUGH,
        description="In custody at HMP Peterborough (male and female) and in the community in "
        "Cambridgeshire: accommodation, finance, benefit and debt, and ETE.",
        items=(
            DemoItem("ETE-PBO-REF", "ETE-PBO", "Resettlement referral and ETE assessment",
                     ETE, BOTH, PER_REFERRAL, price(150_00), max_units_per_referral=1),
            paid_outcome("ACC-PBO-NIGHT", "ACC-PBO", "Accommodation secured for the first night of release",
                         "accommodation_secured_first_night", CUSTODY, price(400_00)),
            paid_outcome("FBD-PBO-BEN", "FBD-PBO", "Benefit claim made", "benefit_claim_made", BOTH, price(75_00)),
            paid_outcome("FBD-PBO-BANK", "FBD-PBO", "Bank account opened", "bank_account_opened",
                         BOTH, price(50_00)),
            paid_outcome("ETE-PBO-EMP", "ETE-PBO", "Entered employment", "entered_employment",
                         BOTH, price(500_00)),
            paid_outcome("ETE-PBO-EDU", "ETE-PBO", "Entered education or training",
                         "entered_education_or_training", BOTH, price(300_00)),
            paid_outcome("ETE-PBO-SUSTAIN", "ETE-PBO", "Employment sustained for 13 weeks",
                         "employment_sustained_13_weeks", COMMUNITY, price(400_00)),
        ),
        also_records=("debt_plan_agreed",),
    ),
    # --- Bold Moves: domestic violence programme; a veterans programme still in draft ------------
    DemoContract(
        reference="BENCH-DV-01",
        partner="bold-moves",
        title="Domestic abuse perpetrator programme",
        tier=SUBCONTRACT,
        cap_pounds=540_000,
        counties=ALL_COUNTIES,
        prisons=("HMP Peterborough (male)",),
        description="A group-work programme for men who have been abusive to a partner, BeNCH-wide, "
        "with pre-release sessions at HMP Peterborough. Sessions count towards RAR days.",
        items=(
            DemoItem("DV-GROUP", "DV-PROG", "Group-work session (counts as a RAR day)",
                     BEHAVIOUR, COMMUNITY, PER_SESSION, price(85_00), max_units_per_referral=24,
                     session_kinds=("group",)),
            DemoItem("DV-121-RAR", "DV-PROG", "One-to-one RAR activity day",
                     BEHAVIOUR, COMMUNITY, PER_RAR_DAY, price(110_00), max_units_per_referral=10,
                     session_kinds=("one_to_one",)),
            DemoItem("DV-CUS", "DV-CUS", "Pre-release relationships session at HMP Peterborough",
                     BEHAVIOUR, CUSTODY, PER_SESSION, price(75_00), max_units_per_referral=6,
                     session_kinds=("in_custody",)),
            paid_outcome("DV-COMPLETE", "DV-PROG", "Programme completed", "programme_completed",
                         COMMUNITY, price(250_00)),
        ),
    ),
    DemoContract(
        reference="BENCH-VET-01",
        partner="bold-moves",
        title="Veterans in the justice system programme",
        tier=SUBCONTRACT,
        cap_pounds=120_000,
        counties=ALL_COUNTIES,
        prisons=(),
        description="Support for armed forces veterans on probation, BeNCH-wide. Being agreed: not yet active.",
        status=ContractStatus.DRAFT,
        imported_from_csv=False,  # being set up on its page
        start_date=NEXT_YEAR_START,
        end_date=TERM_END,
        items=(
            DemoItem("VET-SESSION", "VET-PROG", "Veterans' group session (counts as a RAR day)",
                     BEHAVIOUR, COMMUNITY, PER_SESSION, price(70_00, NEXT_YEAR_START), max_units_per_referral=12,
                     session_kinds=("group",)),
            DemoItem("VET-RAR", "VET-PROG", "One-to-one RAR activity day",
                     BEHAVIOUR, COMMUNITY, PER_RAR_DAY, price(95_00, NEXT_YEAR_START), max_units_per_referral=6,
                     session_kinds=("one_to_one",)),
            paid_outcome("VET-COMPLETE", "VET-PROG", "Programme completed", "programme_completed",
                         COMMUNITY, price(200_00, NEXT_YEAR_START)),
        ),
    ),
    # --- Ormiston Families: family support -------------------------------------------------------
    DemoContract(
        reference="BENCH-FAM-01",
        partner="ormiston-families",
        title="Family support programme",
        tier=SUBCONTRACT,
        cap_pounds=260_000,
        counties=("Bedfordshire", "Cambridgeshire"),
        prisons=PETERBOROUGH,
        description="Support for the families and children of people on probation in Bedfordshire and "
        "Cambridgeshire, and family visits at HMP Peterborough.",
        items=(
            DemoItem("FAM-SESSION", "FAM-SUP", "Family support session",
                     FAMILIES, BOTH, PER_SESSION, price(65_00), max_units_per_referral=12,
                     session_kinds=("one_to_one", "phone", "video", "home_visit")),
            DemoItem("FAM-VISIT", "FAM-CUS", "Supported family visit in custody",
                     FAMILIES, CUSTODY, PER_SESSION, price(55_00), max_units_per_referral=6,
                     session_kinds=("in_custody",)),
            paid_outcome("FAM-PARENTING", "FAM-SUP", "Parenting programme completed",
                         "parenting_programme_completed", COMMUNITY, price(150_00)),
            paid_outcome("FAM-CONTACT", "FAM-SUP", "Contact with children or family restored",
                         "family_contact_restored", BOTH, price(200_00)),
        ),
    ),
    # --- Women's centres: Tier III grants paid by schedules of instalments, with no unit prices ---------
    DemoContract(
        reference="BENCH-WOM-01",
        partner="cambridge-womens-resource-centre",
        title="Women's centre services: Cambridge and Peterborough",
        tier=GRANT,
        cap_pounds=130_000,
        counties=("Cambridgeshire",),
        prisons=(),
        description="A women-only centre for women on probation in Cambridge and Peterborough: "
        "one-to-one support, groups, and specialist help with abuse and sex work. Paid monthly in arrears "
        "by a schedule of instalments, each released once the month's service return is accepted.",
        payment_terms_days=14,
        items=(),
        grant_services=(DemoGrantService("WOM-CAM", WOMEN_ABUSE, COMMUNITY),),
        imported_from_csv=False,
        also_records=("safety_plan_agreed", "exit_plan_agreed", "registered_with_gp", "benefit_claim_made"),
    ),
    DemoContract(
        reference="BENCH-WOM-02",
        partner="family-groups-bedford",
        title="Women's services: Bedford area",
        tier=GRANT,
        cap_pounds=100_000,
        counties=("Bedfordshire",),
        prisons=(),
        description="Group and one-to-one support for women on probation in the Bedford area. Paid "
        "quarterly in advance by a schedule of instalments.",
        payment_terms_days=14,
        items=(),
        grant_services=(DemoGrantService("WOM-BED", WOMEN_ABUSE, COMMUNITY),),
        imported_from_csv=False,
        also_records=("safety_plan_agreed", "family_contact_restored"),
    ),
    DemoContract(
        reference="BENCH-WOM-03",
        partner="stepping-stones-luton",
        title="Women's services: Luton area",
        tier=GRANT,
        cap_pounds=110_000,
        counties=("Bedfordshire",),
        prisons=(),
        description="Key work and groups for women on probation in the Luton area. Paid monthly in "
        "advance by a schedule of instalments.",
        payment_terms_days=14,
        items=(),
        grant_services=(DemoGrantService("WOM-LUT", WOMEN_ABUSE, COMMUNITY),),
        imported_from_csv=False,
        also_records=("safety_plan_agreed", "exit_plan_agreed", "engaged_with_treatment"),
    ),
    DemoContract(
        reference="BENCH-WOM-04",
        partner="c2c-social-action",
        title="Women's services: Northamptonshire",
        tier=GRANT,
        cap_pounds=100_000,
        counties=("Northamptonshire",),
        prisons=(),
        description="Practical and pastoral support for women on probation in Northamptonshire: a weekly "
        "drop-in and a monthly group, open to any woman on probation without a referral. Paid by a "
        "quarterly schedule of instalments, not a rate card.",
        payment_terms_days=14,
        items=(),
        imported_from_csv=False,
        also_records=("safety_plan_agreed", "accommodation_secured_first_night", "benefit_claim_made"),
    ),
    # --- User Voice: peer mentors and the service user council -----------------------------------
    DemoContract(
        reference="BENCH-MEN-01",
        partner="user-voice",
        title="Peer mentoring and service user council",
        tier=SUBCONTRACT,
        cap_pounds=180_000,
        counties=("Cambridgeshire", "Hertfordshire"),
        prisons=("HMP Peterborough (male)",),
        description="Peer mentors with lived experience give Through the Gate, licence and community order "
        "support in Stevenage and Peterborough; mentoring can count towards RAR days. Also runs the "
        "service user council and gathers service user feedback.",
        items=(
            DemoItem("MEN-PEER-HOUR", "MEN-PEER", "Peer mentoring (counts towards RAR days)",
                     BEHAVIOUR, BOTH, PER_HOUR, price_change(32_00, 33_50), max_units_per_referral=40,
                     session_kinds=("one_to_one", "phone", "video", "home_visit")),
            DemoItem("MEN-GATE", "MEN-PEER", "Met at the gate on release",
                     BEHAVIOUR, CUSTODY, PER_SESSION, price(60_00), max_units_per_referral=1,
                     session_kinds=("in_custody",)),
            DemoItem("MEN-COUNCIL", "MEN-COUNCIL", "Service user council and feedback",
                     BEHAVIOUR, COMMUNITY, MONTHLY_FIXED, price(1_800_00)),
        ),
        also_records=("mentoring_goals_achieved",),
    ),
)  # fmt: skip


def _years_later(day: date, years: int) -> date:
    if day.month == 2 and day.day == 29:  # no demo date is a leap day, but a shift must not fail on one
        day = day.replace(day=28)
    return day.replace(year=day.year + years)


def _moved(contract: DemoContract, years: int) -> DemoContract:
    def prices(item: DemoItem) -> tuple[DemoPrice, ...]:
        return tuple(
            DemoPrice(
                p.unit_price_pence,
                _years_later(p.effective_from, years),
                _years_later(p.effective_to, years) if p.effective_to else None,
            )
            for p in item.prices
        )

    return replace(
        contract,
        start_date=_years_later(contract.start_date, years),
        end_date=_years_later(contract.end_date, years),
        items=tuple(replace(item, prices=prices(item)) for item in contract.items),
    )


def demo_contracts(today: date) -> tuple[DemoContract, ...]:
    """The demo contracts dated for a demo loaded on `today` (see the module's docstring)."""
    years = financial_year_start(today).year - REFERENCE_FINANCIAL_YEAR
    return tuple(_moved(contract, years) for contract in DEMO_CONTRACTS)


def rate_card_csv(contract: DemoContract) -> str:
    """The contract's rate card as the CSV file a contract manager would import."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in contract.items:
        for period in item.prices:
            writer.writerow(
                [
                    item.code,
                    item.service_code,
                    item.name,
                    item.pathway.value,
                    item.setting.value,
                    item.unit.value,
                    item.outcome_type or "",
                    "" if item.max_units_per_referral is None else item.max_units_per_referral,
                    pounds(period.unit_price_pence),
                    period.effective_from.isoformat(),
                    period.effective_to.isoformat() if period.effective_to else "",
                    "|".join(item.session_kinds),
                    *_rule_cells(item.outcome_type),
                ]
            )
    return buffer.getvalue()


def _rule_cells(outcome_type: str | None) -> list[object]:
    """A per_outcome item's outcome rule, as the file carries it (the same rule the loader gives
    the outcome type, so importing it changes nothing)."""
    if not outcome_type:
        return ["", "", "", "", ""]
    rule = OUTCOME_RULES[outcome_type]
    return [
        rule.outcome_from or "acceptance",
        rule.earliest,
        "" if rule.latest is None else rule.latest,
        "" if rule.most is None else rule.most,
        "yes" if rule.evidence_required else "no",
    ]
