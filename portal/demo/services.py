"""The demo contracts' services: what a referrer finds in the service directory, named and described
as the supply chain of Annex 3 of the 2019 inspection report delivers them, with eligibility that
the demo's referrals meet (tests/demo checks that no demo referral breaks its service's rules).

Where a service works follows its contract's area: the prisons it names, and in the community the
offices in its counties (the women's centres take women reporting to the offices they serve)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.contracts.models import Contract, Setting
from portal.contracts.services import add_service, services_of, update_service
from portal.demo.contracts import DemoContract
from portal.places.service import places_of


@dataclass(frozen=True)
class DemoService:
    name: str
    description: str
    sex: str | None = None
    offices: tuple[str, ...] = ()  # in the community, only these offices (else the contract's counties)


DEMO_SERVICES: dict[str, DemoService] = {
    "ACC-TTG": DemoService(
        "Nacro Through the Gate accommodation",
        "In custody at HMP Bedford and HMP Woodhill: a housing needs assessment within days of arrival and a "
        "release plan so the person has somewhere to stay on the first night out.",
    ),
    "FBD-TTG": DemoService(
        "Nacro Through the Gate finance, benefit and debt",
        "In custody at HMP Bedford and HMP Woodhill: money and debt advice, opening a bank account and "
        "identity documents before release, and a benefit claim ready for the day of release.",
    ),
    "ACC-COM": DemoService(
        "Nacro community accommodation support",
        "In the community in Bedfordshire and Northamptonshire: finding a home and keeping the tenancy going.",
    ),
    "FBD-COM": DemoService(
        "Nacro community finance, benefit and debt advice",
        "In the community in Bedfordshire and Northamptonshire: benefit claims, bank accounts and debt plans.",
    ),
    "ACC-MNT": DemoService(
        "St Mungo's Through the Gate accommodation at HMP The Mount",
        "In custody at HMP The Mount: a housing needs assessment and a release plan for accommodation.",
    ),
    "ACC-HRT": DemoService(
        "St Mungo's tenancy-ready workshops (Hertfordshire)",
        "Group workshops in Hertfordshire on finding, paying for and keeping a tenancy.",
    ),
    "FBD-HRT": DemoService(
        "St Mungo's finance, benefit and debt support (Hertfordshire)",
        "Benefit claims, bank accounts and debt plans, at HMP The Mount and in the community in Hertfordshire.",
    ),
    "HSG-ADVICE": DemoService(
        "Hertfordshire housing advice pilot",
        "A one-year pilot of housing advice in the Stevenage and Watford probation offices (ended).",
    ),
    "REL-PLAN": DemoService(
        "St Giles Trust BCST2 and release planning",
        "Basic Custody Screening Tool part 2 within days of arrival and a resettlement plan, then pre-release "
        "planning sessions, at HMP Bedford, The Mount, Woodhill and Peterborough.",
    ),
    "ETE-CUS": DemoService(
        "St Giles Trust ETE guidance in custody",
        "Education, training and employment guidance in custody, towards a job, course or training place on release.",
    ),
    "ETE-PBO": DemoService(
        "St Giles Trust resettlement and ETE (Peterborough and Cambridgeshire)",
        "At HMP Peterborough (male and female estates) and in the community in Cambridgeshire: an ETE assessment "
        "and support into work, education or training.",
    ),
    "ACC-PBO": DemoService(
        "St Giles Trust accommodation on release from HMP Peterborough",
        "Accommodation secured for the first night of release from HMP Peterborough.",
    ),
    "FBD-PBO": DemoService(
        "St Giles Trust finance, benefit and debt (Peterborough and Cambridgeshire)",
        "Benefit claims and bank accounts, at HMP Peterborough and in the community in Cambridgeshire.",
    ),
    "DV-PROG": DemoService(
        "Bold Moves domestic abuse perpetrator programme",
        "A group-work programme with one-to-one RAR activity for men who have been abusive to a partner, "
        "BeNCH-wide. Sessions count as RAR days.",
        sex="male",
    ),
    "DV-CUS": DemoService(
        "Bold Moves pre-release relationships sessions at HMP Peterborough",
        "Relationship sessions before release for men at HMP Peterborough (male estate).",
        sex="male",
    ),
    "VET-PROG": DemoService(
        "Bold Moves veterans in the justice system programme",
        "Group and one-to-one support for armed forces veterans on probation, BeNCH-wide (being agreed).",
    ),
    "FAM-SUP": DemoService(
        "Ormiston Families family support",
        "Support for the families and children of people on probation in Bedfordshire and Cambridgeshire and "
        "at HMP Peterborough: parenting, contact with children and family relationships.",
    ),
    "FAM-CUS": DemoService(
        "Ormiston Families supported family visits at HMP Peterborough",
        "Supported visits for children and families of people in custody at HMP Peterborough.",
    ),
    "WOM-CAM": DemoService(
        "Cambridge Women's Resource Centre: women's centre services",
        "A women-only centre for women on probation reporting to Cambridge and Peterborough: one-to-one "
        "support, safety planning and health. Sessions count as RAR days.",
        sex="female",
        offices=("Cambridge probation office", "Peterborough probation office"),
    ),
    "WOM-BED": DemoService(
        "Family Groups (Bedford): women's services",
        "Group and one-to-one support for women on probation reporting to Bedford. Groups count as RAR days.",
        sex="female",
        offices=("Bedford probation office",),
    ),
    "WOM-LUT": DemoService(
        "Stepping Stones (Luton): women's services",
        "Key work and groups for women on probation reporting to Luton.",
        sex="female",
        offices=("Luton probation office",),
    ),
    "WOM-NTH": DemoService(
        "C2C Social Action: women's services (Northamptonshire)",
        "Practical and pastoral support for women on probation in Northamptonshire.",
        sex="female",
    ),
    "MEN-PEER": DemoService(
        "User Voice peer mentoring",
        "Peer mentors with lived experience give Through the Gate, licence and community order support, one "
        "to one or in groups, for people reporting to Stevenage and Peterborough and at HMP Peterborough. "
        "Mentoring can count towards RAR days.",
        offices=("Stevenage probation office", "Peterborough probation office"),
    ),
    "MEN-COUNCIL": DemoService(
        "User Voice service user council",
        "The service user council and feedback from people on probation (a grant: no referrals).",
    ),
}


def describe_services(manager: Any, contract: Contract, demo: DemoContract) -> None:
    """Name, describe and limit the contract's services as the contract manager would (a grant's
    services, which no item prices, are added as services of their own: open to referrals)."""
    places = places_of(contract.crc_id)
    by_model = {model.__tablename__: {place.name: place.id for place in found} for model, found in places.items()}
    for grant_service in demo.grant_services:
        spec = DEMO_SERVICES[grant_service.code]
        add_service(
            manager,
            contract,
            code=grant_service.code,
            name=spec.name,
            pathway=grant_service.pathway,
            setting=grant_service.setting,
        )
    grant_settings = {grant_service.code: grant_service.setting for grant_service in demo.grant_services}
    for service in services_of(contract):
        spec = DEMO_SERVICES.get(service.code)
        if spec is None:
            continue
        settings = {item.setting for item in demo.items if item.service_code == service.code} or {
            grant_settings.get(service.code, Setting.BOTH)
        }
        setting = settings.pop() if len(settings) == 1 else Setting.BOTH
        update_service(
            manager,
            service,
            contract,
            name=spec.name,
            description=spec.description,
            pathway=service.pathway,
            setting=setting,
            sex=spec.sex,
            county_ids=[] if spec.offices else [by_model["county"][name] for name in demo.counties],
            prison_ids=[by_model["prison"][name] for name in demo.prisons] if setting != Setting.COMMUNITY else [],
            probation_office_ids=[by_model["probation_office"][name] for name in spec.offices],
            # Open when something of it is priced per referral, session, hour, day or outcome (a
            # grant's monthly amount alone belongs to the contract), or it is a grant's service.
            open_to_referrals=service.code in grant_settings
            or any(item.unit.value != "monthly_fixed" for item in demo.items if item.service_code == service.code),
        )
