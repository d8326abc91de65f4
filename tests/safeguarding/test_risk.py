"""Risk that travels: the structured risk summary is recorded by the referrer, read by the partner before
accepting and on every case-file page, and each amendment is kept with its reason."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.notifications.models import OutboundEmail
from portal.safeguarding.models import CheckStatus, RiskSummariesAreFinal, RiskSummary
from portal.safeguarding.risk import current_risk, record_risk_summary, risk_history
from tests.helpers import text_of

RISK = {
    "at_risk": ["partner_or_ex_partner", "children"],
    "nature": "Controlling and violent towards a former partner; two children at her address.",
    "when_greatest": "When drinking, and around contact arrangements.",
    "protective_factors": "Engaged with the Building Better Relationships programme.",
    "police_da_check": "information_shared",
    "police_da_check_on": "2026-02-10",
    "childrens_services_check": "requested",
    "childrens_services_check_on": "2026-02-12",
    "mappa": False,
    "iom": True,
    "lone_working_restrictions": "No home visits. Meet at the office only.",
}


@pytest.fixture
def sent(nacro_referral):
    return nacro_referral


def test_the_referrer_records_the_risk_summary_and_amends_it_with_a_reason_keeping_each_version(
    sent, referrer, nacro_manager
):
    first = record_risk_summary(referrer, sent, RISK)
    assert first.number == 1 and first.police_da_check == CheckStatus.INFORMATION_SHARED
    with pytest.raises(ValidationFailed) as failure:
        record_risk_summary(referrer, sent, {**RISK, "mappa": True})
    assert failure.value.errors == {"reason": ["Explain why you are amending the risk summary"]}
    db.session.rollback()
    with pytest.raises(StaleRecord):
        record_risk_summary(referrer, sent, {**RISK, "mappa": True}, reason="MAPPA level 1", based_on=0)
    db.session.rollback()
    second = record_risk_summary(referrer, sent, {**RISK, "mappa": True}, reason="Now MAPPA level 1", based_on=1)
    assert second.number == 2 and current_risk(sent).id == second.id
    history = risk_history(sent)
    assert [entry["version"].number for entry in history] == [2, 1]
    assert history[0]["changes"] == {"mappa": {"before": "No", "after": "Yes"}}
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "risk_summary.amended"))
    assert db.session.scalar(
        select(OutboundEmail.id).where(
            OutboundEmail.recipient == nacro_manager.email, OutboundEmail.subject.contains("amended")
        )
    )
    second.nature = "rewritten"
    with pytest.raises(RiskSummariesAreFinal):
        db.session.flush()
    db.session.rollback()


def test_each_rule_names_its_field(sent, referrer, today):
    with pytest.raises(ValidationFailed) as failure:
        record_risk_summary(
            referrer,
            sent,
            {
                "at_risk": ["neighbours"],
                "nature": "",
                "police_da_check": "requested",
                "childrens_services_check": "nothing_known",
                "childrens_services_check_on": (today + timedelta(days=1)).isoformat(),
            },
        )
    assert set(failure.value.errors) == {"at_risk", "nature", "police_da_check_on", "childrens_services_check_on"}


def test_only_the_referrer_records_it_and_another_partner_sees_nothing(
    sent, referrer, nacro_manager, contract_manager, st_giles_manager
):
    with pytest.raises(NotAllowed):
        record_risk_summary(nacro_manager, sent, RISK)
    with pytest.raises(NotAllowed):
        record_risk_summary(contract_manager, sent, RISK)
    with pytest.raises(NotFound):
        record_risk_summary(st_giles_manager, sent, RISK)


def test_the_partner_reads_it_before_accepting_and_on_every_case_file_page(
    portal, other_portal, sent, referrer, nacro_manager, st_giles_manager
):
    record_risk_summary(referrer, sent, RISK)
    portal.sign_in(nacro_manager)
    for url in ("/referrals/NC2345AB/accept", "/referrals/NC2345AB", "/referrals/NC2345AB/notes"):
        text = text_of(portal.get(url))
        assert "Children, A partner or ex-partner" in text, url
        assert "No home visits. Meet at the office only." in text, url
        assert "Done: information shared (see the nature of the risk), 10 February 2026" in text, url
    other_portal.sign_in(st_giles_manager)
    assert other_portal.get("/referrals/NC2345AB/risk").status_code == 404


def test_the_referrer_amends_it_from_the_page_and_the_history_shows_before_and_after(portal, sent, referrer):
    record_risk_summary(referrer, sent, RISK)
    portal.sign_in(referrer)
    page = portal.get("/safeguarding/referrals/NC2345AB/risk")
    assert "Amend the risk summary" in text_of(page)
    form = {
        "based_on": "1",
        "at_risk": ["partner_or_ex_partner", "children"],
        "nature": RISK["nature"],
        "police_da_check": "information_shared",
        "police_da_check_on": ["10", "2", "2026"],
        "childrens_services_check": "nothing_known",
        "childrens_services_check_on": ["20", "2", "2026"],
        "iom": "y",
        "lone_working_restrictions": RISK["lone_working_restrictions"],
        "when_greatest": RISK["when_greatest"],
        "protective_factors": RISK["protective_factors"],
    }
    response = portal.post("/safeguarding/referrals/NC2345AB/risk", form)
    assert response.status_code == 200 and "Explain why you are amending the risk summary" in text_of(response)
    response = portal.post("/safeguarding/referrals/NC2345AB/risk", {**form, "reason": "Children's services answered."})
    assert response.status_code == 302, text_of(response)[:800]
    section = text_of(portal.get("/referrals/NC2345AB/risk"))
    assert "Version 2 (current)" in section and "Children's services answered." in section
    assert "Requested, waiting for an answer" in section and "Done: nothing known" in section


def test_the_api_sends_a_referral_with_its_risk_summary_and_amends_it(api_as, referrer, ttg_service, nacro_manager):
    from types import SimpleNamespace

    from tests.api.test_roles import new_referral

    crc = api_as(referrer)
    body = new_referral(SimpleNamespace(contract=ttg_service), "referrer")
    bad = crc.post("/referrals", body | {"risk_details": {"nature": "", "police_da_check": "requested"}})
    assert bad.status_code == 422
    assert {"risk_details.nature", "risk_details.police_da_check_on"} <= set(bad.json["errors"])
    assert db.session.scalar(select(RiskSummary.id)) is None
    sent = crc.post("/referrals", body | {"risk_details": {k: v for k, v in RISK.items()}})
    assert sent.status_code == 201, sent.json
    reference = sent.json["reference"]
    partner = api_as(nacro_manager)
    read = partner.get(f"/referrals/{reference}/risk-summary").json
    assert read["current"]["number"] == 1 and read["current"]["at_risk"] == ["children", "partner_or_ex_partner"]
    assert partner.post(f"/referrals/{reference}/risk-summary", RISK).status_code == 403
    amended = crc.post(f"/referrals/{reference}/risk-summary", RISK | {"mappa": True, "reason": "MAPPA", "based_on": 1})
    assert amended.status_code == 201 and [v["number"] for v in amended.json["versions"]] == [2, 1]
    stale = crc.post(f"/referrals/{reference}/risk-summary", RISK | {"iom": False, "reason": "x", "based_on": 1})
    assert stale.status_code == 409
