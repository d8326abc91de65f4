"""Subject access (UK GDPR article 15): everything held about one person, as one ZIP of a readable
PDF, the complete records as JSON, and the evidence files themselves. Administrators only; audited."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

from portal import access
from portal.accounts.models import User
from portal.audit.service import record_event
from portal.db import utcnow
from portal.delivery import evidence
from portal.errors import NotFound
from portal.extensions import db
from portal.pdf import render_pdf
from portal.people.models import Person
from portal.people.records import records_of


@dataclass(frozen=True)
class Export:
    filename: str
    data: bytes


def find_person(actor: User, person_id: int) -> Person:
    """The person, if the actor answers subject access requests and their CRC holds them."""
    access.require(actor, "subject_access", Person)
    person = db.session.scalars(access.visible(Person, actor).where(Person.id == person_id)).first()
    if person is None:
        raise NotFound("There is no such person")
    return person


def subject_access_export(actor: User, person_id: int) -> Export:
    person = find_person(actor, person_id)
    found = records_of(person)
    made_at = utcnow()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("records.json", json.dumps(found.as_json(), indent=2, ensure_ascii=False))
        archive.writestr(
            "summary.pdf",
            render_pdf("pdf/subject_access.html", found=found, records=found.as_json(), made_at=made_at, actor=actor),
        )
        missing = []
        for file in found.evidence_files:
            path = evidence.path_of(file.stored_name)
            if path.exists():
                archive.write(path, f"evidence/{file.id}-{file.original_name}")
            else:
                missing.append(file.id)
        if missing:
            archive.writestr("evidence/MISSING.txt", f"Evidence files recorded but not in storage: {missing}\n")
    record_event(
        "person.subject_access_exported",
        actor=actor,
        record=person,
        details={**found.counts(), "missing_evidence_files": len(missing)},
    )
    db.session.commit()
    return Export(f"subject-access-{person.crn}-{made_at:%Y%m%d}.zip", buffer.getvalue())
