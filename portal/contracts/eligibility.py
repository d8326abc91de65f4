"""Whom a service accepts: one pure function that the referral form, the bulk import and the API
all reach through portal.referrals.validation when a referral is sent.

Each broken rule comes back with the field it concerns and a message naming the rule and what the
referral records, e.g. "This service is for women: the person is recorded as male".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from portal.contracts.models import Service, ServiceSex, Setting


@dataclass(frozen=True)
class Candidate:
    """What the rules read of a referral: the person and where they are."""

    gender: str | None
    date_of_birth: date | None
    location_type: str | None  # "custody" or "community"
    prison_id: int | None = None
    prison_name: str | None = None
    probation_office_id: int | None = None
    probation_office_name: str | None = None
    county_id: int | None = None  # the probation office's county
    county_name: str | None = None


@dataclass(frozen=True)
class Places:
    """Names of the places a service's rules name, to say them in messages."""

    counties: dict[int, str] = field(default_factory=dict)
    prisons: dict[int, str] = field(default_factory=dict)
    offices: dict[int, str] = field(default_factory=dict)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _listed(names: list[str]) -> str:
    names = sorted(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def broken_rules(service: Service, who: Candidate, today: date, places: Places | None = None) -> dict[str, list[str]]:
    """The rules of `service` that `who` breaks, by field ({} when eligible)."""
    places = places or Places()
    errors: dict[str, list[str]] = {}

    def refuse(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    if service.sex is not None and who.gender is not None and who.gender != service.sex.value:
        recorded = {"male": "male", "female": "female", "other": "other", "not_stated": "not stated"}.get(
            who.gender, who.gender
        )
        refuse("gender", f"This service is for {service.sex.noun}: the person is recorded as {recorded}")
    if who.date_of_birth is not None and (service.min_age is not None or service.max_age is not None):
        age = age_on(who.date_of_birth, today)
        if service.min_age is not None and age < service.min_age:
            refuse("date_of_birth", f"This service is for people aged {service.min_age} or over: the person is {age}")
        if service.max_age is not None and age > service.max_age:
            refuse("date_of_birth", f"This service is for people aged {service.max_age} or under: the person is {age}")
    if who.location_type == "community" and service.setting == Setting.CUSTODY:
        refuse("location_type", "This service works with people in custody: the person is in the community")
    elif who.location_type == "custody" and service.setting == Setting.COMMUNITY:
        refuse("location_type", "This service works with people in the community: the person is in custody")
    elif who.location_type == "custody" and service.prison_ids and who.prison_id not in service.prison_ids:
        allowed = [places.prisons.get(prison_id, "") for prison_id in service.prison_ids]
        refuse(
            "prison",
            f"This service works in {_listed([name for name in allowed if name])}: "
            f"the person is in {who.prison_name or 'another prison'}",
        )
    elif who.location_type == "community":
        if service.probation_office_ids and who.probation_office_id not in service.probation_office_ids:
            allowed = [places.offices.get(office_id, "") for office_id in service.probation_office_ids]
            refuse(
                "community_office",
                f"This service takes people reporting to {_listed([name for name in allowed if name])}: "
                f"the person reports to {who.probation_office_name or 'another office'}",
            )
        elif service.county_ids and who.county_id not in service.county_ids:
            allowed = [places.counties.get(county_id, "") for county_id in service.county_ids]
            where = (
                f"{who.probation_office_name}, in {who.county_name}" if who.county_name else "an office outside them"
            )
            refuse(
                "community_office",
                f"This service covers {_listed([name for name in allowed if name])}: the person reports to {where}",
            )
    return errors


def rules_in_words(service: Service, places: Places) -> list[str]:
    """Who is eligible, a line a rule, for the service directory and the service's page."""
    lines = []
    if service.sex is not None:
        lines.append(f"{service.sex.label} only")
    if service.min_age is not None and service.max_age is not None:
        lines.append(f"Aged {service.min_age} to {service.max_age}")
    elif service.min_age is not None:
        lines.append(f"Aged {service.min_age} or over")
    elif service.max_age is not None:
        lines.append(f"Aged {service.max_age} or under")
    lines.append(
        {"custody": "In custody", "community": "In the community", "both": "In custody or the community"}[
            service.setting.value
        ]
    )
    if service.prison_ids and service.setting != Setting.COMMUNITY:
        lines.append("Prisons: " + ", ".join(sorted(places.prisons.get(i, "?") for i in service.prison_ids)))
    if service.probation_office_ids and service.setting != Setting.CUSTODY:
        lines.append(
            "Probation offices: " + ", ".join(sorted(places.offices.get(i, "?") for i in service.probation_office_ids))
        )
    elif service.county_ids and service.setting != Setting.CUSTODY:
        lines.append("Counties: " + ", ".join(sorted(places.counties.get(i, "?") for i in service.county_ids)))
    return lines


__all__ = ["Candidate", "Places", "ServiceSex", "age_on", "broken_rules", "rules_in_words"]
