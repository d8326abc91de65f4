"""The invoice page lists verified work in its month that no price covers: outcomes the referral's
service does not price or that break their rule, sessions of a service with no price for them."""

from datetime import date

import pytest

from portal.contracts.models import OutcomeFrom
from portal.extensions import db
from portal.invoicing import service
from portal.invoicing.uncovered import uncovered_work
from tests.factories import OutcomeTypeFactory
from tests.helpers import STORY_DAY, Portal

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def test_the_draft_lists_verified_work_no_price_covers(work, nacro_manager, contract_manager, priced, client):
    referral = work.referral(date(2026, 9, 2))
    benefit = OutcomeTypeFactory(contract=priced, name="Benefit claim made")  # priced by no item of TTG
    unpaid = OutcomeTypeFactory(contract=priced, name="Family contact restored", recorded_unpaid=True)
    work.outcome(referral, benefit, date(2026, 9, 10))
    work.outcome(referral, unpaid, date(2026, 9, 11))  # meant to go unpaid: not listed
    work.outcome(referral, benefit, date(2026, 9, 12), verified=False)  # not verified: not listed
    early = work.outcome(referral, priced.first_night, date(2026, 9, 5))
    priced.first_night.outcome_from, priced.first_night.outcome_earliest_days = OutcomeFrom.START, 0
    db.session.commit()  # the referral has no first contact: the outcome breaks its rule
    other = work.referral(date(2026, 9, 2))
    other.service_code = "NO-ITEMS"
    db.session.commit()
    work.session(other, date(2026, 9, 15))
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    listed, total = uncovered_work(draft)
    assert total == 3
    assert [(work_.what, work_.work_date, work_.reason) for work_ in listed] == [
        ("Verified outcome: Accommodation on the first night", date(2026, 9, 5), "outside_rule"),
        ("Verified outcome: Benefit claim made", date(2026, 9, 10), "no_price"),
        ("Attended session (one-to-one)", date(2026, 9, 15), "no_price"),
    ]
    assert early.id in {piece.record_id for piece in listed}
    portal = Portal(client)
    portal.sign_in(nacro_manager)
    page = portal.get(f"/invoices/{draft.id}").get_data(as_text=True)
    assert "Verified work no price covers" in page
    assert "3 pieces of work verified in September 2026 are on no invoice" in page
    assert "No item of the referral&#39;s service prices it" in page or "No item of the referral's service" in page
    assert "Achieved outside the days its outcome type" in page


def test_the_invoice_pdf_lists_the_work_no_price_covers_as_the_page_does(app, work, nacro_manager, priced):
    from io import BytesIO

    from pypdf import PdfReader

    from portal.invoicing.documents import invoice_pdf

    referral = work.referral(date(2026, 9, 2))
    benefit = OutcomeTypeFactory(contract=priced, name="Benefit claim made")  # priced by no item of TTG
    work.outcome(referral, benefit, date(2026, 9, 10))
    work.session(referral, date(2026, 9, 15))  # priced: billed, not listed
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    with app.test_request_context():
        data = invoice_pdf(draft)
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(data)).pages)
    assert "Verified work no price covers (not billed)" in text
    assert f"{referral.reference}" in text and "Verified outcome: Benefit claim made" in text
    assert "1 piece of work verified in September 2026 is on no invoice" in text


def test_sessions_of_every_service_no_item_prices_are_listed_whatever_its_code(work, nacro_manager, priced):
    """Whether any referral is on a service no item prices is asked as ranges between the priced
    codes (so an index answers it): a code below, between or above them, or none at all, is listed;
    a priced code is not."""
    from portal.contracts.models import Unit
    from tests.factories import RateCardItemFactory, RateCardPriceFactory

    # A second priced service, paid by results only: its sessions are not listed either.
    item = RateCardItemFactory(contract=priced, code="TTX-NIGHT", service_code="TTX", unit=Unit.PER_OUTCOME)
    item.outcome_type = priced.first_night
    RateCardPriceFactory(item=item, unit_price_pence=100, effective_from=date(2025, 4, 1))
    db.session.commit()
    listed_codes = {}
    for day, code in enumerate((None, "AAA", "TTH", "ZZZ", "TTG", "TTX", "TTG0", "TT"), start=3):
        referral = work.referral(date(2026, 9, 2))
        referral.service_code = code
        db.session.commit()
        listed_codes[work.session(referral, date(2026, 9, day)).id] = code
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    listed, total = uncovered_work(draft)
    assert sorted(listed_codes[piece.record_id] or "" for piece in listed if piece.kind == "session") == sorted(
        ["", "AAA", "TTH", "ZZZ", "TTG0", "TT"]
    )
    assert total == 6


def test_an_outcome_a_live_invoice_bills_is_not_listed_even_if_it_now_breaks_its_rule(work, nacro_manager, priced):
    referral = work.referral(date(2026, 9, 2))
    billed = work.outcome(referral, priced.first_night, date(2026, 9, 5))
    submitted = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    later = work.outcome(work.referral(date(2026, 9, 2)), priced.first_night, date(2026, 9, 20))
    priced.first_night.outcome_from, priced.first_night.outcome_earliest_days = OutcomeFrom.START, 0
    db.session.commit()  # neither referral has a first contact: both outcomes now break the rule
    listed, total = uncovered_work(submitted)
    assert total == 1
    assert [(piece.record_id, piece.reason) for piece in listed] == [(later.id, "outside_rule")]
    assert billed.id not in {piece.record_id for piece in listed}
