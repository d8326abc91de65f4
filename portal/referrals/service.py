"""Operations on referrals: drafting and sending (CRC), accepting, declining and assigning
(partner), withdrawing and amending (CRC), and case notes (both).

Each operation checks who is acting and the referral's state, makes the change with its
timeline entry and audit event, commits (a lost race becomes StaleRecord), then queues the
emails that tell the other side.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from portal import access
from portal.accounts.models import PARTNER_ROLES, User
from portal.audit.models import AuditEvent
from portal.audit.service import changes, jsonable, record_event
from portal.contracts.models import Contract
from portal.dates import london_day, london_today
from portal.db import utcnow
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.notifications.rules import notify
from portal.people.models import Person
from portal.persistence import check_version, column_values, commit, guards_versions, insert_new_in_bulk, lock
from portal.referrals import validation
from portal.referrals.models import (
    LIVE_STATUSES,
    OPEN_STATUSES,
    CaseNote,
    ColourBand,
    DeclineReason,
    Referral,
    ReferralEvent,
    ReferralEventKind,
    ReferralStatus,
    WithdrawReason,
)
from portal.urls import as_id
from portal.workflow import StateMachine, Transition
from portal.working_days import add_working_days

# Letters that cannot be mistaken for digits or each other when read out or typed.
REFERENCE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
REFERENCE_DIGITS = "0123456789"

REFERRAL_WORKFLOW = StateMachine(
    "referral",
    [
        Transition(
            "send", frozenset({ReferralStatus.DRAFT}), ReferralStatus.SENT, "This referral has already been sent"
        ),
        Transition(
            "accept",
            frozenset({ReferralStatus.SENT}),
            ReferralStatus.ACCEPTED,
            "Only a referral waiting for an answer can be accepted",
        ),
        Transition(
            "decline",
            frozenset({ReferralStatus.SENT}),
            ReferralStatus.DECLINED,
            "Only a referral waiting for an answer can be declined",
        ),
        Transition(
            "start",
            frozenset({ReferralStatus.ACCEPTED}),
            ReferralStatus.IN_PROGRESS,
            "Only an accepted referral can start",
        ),
        # A correction: the only attended session was deleted or marked as missed, so there has
        # been no first contact after all and its SLA clock runs again.
        Transition(
            "unstart",
            frozenset({ReferralStatus.IN_PROGRESS}),
            ReferralStatus.ACCEPTED,
            "Only a referral in progress can go back to waiting for first contact",
        ),
        Transition(
            "complete",
            frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS}),
            ReferralStatus.COMPLETED,
            "Only an open referral can be completed",
        ),
        Transition(
            "withdraw",
            frozenset({ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS}),
            ReferralStatus.WITHDRAWN,
            "Only a referral that has been sent and is not finished can be withdrawn",
        ),
    ],
)


def new_reference() -> str:
    """Like AB1234CD: 8 characters, about 2.7 billion possibilities, no I, O or Q."""
    pick = secrets.choice
    return (
        "".join(pick(REFERENCE_LETTERS) for _ in range(2))
        + "".join(pick(REFERENCE_DIGITS) for _ in range(4))
        + "".join(pick(REFERENCE_LETTERS) for _ in range(2))
    )


def timeline(
    referral: Referral, kind: ReferralEventKind, actor: Any, summary: str, details: dict[str, Any] | None = None
) -> ReferralEvent:
    """Add a line to the referral's timeline (in the caller's transaction)."""
    event = ReferralEvent(
        referral_id=referral.id,
        kind=kind,
        actor_id=getattr(actor, "id", None),
        summary=summary[:300],
        details=jsonable(details or {}),
    )
    db.session.add(event)
    return event


def _contract_of(referral: Referral) -> Contract:
    return db.session.get(Contract, referral.contract_id)


def _caseworker_for(contract: Contract, value: Any) -> User | None:
    """The active partner user `value` names (a User, id or email), who may hold the case."""
    if value in (None, ""):
        return None
    if isinstance(value, User):
        user = value
    elif isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        user_id = as_id(value)
        user = db.session.get(User, user_id) if user_id is not None else None
    else:
        user = db.session.scalars(select(User).where(User.email == str(value).strip().lower())).first()
    if user is None or user.organisation_id != contract.partner_id or user.role not in PARTNER_ROLES or not user.active:
        raise ValidationFailed.single("caseworker", "Select a caseworker from your organisation")
    return user


# --- drafting and sending (CRC referrer) -------------------------------------------------------------


STEP_CHECKS = {
    "service": lambda actor, fields: validation.check_service(actor, fields),
    "person": lambda actor, fields: validation.check_person(fields),
    "location": lambda actor, fields: validation.check_location(fields, crc_id=actor.organisation_id),
    "risk": lambda actor, fields: validation.check_risk(fields),
    "needs": lambda actor, fields: validation.check_needs(fields),
}
STEPS = tuple(STEP_CHECKS)


def start_draft(actor: Any) -> Referral:
    access.require(actor, "create", Referral)
    referral = Referral(status=ReferralStatus.DRAFT, crc_id=actor.organisation_id, referrer_id=actor.id)
    db.session.add(referral)
    db.session.flush()
    record_event("referral.draft_started", actor=actor, record=referral)
    commit("referral")
    return referral


def find_person(crn: str, crc_id: int) -> Person | None:
    """The person with this CRN as the CRC `crc_id` holds them (another CRC's record is not found)."""
    return db.session.scalars(
        select(Person).where(Person.crc_id == crc_id, Person.crn == validation.normalise_crn(crn))
    ).first()


def _apply_person(actor: Any, data: dict[str, Any], crc_id: int) -> Person:
    """Reuse the CRC's person with this CRN (bringing their details up to date) or create them."""
    person = find_person(data["crn"], crc_id)
    if person is None:
        person = Person(crc_id=crc_id, **data)
        db.session.add(person)
        db.session.flush()
        record_event("person.created", actor=actor, record=person, details={"crn": person.crn})
        return person
    details = {field: getattr(person, field) for field in validation.PERSON_FIELDS}
    difference = _bring_up_to_date(details, data)
    for field, value in details.items():
        setattr(person, field, value)
    if difference:
        record_event("person.updated", actor=actor, record=person, details={"changes": difference})
    return person


def _bring_up_to_date(details: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Give a person's `details` (as the CRC holds them) those a referral has just given, returning
    the changes for the audit event, unless the referral is most likely about someone else."""
    if data.get("date_of_birth") != details["date_of_birth"] and (
        (data.get("family_name") or "").strip().lower() != (details["family_name"] or "").strip().lower()
    ):
        # Neither the surname nor the date of birth matches: most likely a mistyped CRN, and
        # saving would rewrite someone else's record for every partner working with them.
        raise ValidationFailed.single(
            "crn",
            f"CRN {details['crn']} is already recorded for someone with a different surname and date of birth. "
            "Check the CRN",
        )
    before = dict(details)
    details.update((field, value) for field, value in data.items() if field in details)
    return changes(before, details)


@guards_versions("referral")
def save_step(
    actor: Any, referral: Referral, step: str, fields: dict[str, Any], *, version: int | None = None
) -> Referral:
    """Check one part of a draft and save it. Nothing is saved if any field is wrong."""
    access.require(actor, "edit_draft", referral)
    if referral.status != ReferralStatus.DRAFT:
        raise ValidationFailed.single("referral", "This referral has been sent: use 'amend' to change it")
    check_version(referral, version, "referral")
    data = STEP_CHECKS[step](actor, fields)
    if step == "needs":
        validation.check_rar_days_setting(referral.location_type, data["rar_days"])
    if step == "person":
        referral.person_id = _apply_person(actor, data, referral.crc_id).id
    else:
        for field, value in data.items():
            setattr(referral, field, value)
    record_event("referral.draft_saved", actor=actor, record=referral, details={"step": step})
    commit("referral")
    return referral


def missing_steps(referral: Referral) -> list[str]:
    """Parts of a draft not yet answered, in order."""
    missing = []
    if referral.contract_id is None or not referral.service_code:
        missing.append("service")
    if referral.person_id is None:
        missing.append("person")
    if referral.location_type is None:
        missing.append("location")
    if referral.rosh_level is None or not referral.risk_summary:
        missing.append("risk")
    if (
        referral.complexity is None
        or not referral.desired_outcomes
        or not referral.reason
        or referral.sentence_end_date is None
    ):
        missing.append("needs")
    return missing


def _draft_fields(referral: Referral) -> dict[str, Any]:
    person = db.session.get(Person, referral.person_id) if referral.person_id else None
    fields = {
        field: getattr(referral, field)
        for field in (
            *validation.SERVICE_FIELDS,
            *validation.LOCATION_FIELDS,
            *validation.RISK_FIELDS,
            *validation.NEEDS_FIELDS,
        )
    }
    if person is not None:
        fields.update({field: getattr(person, field) for field in validation.PERSON_FIELDS})
    for key, value in list(fields.items()):
        if hasattr(value, "value"):
            fields[key] = value.value
    return fields


@guards_versions("referral")
def open_duplicates(actor: Any, referral: Referral) -> list[Referral]:
    """Open referrals (sent, accepted or in progress) of the same person to the same service as
    this draft: sending another would most likely be a duplicate."""
    if referral.person_id is None or referral.contract_id is None or not referral.service_code:
        return []
    return list(
        db.session.scalars(
            access.visible(Referral, actor)
            .where(
                Referral.id != referral.id,
                Referral.person_id == referral.person_id,
                Referral.contract_id == referral.contract_id,
                Referral.service_code == referral.service_code,
                Referral.status.in_(LIVE_STATUSES),
            )
            .order_by(Referral.sent_at)
        ).all()
    )


def send_referral(
    actor: Any,
    referral: Referral,
    *,
    version: int | None = None,
    duplicate_confirmed: bool = True,
) -> Referral:
    """Send a complete draft: it gets its reference, the SLA clock starts, the partner is told.
    The pages warn of an open referral of the same person to the same service first, and send
    only once the referrer confirms it is not a duplicate (`duplicate_confirmed`)."""
    access.require(actor, "edit_draft", referral)
    check_version(referral, version, "referral")
    REFERRAL_WORKFLOW.check(referral, "send")
    missing = missing_steps(referral)
    if missing:
        raise ValidationFailed({step: [f"Complete the {step} section before sending"] for step in missing})
    if not duplicate_confirmed:
        duplicates = open_duplicates(actor, referral)
        if duplicates:
            raise ValidationFailed.single(
                "not_a_duplicate",
                f"Referral {duplicates[0].reference} for this person to this service is still open: "
                "confirm this is not a duplicate, or delete this draft",
            )
    # Everything is checked again as a whole: a contract may have ended, a date passed.
    cleaned = validation.check_everything(actor, _draft_fields(referral))
    # What the check settles as it sends: the place records named, and the band it suggests.
    for field in (
        "prison",
        "prison_id",
        "community_office",
        "probation_office_id",
        "colour_band",
        "colour_band_reason",
    ):
        setattr(referral, field, cleaned[field])
    return _send(actor, referral)


def _send(actor: Any, referral: Referral, *, save: bool = True) -> Referral:
    contract = db.session.get(Contract, referral.contract_id)
    _give_references([referral])
    left = _stamp_sent(actor, referral, contract)
    _record_sent(actor, referral, contract, left)
    if save:
        commit("referral")
    return referral


def _stamp_sent(actor: Any, referral: Referral, contract: Contract) -> ReferralStatus:
    """The referral sent (its status, when, by whom) and the day its answer is due; the status it
    left, for _record_sent, which needs the referral saved."""
    now, left = REFERRAL_WORKFLOW.stamp(referral, "send", actor)
    referral.accept_due_on = add_working_days(london_day(now), contract.accept_sla_working_days)
    return left  # type: ignore[return-value]


def _record_sent(actor: Any, referral: Referral, contract: Contract, left: ReferralStatus) -> None:
    """The sending's audit event and timeline entry, and the partner told."""
    REFERRAL_WORKFLOW.audit(referral, "send", actor, left, details={"reference": referral.reference})
    timeline(
        referral,
        ReferralEventKind.SENT,
        actor,
        f"Referral sent to {contract.partner.name} for {referral.service_name} ({referral.service_code})",
        {"accept_due_on": referral.accept_due_on},
    )
    _notify_partner(contract, referral, "referral_sent", actor=actor)


# References, CRNs and ids are looked up this many at a time (well under SQLite's limit of bound parameters).
LOOKUP_BATCH = 1_000


def _give_references(referrals: list[Referral]) -> None:
    """A new reference for each referral, unused by any other, asking the database once for a
    batch (again for the rare one that collided). Without no_autoflush the look-up would first save
    the new references and then find them, so every attempt "collided"."""
    waiting = list(referrals)
    with db.session.no_autoflush:
        for _attempt in range(5):
            if not waiting:
                return
            for referral in waiting:
                referral.reference = new_reference()
            chosen = [referral.reference for referral in waiting]
            taken = set()
            for start in range(0, len(chosen), LOOKUP_BATCH):
                batch = chosen[start : start + LOOKUP_BATCH]
                taken.update(db.session.scalars(select(Referral.reference).where(Referral.reference.in_(batch))))
            seen: set[str] = set()
            collided = []
            for referral in waiting:
                if referral.reference in taken or referral.reference in seen:
                    collided.append(referral)
                seen.add(referral.reference)
            waiting = collided
    # After five draws a reference still taken is left to the unique index, as before.


@guards_versions("referral")
def create_and_send(actor: Any, fields: dict[str, Any], *, save: bool = True) -> Referral:
    """A whole referral at once (API, bulk import): all fields checked together, then sent.
    With save=False the caller commits (the bulk import saves every row or none)."""
    access.require(actor, "send", Referral)
    data = validation.check_everything(actor, fields)
    return send_checked(actor, data, save=save)


def send_checked(actor: Any, data: dict[str, Any], *, save: bool = True, service: Any = None) -> Referral:
    """Create and send a referral from fields already through validation.check_everything.
    `service`, its Service record if the caller has it, saves looking it up again."""
    data = dict(data)
    person_data = {field: data.pop(field) for field in validation.PERSON_FIELDS}
    referral = Referral(status=ReferralStatus.DRAFT, crc_id=actor.organisation_id, referrer_id=actor.id, **data)
    if service is not None:
        set_committed_value(referral, "service", service)
    db.session.add(referral)
    referral.person_id = _apply_person(actor, person_data, referral.crc_id).id
    db.session.flush()
    return _send(actor, referral, save=save)


def send_checked_rows(actor: Any, rows: list[tuple[int, dict[str, Any], Any]]) -> list[Referral]:
    """Create and send many referrals from rows already through validation.check_everything, in
    the caller's transaction (the bulk import commits every row or none): `rows` holds each row's
    number, its fields and its Service record. Each is sent as send_checked sends one, with the same
    person rules, timeline entry, audit events (in the same order) and emails, but the look-ups are
    made once for all the rows and each table is written in one statement, so the queries do not
    grow with the rows. Rows whose CRN is someone else's raise FileRejected naming each row."""
    from portal.csv_files import FileRejected, RowError
    from portal.notifications.models import DigestItem, OutboundEmail
    from portal.notifications.rules import recipients_remembered

    if not rows:
        return []
    crc_id = actor.organisation_id
    contracts = {  # held here, so that each referral's look-up of its contract finds it loaded
        contract.id: contract
        for contract in db.session.scalars(
            select(Contract).where(Contract.id.in_({data["contract_id"] for _, data, _ in rows}))
        )
    }
    # People: the CRC's records of every CRN in the rows, read once. A person new to the CRC is
    # created as the first row naming them says; each later row brings the details up to date.
    crns = sorted({validation.normalise_crn(data["crn"]) for _, data, _ in rows})
    held: dict[str, Person] = {}
    for start in range(0, len(crns), LOOKUP_BATCH):
        chunk = crns[start : start + LOOKUP_BATCH]
        held.update(
            (p.crn, p) for p in db.session.scalars(select(Person).where(Person.crc_id == crc_id, Person.crn.in_(chunk)))
        )
    details = {
        crn: {field: getattr(person, field) for field in validation.PERSON_FIELDS} for crn, person in held.items()
    }
    errors: list[RowError] = []
    drafts: list[tuple[str, Referral, Any, list[tuple[str, dict[str, Any]]]]] = []
    for number, checked, service in rows:
        data = dict(checked)
        person_data = {field: data.pop(field) for field in validation.PERSON_FIELDS}
        crn = validation.normalise_crn(person_data["crn"])
        events: list[tuple[str, dict[str, Any]]] = []
        if crn not in details:
            details[crn] = dict(person_data)
            events.append(("person.created", {"crn": person_data["crn"]}))
        else:
            try:
                difference = _bring_up_to_date(details[crn], person_data)
            except ValidationFailed as failure:
                errors.extend(
                    RowError(number, field, message)
                    for field, messages in failure.errors.items()
                    for message in messages
                )
                continue
            if difference:
                events.append(("person.updated", {"changes": difference}))
        # Not added to the session: saved below, with the others, in one statement.
        referral = Referral(status=ReferralStatus.DRAFT, crc_id=crc_id, referrer_id=actor.id, **data)
        drafts.append((crn, referral, service, events))
    if errors:
        raise FileRejected(errors, "referrals file")

    people = _save_people(crc_id, held, details)
    _give_references([referral for _, referral, _, _ in drafts])
    left = {}
    for crn, referral, _, _ in drafts:
        referral.person_id = people[crn].id
        left[referral.reference] = _stamp_sent(actor, referral, contracts[referral.contract_id])
    saved = {
        referral.reference: referral
        for referral in _insert_and_load(Referral, column_values(Referral, [referral for _, referral, _, _ in drafts]))
    }
    sent = []
    # Each partner's managers asked once, not once a referral; and the audit events, timeline
    # entries and emails kept back from the session's flushes, to be saved together below.
    with recipients_remembered(), db.session.no_autoflush:
        for crn, draft, service, events in drafts:
            referral = saved[draft.reference]
            set_committed_value(referral, "service", service)
            for action, event_details in events:
                record_event(action, actor=actor, record=people[crn], details=event_details)
            _record_sent(actor, referral, contracts[referral.contract_id], left[referral.reference])
            sent.append(referral)
    insert_new_in_bulk(AuditEvent, ReferralEvent, OutboundEmail, DigestItem)
    return sent


def _insert_and_load(model: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """Insert rows of the model's table in one statement (the ORM's own INSERT of many records
    goes a record at a time on SQLite, and wherever their empty fields differ), then load them."""
    table = model.__table__
    ids = list(db.session.scalars(insert(table).returning(table.c.id), rows))
    loaded = []
    for start in range(0, len(ids), LOOKUP_BATCH):
        loaded.extend(db.session.scalars(select(model).where(model.id.in_(ids[start : start + LOOKUP_BATCH]))))
    return loaded


def _save_people(crc_id: int, held: dict[str, Person], details: dict[str, dict[str, Any]]) -> dict[str, Person]:
    """Save people's details as a batch of referrals left them: the new ones added in one
    statement, the changed ones updated in one (version-checked, as every change of a person is)."""
    new = [values | {"crc_id": crc_id} for crn, values in details.items() if crn not in held]
    people = dict(held)
    if new:
        people.update((person.crn, person) for person in _insert_and_load(Person, new))
    changed = [
        (held[crn], values)
        for crn, values in details.items()
        if crn in held and any(getattr(held[crn], field) != value for field, value in values.items())
    ]
    if changed:
        table = Person.__table__
        now = utcnow()
        statement = (
            update(table)
            .where(table.c.id == bindparam("person_id"), table.c.version == bindparam("read_version"))
            .values(
                {field: bindparam(field) for field in validation.PERSON_FIELDS}
                | {"version": bindparam("new_version"), "updated_at": now}
            )
        )
        result = db.session.execute(
            statement,
            [
                values | {"person_id": person.id, "read_version": person.version, "new_version": person.version + 1}
                for person, values in changed
            ],
        )
        if db.session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(changed):
            raise StaleDataError("A person was changed by someone else while the referrals were sent")
        for person, values in changed:  # the records as saved, without reading them again
            saved = values | {"version": person.version + 1, "updated_at": now}
            for field, value in saved.items():
                set_committed_value(person, field, value)
    return people


def discard_draft(actor: Any, referral: Referral) -> None:
    access.require(actor, "edit_draft", referral)
    if referral.status != ReferralStatus.DRAFT:
        raise ValidationFailed.single("referral", "Only a draft can be discarded; withdraw a sent referral instead")
    record_event("referral.draft_discarded", actor=actor, record=referral)
    db.session.delete(referral)
    commit("referral")


# --- the partner's answer ----------------------------------------------------------------------------


@guards_versions("referral")
def accept_referral(
    actor: Any, referral: Referral, *, risk_information_read: bool, caseworker: Any = None, version: int | None = None
) -> Referral:
    """Accept, having read the risk information (recorded), optionally naming the caseworker."""
    access.require(actor, "answer", referral)
    lock(referral)  # of two answers at once, the second sees the first's and is refused
    contract = _contract_of(referral)
    check_version(referral, version, "referral")
    REFERRAL_WORKFLOW.check(referral, "accept")
    if risk_information_read is not True:
        raise ValidationFailed.single(
            "risk_information_read", "Confirm you have read the risk information before accepting"
        )
    assignee = _caseworker_for(contract, caseworker)
    now = REFERRAL_WORKFLOW.apply(referral, "accept", actor, details={"risk_information_read": True})
    referral.risk_confirmed_at = now
    referral.risk_confirmed_by_id = actor.id
    referral.first_contact_due_on = add_working_days(london_day(now), contract.first_contact_sla_working_days)
    timeline(
        referral,
        ReferralEventKind.ACCEPTED,
        actor,
        f"Accepted by {actor.name}, who confirmed reading the risk information",
        {"first_contact_due_on": referral.first_contact_due_on},
    )
    if assignee is not None:
        _assign(actor, referral, assignee)
    notify("referral_accepted", referral, actor=actor, referral=referral, contract=contract)
    commit("referral")
    return referral


@guards_versions("referral")
def decline_referral(
    actor: Any, referral: Referral, *, reason_code: Any, detail: str, version: int | None = None
) -> Referral:
    access.require(actor, "answer", referral)
    lock(referral)  # of two answers at once, the second sees the first's and is refused
    contract = _contract_of(referral)
    check_version(referral, version, "referral")
    REFERRAL_WORKFLOW.check(referral, "decline")
    errors: dict[str, list[str]] = {}
    try:
        reason = DeclineReason(reason_code)
    except ValueError:
        errors["reason_code"] = ["Select why you are declining the referral"]
    detail = (detail or "").strip()
    if not detail:
        errors["detail"] = ["Explain why you are declining, so the referrer can find another service"]
    elif len(detail) > validation.MAX_TEXT:
        errors["detail"] = [f"The explanation must be {validation.MAX_TEXT} characters or fewer"]
    if errors:
        raise ValidationFailed(errors)
    REFERRAL_WORKFLOW.apply(referral, "decline", actor, details={"reason_code": reason.value})
    referral.decline_reason = reason
    referral.decline_detail = detail
    timeline(referral, ReferralEventKind.DECLINED, actor, f"Declined: {reason.label}", {"detail": detail})
    notify("referral_declined", referral, actor=actor, referral=referral, contract=contract)
    commit("referral")
    return referral


def _assign(actor: Any, referral: Referral, caseworker: User | None) -> None:
    previous = db.session.get(User, referral.caseworker_id) if referral.caseworker_id else None
    referral.caseworker_id = caseworker.id if caseworker else None
    summary = (f"Assigned to {caseworker.name}" if caseworker else "Caseworker removed") + (
        f" (was {previous.name})" if previous else ""
    )
    timeline(
        referral,
        ReferralEventKind.ASSIGNED,
        actor,
        summary,
        {"from": previous.email if previous else None, "to": caseworker.email if caseworker else None},
    )
    record_event(
        "referral.assigned",
        actor=actor,
        record=referral,
        details={
            "caseworker": {
                "before": previous.email if previous else None,
                "after": caseworker.email if caseworker else None,
            }
        },
    )
    if caseworker is not None:
        notify("referral_assigned", referral, actor=actor, referral=referral, caseworker=caseworker)


@guards_versions("referral")
def assign_caseworker(actor: Any, referral: Referral, *, caseworker: Any, version: int | None = None) -> Referral:
    access.require(actor, "assign", referral)
    contract = _contract_of(referral)
    check_version(referral, version, "referral")
    if referral.status not in (ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS):
        raise ValidationFailed.single("caseworker", "Only an accepted, open referral can be assigned")
    assignee = _caseworker_for(contract, caseworker)
    if assignee is None:
        raise ValidationFailed.single("caseworker", "Select a caseworker")
    if assignee.id == referral.caseworker_id:
        return referral
    _assign(actor, referral, assignee)
    commit("referral")
    return referral


# --- withdrawing and amending (CRC referrer) -------------------------------------------------------


@guards_versions("referral")
def withdraw_referral(
    actor: Any, referral: Referral, *, reason_code: Any, detail: str, version: int | None = None
) -> Referral:
    access.require(actor, "withdraw", referral)
    lock(referral)  # of two answers at once, the second sees the first's and is refused
    check_version(referral, version, "referral")
    REFERRAL_WORKFLOW.check(referral, "withdraw")
    errors: dict[str, list[str]] = {}
    try:
        reason = WithdrawReason(reason_code)
    except ValueError:
        errors["reason_code"] = ["Select why you are withdrawing the referral"]
    detail = (detail or "").strip()
    if not detail:
        errors["detail"] = ["Explain why you are withdrawing the referral"]
    if errors:
        raise ValidationFailed(errors)
    REFERRAL_WORKFLOW.apply(referral, "withdraw", actor, details={"reason_code": reason.value})
    referral.withdraw_reason = reason
    referral.withdraw_detail = detail
    timeline(referral, ReferralEventKind.WITHDRAWN, actor, f"Withdrawn: {reason.label}", {"detail": detail})
    contract = db.session.get(Contract, referral.contract_id)
    _notify_partner(contract, referral, "referral_withdrawn", actor=actor)
    from portal.delivery.sessions import cancel_future_sessions
    from portal.plans.service import close_plan

    cancel_future_sessions(actor, referral)
    close_plan(actor, referral, because="the referral was withdrawn")
    commit("referral")
    return referral


@guards_versions("referral")
def amend_referral(
    actor: Any, referral: Referral, *, changes_wanted: dict[str, Any], reason: str, version: int | None = None
) -> Referral:
    """Change risk information, desired outcomes, RAR days, release date or contact details
    after sending. Each amendment carries a reason and appears in the referral's changelog."""
    access.require(actor, "amend", referral)
    check_version(referral, version, "referral")
    if referral.status not in (ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS):
        raise ValidationFailed.single("referral", "Only a referral that is sent or open can be amended")
    unknown = set(changes_wanted) - set(validation.AMENDABLE_FIELDS)
    if unknown:
        raise ValidationFailed({field: ["This cannot be amended after sending"] for field in sorted(unknown)})
    reason = (reason or "").strip()
    merged = {field: getattr(referral, field) for field in validation.AMENDABLE_FIELDS}
    merged = {key: (value.value if hasattr(value, "value") else value) for key, value in merged.items()}
    merged.update(changes_wanted)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if {"rosh_level", "risk_flags", "risk_summary"} & set(changes_wanted):
        try:
            cleaned.update(validation.check_risk(merged))
        except ValidationFailed as failure:
            errors.update(failure.errors)
    if {"desired_outcomes", "rar_days"} & set(changes_wanted):
        needs = {
            "complexity": "low",
            "reason": "-",
            "sentence_end_date": london_today(),
            "desired_outcomes": merged["desired_outcomes"],
            "rar_days": merged["rar_days"],
        }
        try:
            checked = validation.check_needs(needs)
            if "rar_days" in changes_wanted:
                validation.check_rar_days_setting(referral.location_type, checked["rar_days"])
            cleaned.update({key: checked[key] for key in ("desired_outcomes", "rar_days")})
        except ValidationFailed as failure:
            errors.update(
                {key: value for key, value in failure.errors.items() if key in ("desired_outcomes", "rar_days")}
            )
    if "expected_release_date" in changes_wanted:
        if not referral.is_custody:
            errors["expected_release_date"] = ["Only a referral for someone in custody has a release date"]
        else:
            try:
                location = validation.check_location(
                    {
                        "location_type": "custody",
                        "prison": referral.prison,
                        "expected_release_date": merged["expected_release_date"],
                    },
                    crc_id=referral.crc_id,
                )
                cleaned["expected_release_date"] = location["expected_release_date"]
            except ValidationFailed as failure:
                errors.update({key: value for key, value in failure.errors.items() if key == "expected_release_date"})
    if "contact_details" in changes_wanted:
        cleaned["contact_details"] = (str(changes_wanted["contact_details"] or "")).strip() or None
    if {*validation.BAND_INPUTS, "colour_band", "colour_band_reason"} & set(changes_wanted) and not errors:
        try:
            cleaned.update(_amended_band(referral, cleaned, changes_wanted))
        except ValidationFailed as failure:
            errors.update(failure.errors)
    if not reason:
        errors["reason"] = ["Explain why you are amending the referral"]
    if errors:
        raise ValidationFailed(errors)
    before = {field: getattr(referral, field) for field in cleaned}
    for field, value in cleaned.items():
        setattr(referral, field, value)
    difference = changes(before, {field: getattr(referral, field) for field in cleaned})
    if not difference:
        raise ValidationFailed.single("referral", "Nothing has changed")
    timeline(
        referral,
        ReferralEventKind.AMENDED,
        actor,
        "Amended: " + ", ".join(field.replace("_", " ") for field in difference),
        {"changes": difference, "reason": reason},
    )
    record_event("referral.amended", actor=actor, record=referral, details={"changes": difference, "reason": reason})
    if "colour_band" in difference:
        _record_band_change(actor, referral, difference["colour_band"], reason)
    contract = db.session.get(Contract, referral.contract_id)
    _notify_partner(
        contract,
        referral,
        "referral_amended",
        actor=actor,
        fields=list(difference),
        changed=[validation.FIELD_LABELS.get(field, field) for field in difference],
    )
    commit("referral")
    return referral


def _amended_band(referral: Referral, cleaned: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The band after an amendment, by the rule a referral is sent with (validation.check_band):
    the band the risk and likelihood of reoffending now suggest, unless the referrer chooses another
    and says why. A band chosen earlier with a reason stays, with its reason, until the referrer
    changes it (the reason was given for the case, not for one level of risk); without one, the
    band follows the new suggestion."""
    fields = {
        "rosh_level": cleaned.get("rosh_level", referral.rosh_level),
        "reoffending": wanted.get("reoffending", referral.reoffending),
        "c2c": wanted.get("c2c", referral.c2c),
        "colour_band": wanted.get("colour_band", referral.colour_band),
        "colour_band_reason": wanted.get("colour_band_reason", referral.colour_band_reason),
    }
    chose_band = "colour_band" in wanted
    if not chose_band and not referral.colour_band_reason:
        fields["colour_band"] = None  # no reasoned choice to keep: the suggestion decides
    needs = {
        "complexity": "low",
        "desired_outcomes": ["-"],
        "reason": "-",
        "sentence_end_date": london_today(),
        **{key: getattr(value, "value", value) for key, value in fields.items() if key != "rosh_level"},
    }
    try:
        checked = validation.check_needs(needs)
    except ValidationFailed as failure:
        raise ValidationFailed(
            {key: value for key, value in failure.errors.items() if key in ("reoffending", "c2c", "colour_band")}
        ) from None
    band = {key: checked[key] for key in ("reoffending", "c2c", "colour_band", "colour_band_reason")}
    band["rosh_level"] = fields["rosh_level"]
    errors = validation.check_band(band)
    if errors:
        raise ValidationFailed(errors)
    if band["colour_band"] is None and not chose_band:
        band["colour_band"] = referral.colour_band  # nothing suggests a band yet: keep the one it has
    del band["rosh_level"]
    return band


def _record_band_change(actor: Any, referral: Referral, change: Any, reason: str) -> None:
    """A changed colour band is a line of the referral's history of its own (the band's history,
    with what suggested it) and an audit event: the partner plans face-to-face hours by it."""
    from portal.referrals.banding import suggested_band

    before, after = change["before"], change["after"]
    suggested = suggested_band(referral.rosh_level, referral.reoffending, referral.c2c)
    label = referral.colour_band.label if referral.colour_band else "None"
    was = ColourBand(before).label if before else "none"
    why = (
        f"chosen by the referrer: {referral.colour_band_reason}"
        if referral.colour_band_reason
        else f"suggested by {referral.rosh_level.label.lower() if referral.rosh_level else 'the risk'} "
        f"and {referral.reoffending.label.lower() if referral.reoffending else 'the likelihood of reoffending'}"
    )
    details = {
        "from": before,
        "to": after,
        "suggested": suggested.value if suggested else None,
        "band_reason": referral.colour_band_reason,
        "reason": reason,
    }
    timeline(referral, ReferralEventKind.AMENDED, actor, f"Colour band changed from {was} to {label}: {why}", details)
    record_event("referral.band_changed", actor=actor, record=referral, details=details)


# --- case notes ----------------------------------------------------------------------------------------


def add_case_note(actor: Any, referral: Referral, body: str) -> CaseNote:
    """Either side may add a note to a referral it can see; notes are never edited or deleted."""
    access.require(actor, "add_case_note", referral)
    if referral.status == ReferralStatus.DRAFT:
        raise ValidationFailed.single("body", "Send the referral before adding case notes")
    body = (body or "").strip()
    if not body:
        raise ValidationFailed.single("body", "Enter the note")
    if len(body) > validation.MAX_TEXT:
        raise ValidationFailed.single("body", f"The note must be {validation.MAX_TEXT} characters or fewer")
    note = CaseNote(referral_id=referral.id, author_id=actor.id, body=body)
    db.session.add(note)
    db.session.flush()
    timeline(referral, ReferralEventKind.NOTE, actor, f"Case note by {actor.name}", {"note_id": note.id})
    record_event("case_note.created", actor=actor, record=note, details={"referral": referral.reference})
    db.session.commit()
    return note


# --- what the referral page offers ---------------------------------------------------------------------


def actions_for(actor: Any, referral: Referral) -> dict[str, bool]:
    """What `actor` may do to `referral` now (a referral they can see): the buttons its page offers,
    by the access rules and the referral's state. The operations check again; this only keeps the
    page from offering what would be refused."""
    from portal.delivery.models import Alert, Outcome

    status = referral.status

    def may(verb: str) -> bool:
        return access.can(actor, verb, referral)

    return {
        "answer": may("answer") and REFERRAL_WORKFLOW.allowed(referral, "accept"),
        "assign": may("assign") and status in OPEN_STATUSES,
        "withdraw": may("withdraw") and REFERRAL_WORKFLOW.allowed(referral, "withdraw"),
        "amend": may("amend") and status in LIVE_STATUSES,
        "note": may("add_case_note") and status != ReferralStatus.DRAFT,
        "deliver": may("record_sessions") and status in OPEN_STATUSES,
        "claim": may("claim_outcomes") and status in (*OPEN_STATUSES, ReferralStatus.COMPLETED),
        # Outcomes and alerts are seen with their referral, which the actor sees: their role decides.
        "verify": access.can(actor, "decide", Outcome),
        "acknowledge": access.can(actor, "acknowledge", Alert),
    }


# --- notifications -------------------------------------------------------------------------------------


def _notify_partner(
    contract: Contract, referral: Referral, template: str, *, actor: Any = None, **context: Any
) -> None:
    """Tell the partner (portal/notifications/rules.py says who: its mailbox for new referrals, its
    managers and the assigned caseworker)."""
    notify(template, referral, actor=actor, referral=referral, contract=contract, **context)
