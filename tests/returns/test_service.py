"""The service return's state machine and its guards, through the operations the pages and API call."""

from datetime import date

import pytest

from portal.errors import InvalidTransition, NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.returns import service
from portal.returns.models import ReturnStatus
from tests.helpers import STORY_DAY
from tests.returns.test_pages import NARRATIVE

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


@pytest.fixture
def draft(quarter, nacro_manager):
    service_return = service.create_return(nacro_manager, quarter["contract"], "2026-Q3")
    service.update_narrative(nacro_manager, service_return, NARRATIVE)
    return service_return


def test_draft_to_submitted_to_accepted(draft, nacro_manager, contract_manager):
    service.submit_return(nacro_manager, draft)
    assert draft.status == ReturnStatus.SUBMITTED and draft.submitted_by_id == nacro_manager.id
    service.accept_return(contract_manager, draft)
    assert draft.status == ReturnStatus.ACCEPTED and draft.accepted_at is not None


@pytest.mark.parametrize("step", ["accept", "return"])
def test_only_a_submitted_return_is_accepted_or_returned(draft, contract_manager, step):
    with pytest.raises(InvalidTransition):
        if step == "accept":
            service.accept_return(contract_manager, draft)
        else:
            service.return_return(contract_manager, draft, reason="Why")
    assert draft.status == ReturnStatus.DRAFT


def test_an_accepted_return_cannot_be_submitted_again_or_rewritten(draft, nacro_manager, contract_manager):
    service.submit_return(nacro_manager, draft)
    service.accept_return(contract_manager, draft)
    with pytest.raises(InvalidTransition):
        service.submit_return(nacro_manager, draft)
    with pytest.raises(ValidationFailed):
        service.update_narrative(nacro_manager, draft, {"achievements": "Changed later"})
    db.session.refresh(draft)
    assert draft.achievements == NARRATIVE["achievements"]


def test_a_stale_version_is_refused(draft, nacro_manager):
    with pytest.raises(StaleRecord):
        service.submit_return(nacro_manager, draft, version=draft.version - 1)
    assert draft.status == ReturnStatus.DRAFT


def test_a_typed_number_of_safeguarding_concerns_is_ignored_the_records_count_them(draft, nacro_manager):
    """The number comes from the concerns recorded on referrals (portal/safeguarding), never a typed one."""
    service.update_narrative(nacro_manager, draft, {"safeguarding_concerns": "two", "safeguarding_note": ""})
    assert draft.safeguarding_concerns is None
    assert "safeguarding_concerns" not in service.missing_narrative(draft)


def test_who_may_do_what(draft, nacro_caseworker, contract_manager, st_giles_manager, nacro_manager, quarter):
    with pytest.raises(NotAllowed):
        service.submit_return(nacro_caseworker, draft)
    with pytest.raises(NotAllowed):
        service.submit_return(contract_manager, draft)
    with pytest.raises(NotFound):
        service.submit_return(st_giles_manager, draft)
    with pytest.raises(NotFound):
        service.create_return(st_giles_manager, quarter["contract"], "2026-Q2")
    service.submit_return(nacro_manager, draft)
    with pytest.raises(NotAllowed):
        service.accept_return(nacro_manager, draft)


def test_returning_needs_a_reason_and_resubmitting_freezes_the_figures_again(
    draft, nacro_manager, contract_manager, quarter
):
    service.submit_return(nacro_manager, draft)
    with pytest.raises(ValidationFailed):
        service.return_return(contract_manager, draft, reason="  ")
    service.return_return(contract_manager, draft, reason="Check the session in August")
    assert draft.status == ReturnStatus.RETURNED and draft.return_reason == "Check the session in August"
    from tests.factories import ReferralFactory
    from tests.returns.conftest import at

    ReferralFactory(
        contract=quarter["contract"],
        service_code="ACC-TTG",
        sent_at=at(date(2026, 9, 20)),
        reference="RS0001AA",
        referrer=quarter["a"].referrer,
    )
    service.submit_return(nacro_manager, draft)
    from portal.returns.kpis import figure

    assert figure(draft.kpis, "received") == 5


def test_returns_submitted_and_decided_email_the_side_that_acts_next(draft, nacro_manager, contract_manager):
    from sqlalchemy import select

    from portal.notifications.models import OutboundEmail

    def emails_to(address):
        return db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)).all()

    service.submit_return(nacro_manager, draft)
    [submitted] = emails_to(contract_manager.email)
    assert "to review" in submitted.subject and f"/service-returns/{draft.id}" in submitted.body_text
    service.return_return(contract_manager, draft, reason="Add a case study")
    [returned] = [e for e in emails_to(nacro_manager.email) if e.template == "return_decided"]
    assert "returned for changes" in returned.subject and "Add a case study" in returned.body_text
