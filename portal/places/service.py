"""Operations on a CRC's places (add, change, retire, import a CSV file all or nothing) and the
look-ups the referral checks use: a prison or probation office named in a form, file or API body
is one of the CRC's active records, found by name (an office also by another spelling of it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, select, union_all

from portal import access
from portal.audit.service import changes, record_event, snapshot
from portal.contracts.eligibility import Places
from portal.csv_files import FileRejected, RowError, read_csv, sort_errors
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.persistence import check_version, commit, guards_versions
from portal.places.models import County, Prison, ProbationOffice, office_key

KINDS: dict[type, tuple[str, str]] = {  # model -> (singular, plural) in words
    County: ("county", "counties"),
    Prison: ("prison", "prisons"),
    ProbationOffice: ("probation office", "probation offices"),
}
FIELDS = ("name", "county_id", "active")
CSV_COLUMNS = ("kind", "name", "county", "active")
CSV_KINDS = {"county": County, "prison": Prison, "probation_office": ProbationOffice}


def places_of(crc_id: int, *, active_only: bool = False) -> dict[type, list[Any]]:
    """The CRC's counties, prisons and offices, by name (three queries however many there are)."""
    found: dict[type, list[Any]] = {}
    for model in (County, Prison, ProbationOffice):
        statement = select(model).where(model.crc_id == crc_id).order_by(model.name)
        if active_only:
            statement = statement.where(model.active.is_(True))
        found[model] = list(db.session.scalars(statement).all())
    return found


def names_of(crc_id: int) -> Places:
    """Every place's name by id, for saying a service's rules in words: ids and names only, in one
    query (the service directory and a contract's services ask on every view)."""
    rows = db.session.execute(
        union_all(
            *(
                select(literal(kind), model.id, model.name).where(model.crc_id == crc_id)
                for kind, model in (("county", County), ("prison", Prison), ("office", ProbationOffice))
            )
        )
    ).all()
    names: dict[str, dict[int, str]] = {"county": {}, "prison": {}, "office": {}}
    for kind, place_id, name in rows:
        names[kind][place_id] = name
    return Places(counties=names["county"], prisons=names["prison"], offices=names["office"])


class PlaceFinder:
    """A CRC's places loaded once (three queries), to find any number of names in memory: the
    bulk import checks thousands of rows against them."""

    def __init__(self, places: dict[type, list[Any]]) -> None:
        self.counties = {county.id: county for county in places[County]}
        self.prisons = [prison for prison in places[Prison] if prison.active]
        self.offices = [office for office in places[ProbationOffice] if office.active]
        self.offices_by_id = {office.id: office for office in places[ProbationOffice]}
        self.names = Places(
            counties={c.id: c.name for c in places[County]},
            prisons={p.id: p.name for p in places[Prison]},
            offices={o.id: o.name for o in places[ProbationOffice]},
        )

    @classmethod
    def of(cls, crc_id: int) -> PlaceFinder:
        return cls(places_of(crc_id))

    def prison(self, name: Any) -> Prison | None:
        text = name.strip().lower() if isinstance(name, str) else ""
        return next((prison for prison in self.prisons if prison.name.lower() == text), None) if text else None

    def office(self, name: Any) -> ProbationOffice | None:
        """The active office with this name, or another spelling of it ("Bedford" is "Bedford probation office")."""
        key = office_key(name) if isinstance(name, str) else ""
        if not key:
            return None
        exact = [office for office in self.offices if office.name.lower() == name.strip().lower()]
        if exact:
            return exact[0]
        matches = [office for office in self.offices if office_key(office.name) == key]
        return matches[0] if len(matches) == 1 else None

    def county_of(self, office: ProbationOffice | None) -> County | None:
        return self.counties.get(office.county_id) if office is not None and office.county_id else None


def find_prison(crc_id: int, name: Any) -> Prison | None:
    text = (name or "").strip().lower() if isinstance(name, str) else ""
    if not text:
        return None
    prisons = db.session.scalars(select(Prison).where(Prison.crc_id == crc_id, Prison.active.is_(True))).all()
    return next((prison for prison in prisons if prison.name.lower() == text), None)


def find_office(crc_id: int, name: Any) -> ProbationOffice | None:
    """The active office with this name, or another spelling of it ("Bedford" is "Bedford probation office")."""
    if not (office_key(name) if isinstance(name, str) else ""):
        return None
    offices = db.session.scalars(
        select(ProbationOffice).where(ProbationOffice.crc_id == crc_id, ProbationOffice.active.is_(True))
    ).all()
    return PlaceFinder({County: [], Prison: [], ProbationOffice: list(offices)}).office(name)


# --- managing them ------------------------------------------------------------------------------


def _clean(model: type, crc_id: int, fields: dict[str, Any], existing: Any = None) -> dict[str, Any]:
    singular = KINDS[model][0]
    errors: dict[str, list[str]] = {}
    name = " ".join(str(fields.get("name") or "").split())
    if not name:
        errors["name"] = [f"Enter the {singular}'s name"]
    elif len(name) > 100:
        errors["name"] = ["The name must be 100 characters or fewer"]
    else:
        clash = select(model.id).where(model.crc_id == crc_id, db.func.lower(model.name) == name.lower())
        if existing is not None:
            clash = clash.where(model.id != existing.id)
        if db.session.scalar(clash) is not None:
            errors["name"] = [f"There is already a {singular} called {name}"]
    data: dict[str, Any] = {"name": name, "active": bool(fields.get("active", True))}
    if model is not County:
        county_id = fields.get("county_id")
        county = None
        if county_id not in (None, ""):
            try:
                county = db.session.get(County, int(county_id))
            except (TypeError, ValueError):
                county = None
            if county is None or county.crc_id != crc_id:
                errors["county_id"] = ["Select a county from the list"]
        elif model is ProbationOffice:
            errors["county_id"] = ["Select the county the office is in"]
        data["county_id"] = county.id if county is not None else None
    if errors:
        raise ValidationFailed(errors)
    return data


def add_place(actor: Any, model: type, *, save: bool = True, **fields: Any) -> Any:
    access.require(actor, "manage", County)
    data = _clean(model, actor.organisation_id, fields)
    place = model(crc_id=actor.organisation_id, **data)
    db.session.add(place)
    db.session.flush()
    record_event(f"{model.__tablename__}.created", actor=actor, record=place, details=data)
    if save:
        commit(KINDS[model][0])
    return place


@guards_versions("place")
def update_place(actor: Any, place: Any, *, version: Any = None, **fields: Any) -> Any:
    """Change a place's name, county or whether it is in use (retired places stay on old records)."""
    model = type(place)
    access.require(actor, "manage", County)
    check_version(place, version, KINDS[model][0])
    data = _clean(model, place.crc_id, {"active": place.active, **fields}, existing=place)
    present = [name for name in FIELDS if hasattr(place, name)]
    before = snapshot(place, present)
    for key, value in data.items():
        setattr(place, key, value)
    difference = changes(before, snapshot(place, present))
    if difference:
        record_event(f"{model.__tablename__}.updated", actor=actor, record=place, details={"changes": difference})
    commit(KINDS[model][0])
    return place


# --- the CSV file ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    added: int
    changed: int


def import_places(actor: Any, data: bytes) -> ImportResult:
    """Add or change places from a CSV file (columns kind, name, county, active): every row is
    checked first and nothing is saved unless all are right (FileRejected names each row)."""
    access.require(actor, "manage", County)
    crc_id = actor.organisation_id
    rows = read_csv(
        data, CSV_COLUMNS, max_bytes=1_000_000, max_rows=5_000, required_columns=("kind", "name"), what="file"
    )
    existing = places_of(crc_id)
    by_name = {model: {place.name.lower(): place for place in places} for model, places in existing.items()}
    counties = dict(by_name[County])
    errors: list[RowError] = []
    plan: list[tuple[int, type, Any, dict[str, Any]]] = []
    seen: dict[tuple[type, str], int] = {}
    # Counties first, so a file can add a county and its offices together.
    ordered = sorted(rows, key=lambda row: (row.values.get("kind", "").strip().lower() != "county", row.number))
    for row in ordered:
        values = row.values
        model = CSV_KINDS.get(values.get("kind", "").strip().lower().replace(" ", "_"))
        if model is None:
            errors.append(RowError(row.number, "kind", "Enter county, prison or probation_office"))
            continue
        name = " ".join(values.get("name", "").split())
        if not name:
            errors.append(RowError(row.number, "name", "Enter the name"))
            continue
        if len(name) > 100:
            errors.append(RowError(row.number, "name", "The name must be 100 characters or fewer"))
            continue
        key = (model, name.lower())
        if key in seen:
            errors.append(RowError(row.number, "name", f"This {KINDS[model][0]} is also in row {seen[key]}"))
            continue
        seen[key] = row.number
        active_text = values.get("active", "").strip().lower()
        if active_text not in ("", "yes", "no"):
            errors.append(RowError(row.number, "active", "Enter yes or no (empty means yes)"))
            continue
        fields: dict[str, Any] = {"name": name, "active": active_text != "no"}
        if model is not County:
            county_name = values.get("county", "").strip().lower()
            if county_name and county_name not in counties:
                errors.append(RowError(row.number, "county", f"No county called {values['county'].strip()}"))
                continue
            if not county_name and model is ProbationOffice:
                errors.append(RowError(row.number, "county", "Enter the county the office is in"))
                continue
            fields["county"] = county_name
        elif values.get("county", "").strip():
            errors.append(RowError(row.number, "county", "A county is not in a county: leave this empty"))
            continue
        place = by_name[model].get(name.lower())
        if model is County and place is None:
            counties[name.lower()] = None  # added by this file
        plan.append((row.number, model, place, fields))
    if errors:
        raise FileRejected(sort_errors(errors, CSV_COLUMNS), "file")
    added = changed = 0
    for _number, model, place, fields in plan:
        county_name = fields.pop("county", "")
        if county_name:
            county = counties[county_name]
            if county is None:
                county = counties[county_name] = by_name[County][county_name]
            fields["county_id"] = county.id
        elif model is not County:
            fields["county_id"] = None
        if place is None:
            created = model(crc_id=crc_id, **fields)
            db.session.add(created)
            db.session.flush()
            by_name[model][created.name.lower()] = created
            record_event(
                f"{model.__tablename__}.created", actor=actor, record=created, details={**fields, "via": "csv"}
            )
            added += 1
        else:
            present = [name for name in FIELDS if hasattr(place, name)]
            before = snapshot(place, present)
            for key, value in fields.items():
                setattr(place, key, value)
            difference = changes(before, snapshot(place, present))
            if difference:
                record_event(
                    f"{model.__tablename__}.updated",
                    actor=actor,
                    record=place,
                    details={"changes": difference, "via": "csv"},
                )
                changed += 1
    record_event("places.imported", actor=actor, details={"added": added, "changed": changed})
    commit("place")
    return ImportResult(added, changed)


def export_rows(crc_id: int) -> list[list[str]]:
    places = places_of(crc_id)
    rows = [["county", c.name, "", "yes" if c.active else "no"] for c in places[County]]
    for model, kind in ((Prison, "prison"), (ProbationOffice, "probation_office")):
        rows += [[kind, p.name, p.county.name if p.county else "", "yes" if p.active else "no"] for p in places[model]]
    return rows


def seed_places(
    crc_id: int, counties: dict[str, None], prisons: dict[str, str | None], offices: dict[str, str]
) -> None:
    """Load a CRC's places without an actor (the demo and the tests' CRCs): counties by name,
    prisons and offices each with its county's name (or None)."""
    made = {}
    for name in counties:
        made[name] = County(crc_id=crc_id, name=name)
        db.session.add(made[name])
    db.session.flush()
    for model, places in ((Prison, prisons), (ProbationOffice, offices)):
        for name, county in places.items():
            db.session.add(model(crc_id=crc_id, name=name, county_id=made[county].id if county else None))
    db.session.flush()
