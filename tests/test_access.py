"""Scoping in one place: another organisation's record is answered exactly as a record that does not
exist, by every page route and every API path, for every role; our own records are found.

The walker builds "their" world beside ours: another CRC ("Other CRC") contracting St Giles Trust,
with a record of every kind. Each of our five roles asks every route of the URL map and every path
of the OpenAPI document twice: once naming their record, once naming none. The two answers must be
the same: the same status, and for pages the same page (for the API, the same problem). A route or
path with an argument the walker does not know fails until it is taught, so a new route is covered
the day it is added.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import AnyConverter, Rule

from portal import access
from portal.accounts.models import Role, User
from portal.accounts.tokens import create_token
from portal.api.openapi import build_document
from portal.contracts.models import ContractTier
from portal.delivery import evidence
from portal.delivery.models import GroupSession
from portal.extensions import db
from portal.grants.models import ActivityKind, GrantActivity, GrantInstalment, Timing
from portal.invoicing.models import InvoiceLine
from portal.jobs import start_job
from portal.organisations.models import Organisation
from portal.places.models import ProbationOffice
from portal.referrals.models import ImportStatus, ReferralImport
from tests.api.conftest import ApiClient
from tests.factories import (
    AlertFactory,
    ContractFactory,
    CrcFactory,
    EvidenceFileFactory,
    InvoiceFactory,
    OutcomeFactory,
    OutcomeTypeFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
    ReferralFactory,
    ServiceReturnFactory,
    SessionFactory,
    UserFactory,
)

ROLES = ("nacro_caseworker", "nacro_manager", "referrer", "contract_manager", "admin")
# A value no record has, of the same shape as a real one.
NONE_SUCH = 2_000_000_000
CSRF = re.compile(r'(name="csrf_token" (?:type="hidden" )?value=")[^"]+"')
NONCE = re.compile(r'nonce="[^"]+"')


@dataclass
class Theirs:
    """Another CRC's world, and the St Giles Trust users our partner roles would try to reach."""

    crc: Organisation
    referrer: User
    contract_manager: User
    partner_user: User
    records: dict[str, Any]
    tokens: dict[int, int]  # user id -> one of their API tokens' ids
    job_id: str

    def person_for(self, role: Role) -> User:
        """Another organisation's person: to a partner another partner's, to the CRC another CRC's."""
        return self.partner_user if role in (Role.PROVIDER_CASEWORKER, Role.PROVIDER_MANAGER) else self.referrer


@pytest.fixture
def theirs(st_giles, st_giles_caseworker) -> Theirs:
    crc = CrcFactory(name="Other CRC")
    referrer = UserFactory(role=Role.CRC_REFERRER, organisation=crc)
    contract_manager = UserFactory(role=Role.CONTRACT_MANAGER, organisation=crc)
    return build_world(crc, st_giles, st_giles_caseworker, referrer, contract_manager, "OTHER")


@pytest.fixture
def ours(crc, nacro, nacro_caseworker, referrer, contract_manager) -> Theirs:
    """Our own world, built as theirs is: the records our roles work on every day."""
    return build_world(crc, nacro, nacro_caseworker, referrer, contract_manager, "OURS")


def build_world(crc, partner, partner_user, referrer, contract_manager, prefix: str) -> Theirs:
    st_giles, st_giles_caseworker = partner, partner_user
    contract = ContractFactory(reference=f"{prefix}-ETE-01", crc=crc, partner=st_giles)
    item = RateCardItemFactory(contract=contract, code="ETE-REL", service_code="ETE-REL")
    price = RateCardPriceFactory(item=item)
    referral = ReferralFactory(contract=contract, service_code="ETE-REL", referrer=referrer, in_progress=True)
    session = SessionFactory(referral=referral, recorded_by=st_giles_caseworker)
    outcome = OutcomeFactory(referral=referral, claimed_by=st_giles_caseworker)
    invoice = InvoiceFactory(contract=contract, submitted=True, lines__item=item, lines__price=price)
    group = GroupSession(
        contract_id=contract.id,
        title="Their group",
        facilitator="Them",
        date=session.date,
        start_time=session.start_time,
        duration_minutes=60,
        created_by_id=st_giles_caseworker.id,
    )
    db.session.add(group)
    grant = ContractFactory(reference=f"{prefix}-WOM-01", crc=crc, partner=st_giles, tier=ContractTier.GRANT)
    instalment = GrantInstalment(
        contract_id=grant.id,
        partner_id=st_giles.id,
        period_start=grant.start_date,
        period_end=grant.start_date + timedelta(days=89),
        due_on=grant.start_date,
        amount_pence=1_000_00,
        timing=Timing.ADVANCE,
        created_by_id=contract_manager.id,
    )
    activity = GrantActivity(
        contract_id=grant.id,
        day=grant.start_date,
        kind=ActivityKind.DROP_IN,
        attendees=5,
        recorded_by_id=st_giles_caseworker.id,
    )
    db.session.add_all([instalment, activity])
    db.session.commit()
    records = {
        "grant": grant,
        "instalment": instalment,
        "activity": activity,
        "group": group,
        "contract": contract,
        "item": item,
        "price": price,
        "outcome_type": OutcomeTypeFactory(contract=contract, code="entered_employment"),
        "referral": referral,
        "draft": ReferralFactory(contract=contract, service_code="ETE-REL", referrer=referrer, draft=True),
        "session": session,
        "alert": AlertFactory(session=session),
        "outcome": outcome,
        "file": EvidenceFileFactory(outcome=outcome),
        "invoice": invoice,
        "line": db.session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).one(),
        "return": ServiceReturnFactory(contract=contract),
        "import": _an_import(crc, referrer),
        "concern": _a_concern(referral, st_giles_caseworker),
        "plan": _a_plan(referral, st_giles_caseworker),
        "review": _a_review(referral, st_giles_caseworker),
        # A probation office of theirs whose id is no place of ours, of any kind.
        "place": _a_place(crc),
    }
    token_ids = {
        user.id: create_token(None, user, name="Their case system").token.id for user in (st_giles_caseworker, referrer)
    }
    records["user_sessions"] = {user.id: _signed_in(user) for user in (st_giles_caseworker, referrer)}
    job = start_job(
        "returns_zip", "portal.returns.bulk:run", contract_manager.id, "2026-Q1", owner_id=contract_manager.id
    )
    return Theirs(crc, referrer, contract_manager, st_giles_caseworker, records, token_ids, job.id)


def _a_place(crc: Organisation) -> ProbationOffice:
    office = ProbationOffice(id=1_000_000, crc_id=crc.id, name="Their probation office")
    db.session.add(office)
    db.session.commit()
    return office


def _signed_in(user: User) -> int:
    """The id of a live session of `user` (the account page ends sessions by id)."""
    from portal.accounts import sessions
    from portal.accounts.models import UserSession

    sessions.start(user, pending=False)
    db.session.commit()
    return db.session.scalars(select(UserSession.id).where(UserSession.user_id == user.id)).one()


def _a_concern(referral: Any, raiser: User) -> Any:
    from portal.safeguarding.service import raise_concern

    return raise_concern(raiser, referral, {"category": "other", "what_happened": "Theirs.", "urgency": "standard"})


def _a_plan(referral: Any, writer: User) -> Any:
    from portal.plans.service import save_plan

    activity = {"desired_outcome": referral.desired_outcomes[0], "description": "Theirs.", "sessions": 4}
    return save_plan(writer, referral, activities=[{**activity, "frequency": "weekly"}], rar_days_planned=1)


def _a_review(referral: Any, writer: User) -> Any:
    from portal.db import utcnow
    from portal.plans.models import ProgressReview, ReviewKind

    review = ProgressReview(
        referral_id=referral.id,
        number=1,
        kind=ReviewKind.TWELVE_WEEK,
        due_on=referral.accepted_on,
        next_due_on=referral.accepted_on,
        attendance={},
        outcomes=[],
        risk_observations="Theirs.",
        submitted_at=utcnow(),
        submitted_by_id=writer.id,
    )
    db.session.add(review)
    db.session.commit()
    return review


def _an_import(crc: Organisation, referrer: User) -> ReferralImport:
    upload = ReferralImport(
        crc_id=crc.id,
        created_by_id=referrer.id,
        filename="referrals.csv",
        content=b"crn\n",
        row_count=0,
        status=ImportStatus.CHECKED,
    )
    db.session.add(upload)
    db.session.commit()
    return upload


# For every argument a route names, what to put there: (their record's value, a value naming nothing).
# Keyed by (blueprint or the API path's first segment, argument) where one name means different
# records, else by argument. `role` is the caller's: some records are "another organisation's" by side.
Value = Callable[[Theirs, Role], Any]
ARGUMENTS: dict[Any, tuple[Value, Any]] = {
    "organisation_id": (lambda t, role: t.person_for(role).organisation_id, NONE_SUCH),
    "user_id": (lambda t, role: t.person_for(role).id, NONE_SUCH),
    "token_id": (lambda t, role: t.tokens[t.person_for(role).id], NONE_SUCH),
    "reference": (lambda t, role: t.records["referral"].reference, "ZZ9999ZZ"),
    ("contracts", "reference"): (lambda t, role: t.records["contract"].reference, "NO-SUCH-CONTRACT"),
    "code": (lambda t, role: t.records["item"].code, "NO-SUCH-ITEM"),
    "price_id": (lambda t, role: t.records["price"].id, NONE_SUCH),
    "outcome_type_id": (lambda t, role: t.records["outcome_type"].id, NONE_SUCH),
    "referral_id": (lambda t, role: t.records["draft"].id, NONE_SUCH),
    "import_id": (lambda t, role: t.records["import"].id, NONE_SUCH),
    "session_id": (lambda t, role: t.records["session"].id, NONE_SUCH),
    "outcome_id": (lambda t, role: t.records["outcome"].id, NONE_SUCH),
    "file_id": (lambda t, role: t.records["file"].id, NONE_SUCH),
    "alert_id": (lambda t, role: t.records["alert"].id, NONE_SUCH),
    "concern_id": (lambda t, role: t.records["concern"].id, NONE_SUCH),
    "plan_id": (lambda t, role: t.records["plan"].id, NONE_SUCH),
    "review_id": (lambda t, role: t.records["review"].id, NONE_SUCH),
    "group_id": (lambda t, role: t.records["group"].id, NONE_SUCH),
    "invoice_id": (lambda t, role: t.records["invoice"].id, NONE_SUCH),
    "line_id": (lambda t, role: t.records["line"].id, NONE_SUCH),
    "return_id": (lambda t, role: t.records["return"].id, NONE_SUCH),
    "job_id": (lambda t, role: t.job_id, "0" * 32),
    ("accounts", "session_id"): (lambda t, role: t.records["user_sessions"][t.person_for(role).id], NONE_SUCH),
    ("people", "person_id"): (lambda t, role: t.records["referral"].person_id, NONE_SUCH),
    ("grants", "reference"): (lambda t, role: t.records["grant"].reference, "NO-SUCH-GRANT"),
    ("volumes", "reference"): (lambda t, role: t.records["contract"].reference, "NO-SUCH-CONTRACT"),
    "instalment_id": (lambda t, role: t.records["instalment"].id, NONE_SUCH),
    "payment_id": (lambda t, role: t.records["instalment"].id, NONE_SUCH),
    "activity_id": (lambda t, role: t.records["activity"].id, NONE_SUCH),
    ("places", "place_id"): (lambda t, role: t.records["place"].id, NONE_SUCH),
}
# /referrals/<reference>/<kind>/<record_id>/correction: the record is a session or an outcome.
RECORD_OF_KIND = {"sessions": "session", "outcomes": "outcome"}
# A signed password link names a person by a token only they were sent: checked by its own tests.
NOT_A_RECORD = {"token"}


def _argument(scope: str, name: str) -> tuple[Value, Any]:
    found = ARGUMENTS.get((scope, name), ARGUMENTS.get(name))
    if found is None:
        pytest.fail(f"{scope}: teach the walker the argument {name!r} (add it to ARGUMENTS)")
    return found


def _page_requests(app: Flask, theirs: Theirs, role: Role) -> Iterator[tuple[Rule, str, str, str]]:
    """Every page route naming a record: (rule, method, URL naming theirs, URL naming none)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.arguments or rule.endpoint.startswith("api."):
            continue
        if rule.arguments & NOT_A_RECORD:
            continue
        scope = rule.endpoint.split(".")[0]
        fixed = {
            name: sorted(converter.items)
            for name, converter in rule._converters.items()
            if isinstance(converter, AnyConverter)
        }
        for choice in itertools.product(*fixed.values()):
            chosen = dict(zip(fixed, choice, strict=True))
            foreign, missing = dict(chosen), dict(chosen)
            for name in rule.arguments - set(fixed) - {"record_id"}:
                value, none = _argument(scope, name)
                foreign[name], missing[name] = value(theirs, role), none
            if "record_id" in rule.arguments:
                foreign["record_id"] = theirs.records[RECORD_OF_KIND[chosen["kind"]]].id
                missing["record_id"] = NONE_SUCH
            with app.test_request_context():
                from flask import url_for

                urls = url_for(rule.endpoint, **foreign), url_for(rule.endpoint, **missing)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, *urls


def _page(response: Any) -> tuple[int, str, str]:
    """What a person sees: the status, where they are sent, and the page (its tokens aside)."""
    body = NONCE.sub("", CSRF.sub(r"\1", response.get_data(as_text=True)))
    return response.status_code, response.headers.get("Location", ""), body


@pytest.mark.parametrize("who", ROLES)
def test_another_organisations_record_is_answered_as_no_record_by_every_page(app, portal, request, who, theirs):
    user = request.getfixturevalue(who)
    portal.sign_in(user)
    checked = 0
    for rule, method, foreign_url, missing_url in _page_requests(app, theirs, user.role):

        def ask(url: str, method: str = method) -> tuple[int, str, str]:
            response = portal.get(url) if method == "GET" else portal.post(url, {"version": "1", "name": "x"})
            return _page(response)

        foreign, missing = ask(foreign_url), ask(missing_url)
        where = f"{who} {method} {rule.rule}"
        assert foreign[0] == missing[0], f"{where}: {foreign[0]} for theirs, {missing[0]} for none"
        assert foreign[1].replace(foreign_url, "") == missing[1].replace(missing_url, ""), f"{where}: sent elsewhere"
        assert foreign[2] == missing[2], f"{where}: a different page for theirs than for none"
        assert foreign[0] in (302, 400, 403, 404), f"{where} answered {foreign[0]}"
        checked += 1
    assert checked > 100


def _api_requests(app: Flask, theirs: Theirs, role: Role) -> Iterator[tuple[str, str, str, str]]:
    """Every API path naming a record, from the OpenAPI document: (method, template, theirs, none)."""
    for template, operations in build_document()["paths"].items():
        names = re.findall(r"{(\w+)}", template)
        if not names:
            continue
        scope = template.split("/")[1]
        foreign, missing = template, template
        for name in names:
            value, none = _argument(scope, name)
            foreign = foreign.replace(f"{{{name}}}", str(value(theirs, role)))
            missing = missing.replace(f"{{{name}}}", str(none))
        for method in sorted(operations):
            yield method.upper(), template, foreign, missing


def test_the_openapi_document_names_every_api_route_that_names_a_record(app):
    """The API walker walks the OpenAPI document: no route naming a record may be missing from it."""
    documented = {
        (method.upper(), "/api/v1" + re.sub(r"{(\w+)}", r"<\1>", template))
        for template, operations in build_document()["paths"].items()
        for method in operations
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.arguments:
            path = re.sub(r"<(?:[^>:]+:)?(\w+)>", r"<\1>", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, path) in documented, f"{method} {path} is not in the OpenAPI document"


def _problem(response: Any) -> tuple[int, dict[str, Any]]:
    body = json.loads(response.get_data(as_text=True) or "{}")
    body.pop("instance", None)
    body.pop("request_id", None)
    return response.status_code, body


@pytest.mark.parametrize("who", ROLES)
def test_another_organisations_record_is_answered_as_no_record_by_every_api_path(app, request, who, theirs):
    user = request.getfixturevalue(who)
    client = ApiClient(app.test_client(), create_token(None, user, name="Walker").secret)
    checked = 0
    for method, template, foreign_path, missing_path in _api_requests(app, theirs, user.role):

        def ask(path: str, method: str = method) -> tuple[int, dict[str, Any]]:
            if method == "PUT":
                return _problem(client.request(method, path, json={}))
            return _problem(client.get(path) if method == "GET" else client.post(path, {}))

        foreign, missing = ask(foreign_path), ask(missing_path)
        assert foreign == missing, f"{who} {method} {template}: {foreign} for theirs, {missing} for none"
        assert foreign[0] in (403, 404), f"{who} {method} {template} answered {foreign[0]}"
        checked += 1
    assert checked >= 26  # every record-naming path of API.md and ours


def test_visible_limits_partners_to_their_own_organisation_and_the_crc_to_itself_and_partners(
    nacro_manager, st_giles_manager, admin, crc, nacro, st_giles
):
    def names(user, model, column):
        return set(db.session.scalars(access.visible(model, user).with_only_columns(column)).all())

    CrcFactory(name="Other CRC")
    assert names(nacro_manager, Organisation, Organisation.name) == {"Nacro"}
    assert names(st_giles_manager, Organisation, Organisation.name) == {"St Giles Trust"}
    assert names(admin, Organisation, Organisation.name) == {"BeNCH CRC", "Nacro", "St Giles Trust"}
    assert names(nacro_manager, User, User.email) == {nacro_manager.email}
    assert st_giles_manager.email in names(admin, User, User.email)


def test_a_signed_out_or_deactivated_user_sees_nothing(nacro_manager):
    nacro_manager.active = False
    db.session.commit()
    assert db.session.scalars(access.visible(Organisation, nacro_manager)).all() == []


@pytest.mark.parametrize("who", ROLES)
def test_our_own_records_are_found_by_every_page_that_names_them(
    app, observer_app, portal, request, who, ours, tmp_path, monkeypatch
):
    """The other leg of the walk: the same routes naming our own records answer as found (a page,
    a redirect, or 'not allowed' for a role whose work it is not), never as no record, never a 500."""
    user = request.getfixturevalue(who)
    for served in (app, observer_app):  # the evidence file is on disk, as an uploaded one is
        monkeypatch.setitem(served.config, "STORAGE_DIR", tmp_path)
    evidence.path_of(ours.records["file"].stored_name).parent.mkdir(parents=True, exist_ok=True)
    evidence.path_of(ours.records["file"].stored_name).write_bytes(b"%PDF-1.4\n")
    portal.sign_in(user)
    answers: dict[str, int] = {}
    for rule, method, own_url, _missing_url in _page_requests(app, ours, user.role):
        if method != "GET":
            continue
        answers[f"GET {rule.rule}"] = portal.get(own_url, buffered=True).status_code
    assert not [route for route, status in answers.items() if status >= 500], answers
    # A personal API token and a bulk import are their owner's alone: to anyone else in the same
    # organisation they are no record, by design.
    personal = {"GET /account/api-tokens/<int:token_id>/revoke"} if user != ours.person_for(user.role) else set()
    if user != ours.referrer:
        personal |= {"GET /referrals/import/<int:import_id>", "GET /referrals/import/<int:import_id>/status.json"}
    personal.add("GET /service-returns/bulk/<job_id>/download")  # the walker's job has made no ZIP yet
    not_found = {route for route, status in answers.items() if status == 404}
    assert not_found <= personal, f"{who}: our own record answered as none by {sorted(not_found - personal)}"
    assert sum(1 for status in answers.values() if status == 200) >= 25, answers
