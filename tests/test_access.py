"""Scoping in one place: a partner never reaches another partner's records, by any route."""

import pytest
from werkzeug.routing import AnyConverter

from portal import access
from portal.accounts.models import User
from portal.accounts.tokens import create_token
from portal.extensions import db
from portal.organisations.models import Organisation
from tests.factories import OutcomeTypeFactory, RateCardItemFactory, RateCardPriceFactory, ReferralFactory

# For every URL argument that names a record, which of St Giles Trust's records to try:
# keyed by (blueprint, argument) where the same name means different records, else by
# argument. A new route with a new kind of argument fails the test below until it is added.
OTHER_PARTNERS_RECORD = {
    "user_id": lambda people: people["st_giles_caseworker"].id,
    "organisation_id": lambda people: people["st_giles"].id,
    "token": lambda people: "not-a-real-token",
    ("contracts", "reference"): lambda people: people["st_giles_contract"].reference,
    ("contracts", "code"): lambda people: people["st_giles_item"].code,
    ("contracts", "price_id"): lambda people: people["st_giles_price"].id,
    ("contracts", "outcome_type_id"): lambda people: people["st_giles_outcome_type"].id,
    ("referrals", "reference"): lambda people: people["st_giles_referral"].reference,
    ("referrals", "referral_id"): lambda people: people["st_giles_referral"].id,
    ("referrals", "import_id"): lambda people: 1,
    ("delivery", "reference"): lambda people: people["st_giles_referral"].reference,
    ("delivery", "session_id"): lambda people: people["st_giles_session"].id,
    # /<kind>/<record_id>/correction: the walker picks the first kind, "outcomes".
    ("delivery", "record_id"): lambda people: people["st_giles_outcome"].id,
    ("delivery", "outcome_id"): lambda people: people["st_giles_outcome"].id,
    ("delivery", "file_id"): lambda people: people["st_giles_file"].id,
    ("delivery", "alert_id"): lambda people: people["st_giles_alert"].id,
    ("invoicing", "invoice_id"): lambda people: people["st_giles_invoice"].id,
    ("invoicing", "line_id"): lambda people: people["st_giles_invoice_line"].id,
    ("api_tokens", "token_id"): lambda people: people["st_giles_token"].id,
    ("returns", "return_id"): lambda people: people["st_giles_return"].id,
    ("returns", "job_id"): lambda people: "not-a-job",
}


def _record_for(rule, argument):
    blueprint = rule.endpoint.split(".")[0]
    return OTHER_PARTNERS_RECORD.get((blueprint, argument), OTHER_PARTNERS_RECORD.get(argument, "missing"))


def _urls_naming_a_record(app, people):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.arguments:
            continue
        if rule.endpoint.startswith("api."):
            # The JSON API answers a session cookie with 401: its routes are walked with other
            # partners' tokens by tests/api/test_scoping.py.
            continue
        values = {}
        for argument in rule.arguments:
            converter = rule._converters[argument]
            if isinstance(converter, AnyConverter):  # a fixed list of words, like an action or a step
                values[argument] = sorted(converter.items)[0]
                continue
            if _record_for(rule, argument) == "missing":
                pytest.fail(f"{rule.rule}: add {argument!r} to OTHER_PARTNERS_RECORD so the route is checked")
            values[argument] = _record_for(rule, argument)(people)
        with app.test_request_context():
            from flask import url_for

            yield rule, url_for(rule.endpoint, **values)


@pytest.mark.parametrize("who", ["nacro_manager", "nacro_caseworker"])
def test_partner_users_cannot_reach_another_partners_records_by_any_route(
    app, portal, request, who, st_giles, st_giles_caseworker, st_giles_contract
):
    st_giles_item = RateCardItemFactory(contract=st_giles_contract, code="ETE-REL", service_code="ETE-REL")
    people = {
        "st_giles": st_giles,
        "st_giles_caseworker": st_giles_caseworker,
        "st_giles_referral": ReferralFactory(contract=st_giles_contract, service_code="ETE-REL"),
        "st_giles_contract": st_giles_contract,
        "st_giles_item": st_giles_item,
        "st_giles_price": RateCardPriceFactory(item=st_giles_item),
        "st_giles_outcome_type": OutcomeTypeFactory(contract=st_giles_contract, code="entered_employment"),
    }
    people.update(_st_giles_delivery(people["st_giles_referral"], st_giles_caseworker, people["st_giles_outcome_type"]))
    people.update(_st_giles_invoice(st_giles_contract, st_giles_item, people["st_giles_price"]))
    people["st_giles_token"] = create_token(None, st_giles_caseworker, name="St Giles case system").token
    people["st_giles_return"] = _st_giles_return(st_giles_contract, st_giles_caseworker)
    user = request.getfixturevalue(who)
    portal.sign_in(user)
    checked = 0
    for rule, url in _urls_naming_a_record(app, people):
        if "token" in rule.arguments:
            continue  # set-password links are checked by their own tests
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = portal.get(url) if method == "GET" else portal.post(url, {"version": "1", "name": "x"})
            assert response.status_code in (403, 404), f"{who} {method} {url} -> {response.status_code}"
            body = response.get_data(as_text=True)
            assert st_giles_caseworker.email not in body, f"{who} {method} {url} leaked a St Giles user"
            checked += 1
    assert checked >= 5


def _st_giles_delivery(referral, caseworker, outcome_type):
    """A session, an outcome with an evidence file, and an alert on St Giles' referral."""
    from datetime import date, time

    from portal.delivery.models import Alert, AlertKind, EvidenceFile, Outcome, Session, SessionKind

    session = Session(
        referral_id=referral.id,
        date=date(2026, 10, 1),
        start_time=time(10),
        duration_minutes=60,
        kind=SessionKind.ONE_TO_ONE,
        recorded_by_id=caseworker.id,
    )
    outcome = Outcome(
        referral_id=referral.id,
        outcome_type_id=outcome_type.id,
        achieved_on=date(2026, 10, 2),
        evidence="Payslip seen.",
        claimed_by_id=caseworker.id,
    )
    db.session.add_all([session, outcome])
    db.session.flush()
    file = EvidenceFile(
        outcome_id=outcome.id,
        original_name="payslip.pdf",
        stored_name="0" * 32 + ".pdf",
        content_type="application/pdf",
        size_bytes=10,
        sha256="0" * 64,
        uploaded_by_id=caseworker.id,
    )
    alert = Alert(
        referral_id=referral.id, session_id=session.id, kind=AlertKind.BEHAVIOUR_CONCERN, raised_by_id=caseworker.id
    )
    db.session.add_all([file, alert])
    db.session.commit()
    return {"st_giles_session": session, "st_giles_outcome": outcome, "st_giles_file": file, "st_giles_alert": alert}


def _st_giles_invoice(contract, item, price):
    """A submitted invoice of St Giles Trust with one line."""
    from datetime import date

    from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus

    invoice = Invoice(
        contract_id=contract.id,
        partner_id=contract.partner_id,
        number="SGT-000001",
        period_start=date(2026, 10, 1),
        status=InvoiceStatus.SUBMITTED,
        vat_rate_bp=0,
        subtotal_pence=5000,
        total_pence=5000,
    )
    db.session.add(invoice)
    db.session.flush()
    line = InvoiceLine(
        invoice_id=invoice.id,
        position=1,
        item_id=item.id,
        price_id=price.id,
        item_code=item.code,
        service_code=item.service_code,
        description=item.name,
        unit=item.unit,
        quantity_hundredths=100,
        unit_price_pence=5000,
        amount_pence=5000,
    )
    db.session.add(line)
    db.session.commit()
    return {"st_giles_invoice": invoice, "st_giles_invoice_line": line}


def _st_giles_return(contract, author):
    from datetime import date

    from portal.returns.models import ServiceReturn

    service_return = ServiceReturn(
        contract_id=contract.id,
        period_kind="month",
        period_start=date(2026, 5, 1),
        period_end=date(2026, 5, 31),
        created_by_id=author.id,
    )
    db.session.add(service_return)
    db.session.commit()
    return service_return


def test_partner_manager_gets_404_not_403_for_another_partners_user(portal, nacro_manager, st_giles_caseworker):
    portal.sign_in(nacro_manager)
    assert portal.get(f"/users/{st_giles_caseworker.id}").status_code == 404
    assert portal.get("/users/999999").status_code == 404  # the same answer as for no such user


def test_visible_limits_partners_to_their_own_organisation(
    nacro_manager, st_giles_manager, admin, crc, nacro, st_giles
):
    def names(user, model, column):
        return set(db.session.scalars(access.visible(model, user).with_only_columns(column)).all())

    assert names(nacro_manager, Organisation, Organisation.name) == {"Nacro"}
    assert names(st_giles_manager, Organisation, Organisation.name) == {"St Giles Trust"}
    assert names(admin, Organisation, Organisation.name) == {"BeNCH CRC", "Nacro", "St Giles Trust"}
    assert names(nacro_manager, User, User.email) == {nacro_manager.email}
    assert st_giles_manager.email in names(admin, User, User.email)


def test_a_signed_out_or_deactivated_user_sees_nothing(nacro_manager):
    nacro_manager.active = False
    db.session.commit()
    assert db.session.scalars(access.visible(Organisation, nacro_manager)).all() == []
