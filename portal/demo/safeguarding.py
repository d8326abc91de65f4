"""The demo's safeguarding: team managers named, structured risk summaries (some amended), a concern in
each state (closed, acknowledged, waiting within its deadline, one escalated, one that transferred its
case to the NPS), and the history's old alerts acknowledged as a referrer would have.

Queued on the history's own clock (History.at) and made by the same operations the pages use, each at
its own moment, dated back from the day the demo is loaded."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.dates import london_day
from portal.delivery.alerts import acknowledge_alert
from portal.delivery.models import Alert
from portal.demo.people import OFFICES, office_and_postcode
from portal.extensions import db
from portal.formatting import LONDON
from portal.referrals.models import LIVE_STATUSES, LocationType, Referral, ReferralStatus
from portal.safeguarding import risk, service
from portal.safeguarding.models import SafeguardingConcern
from portal.ttg.models import FirstNight
from portal.ttg.service import record_release
from portal.working_days import add_working_hours, is_working_day

# Alerts raised this many working days ago or more, or on a referral that has ended, have been dealt with.
ALERT_DAYS = 15


def working_morning(now: datetime, working_days_back: int, hour: int = 10) -> datetime:
    """`hour` o'clock in London on the working day `working_days_back` working days before now."""
    day, counted = london_day(now), 0
    while counted < working_days_back:
        day -= timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day, time(hour), tzinfo=LONDON)


class SafeguardingStory:
    """Queued on the history's clock (History.at), so every step happens, and is audited, in order."""

    def __init__(self, history: Any) -> None:
        self.history = history
        self.now: datetime = history.now
        self.used: set[int] = set()
        # Its own seeded draws, so the history's own sequence (and so the rest of the demo) is unchanged.
        self.rng = random.Random(1919)

    @property
    def counts(self) -> Counter[str]:
        return self.history.counts

    def plan(self) -> None:
        history = self.history
        history.at(history.current + timedelta(minutes=1), self.name_team_managers)
        day = history.start_day
        while day <= london_day(self.now):
            if is_working_day(day):
                history.at(datetime.combine(day, time(17, 30), tzinfo=LONDON), self.sweep_alerts)
            day += timedelta(days=1)
        history.at(working_morning(self.now, 15, hour=9), self.record_risk_summaries)
        for case in history.cases:
            if case.custody and case.release is not None and case.release <= london_day(self.now):
                history.at(datetime.combine(case.release, time(10, 30), tzinfo=LONDON), self.release, case)
        for spec in CONCERNS:
            back = spec[1]
            raised_at = working_morning(self.now, back) if back else self.now - timedelta(hours=3)
            history.at(raised_at, self.raise_concern, spec)

    # --- team managers, alerts --------------------------------------------------------------------

    def name_team_managers(self) -> None:
        admin = db.session.scalars(select(User).where(User.role == Role.ADMIN).order_by(User.id)).first()
        managers = db.session.scalars(
            select(User).where(User.role == Role.CONTRACT_MANAGER, User.active.is_(True)).order_by(User.id)
        ).all()
        referrers = db.session.scalars(
            select(User).where(User.role == Role.CRC_REFERRER, User.active.is_(True)).order_by(User.id)
        ).all()
        for referrer in referrers:
            manager = next((m for m in managers if m.organisation_id == referrer.organisation_id), None)
            if admin is not None and manager is not None:
                service.set_team_manager(admin, referrer, manager.id)
                self.counts["team_managers"] += 1

    def sweep_alerts(self) -> None:
        """At the end of each working day, the referrer acknowledges what is still open from ALERT_DAYS
        working days ago, and anything on a referral that has ended: no alert is left behind."""
        cutoff = working_morning(self.history.current, ALERT_DAYS, hour=0)
        rows = db.session.execute(
            select(Alert, Referral)
            .join(Referral, Referral.id == Alert.referral_id)
            .where(Alert.acknowledged_at.is_(None))
            .order_by(Alert.raised_at, Alert.id)
        ).all()
        for alert, referral in rows:
            if referral.status in LIVE_STATUSES and alert.raised_at >= cutoff:
                continue
            acknowledge_alert(db.session.get(User, referral.referrer_id), alert)
            self.counts["old_alerts_acknowledged"] += 1

    # --- Through the Gate ----------------------------------------------------------------------------

    def release(self, case: Any) -> None:
        """Release day: the caseworker meets the person (most days) and records the checklist."""
        referral = case.referral
        if referral is None or referral.status not in LIVE_STATUSES or referral.location_type != LocationType.CUSTODY:
            return
        rng = self.rng
        counties = case.contract.county_names or list(OFFICES)  # a prison-only contract: anywhere they settle
        office, postcode = office_and_postcode(rng, counties, case.plan.offices)
        first_night = rng.choices([kind.value for kind in FirstNight], (15, 25, 25, 10, 15, 10))[0]
        fields = {
            "released_on": london_day(self.history.current),
            "release_type": "conditional_release",
            "community_office": office,
            "address_area": postcode.split()[0],
            "first_night": first_night,
            "id_held": rng.random() < 0.7,
            "bank_account": rng.random() < 0.6,
            "benefit_claim": rng.random() < 0.75,
            "gp_registered": rng.random() < 0.5,
            "met_at_gate": rng.random() < 0.65,
        }
        record_release(case.caseworker or case.partner.manager, referral, fields)
        self.counts["releases"] += 1

    # --- risk that travels ------------------------------------------------------------------------

    def record_risk_summaries(self) -> None:
        live = db.session.scalars(
            select(Referral).where(Referral.status.in_(LIVE_STATUSES)).order_by(Referral.id)
        ).all()
        chosen = [r for r in live if {"domestic_abuse", "child_safeguarding"} & set(r.risk_flags or [])][:12]
        today = london_day(self.history.current)
        for index, referral in enumerate(chosen):
            referrer = db.session.get(User, referral.referrer_id)
            children = "child_safeguarding" in (referral.risk_flags or [])
            fields = {
                "at_risk": ["partner_or_ex_partner", *(["children"] if children else [])],
                "nature": "Controlling and violent towards a former partner; the police hold call-outs to her "
                "address." + (" Children live there and are known to children's social care." if children else ""),
                "when_greatest": "When drinking, and around contact arrangements for the children.",
                "protective_factors": "Stable tenancy; engaging with a domestic abuse perpetrator programme.",
                "police_da_check": "information_shared",
                "police_da_check_on": min(london_day(referral.sent_at), today) - timedelta(days=7),
                "childrens_services_check": "requested" if children else "not_requested",
                "childrens_services_check_on": today - timedelta(days=2) if children else None,
                "mappa": False,
                "iom": index % 4 == 0,
                "lone_working_restrictions": "No home visits. Meet only at the office, with a colleague on site.",
            }
            risk.record_risk_summary(referrer, referral, fields)
            self.counts["risk_summaries"] += 1
            if children:
                self.history.at(self.history.later(5), self.amend_risk, referral, fields)

    def amend_risk(self, referral: Referral, fields: dict[str, Any]) -> None:
        if referral.status not in LIVE_STATUSES:
            return
        answered = {
            **fields,
            "childrens_services_check": "information_shared",
            "childrens_services_check_on": london_day(self.history.current),
            "nature": fields["nature"] + " Children's services: the children are subject to child protection plans.",
        }
        referrer = db.session.get(User, referral.referrer_id)
        risk.record_risk_summary(referrer, referral, answered, reason="Children's services answered the check.")
        self.counts["risk_amendments"] += 1

    # --- concerns -----------------------------------------------------------------------------------

    def _pending(self, case: Any, names: set[str] | None, until: datetime | None) -> bool:
        """Whether the history has something queued for this case (of these kinds, before `until`)."""
        for when, _sequence, action, args in self.history.queue:
            if case not in args:
                continue
            if (names is None or getattr(action, "__name__", "") in names) and (until is None or when <= until):
                return True
        return False

    def _referral_for(self, state: str, closes: datetime | None) -> Referral | None:
        """An in-progress case with a caseworker, under way a week or more, that nothing queued would
        complete while its concern is open (and, for a transfer, that nothing queued would touch)."""
        week_ago = self.history.current - timedelta(days=7)
        candidates = [
            case
            for case in self.history.cases
            if case.referral is not None
            and case.referral.id not in self.used
            and case.referral.status == ReferralStatus.IN_PROGRESS
            and case.referral.caseworker_id is not None
            and case.referral.first_contact_at is not None
            and case.referral.first_contact_at < week_ago
            # The alerts the history leaves open for the referrer stay on a live case.
            and not (state == "transfer" and case.referral.id in self.history.open_alerts.values())
        ]
        for case in candidates[len(self.used) * 7 % max(len(candidates), 1) :] + candidates:
            # A transfer stops the case: nothing queued may touch it. Otherwise nothing may complete it while
            # its concern is open (completing is refused then).
            busy = self._pending(case, None, None) if state == "transfer" else self._pending(case, {"complete"}, closes)
            if not busy:
                self.used.add(case.referral.id)
                return case.referral
        return None

    def raise_concern(self, spec: tuple[str, int, dict[str, Any]]) -> None:
        state, _back, fields = spec
        history = self.history
        raised_at = history.current
        acknowledged_at = min(raised_at + timedelta(hours=1), self.now - timedelta(minutes=20))
        closes = {
            "closed": add_working_hours(acknowledged_at, 8),
            "transfer": self.now - timedelta(minutes=10),
        }.get(state)
        referral = self._referral_for(state, closes)
        if referral is None:
            return
        told = dict(fields)
        if any(told.get(name) for name in ("told_mash", "told_police", "told_responsible_officer")):
            told["told_at"] = raised_at - timedelta(minutes=30)
        caseworker = db.session.get(User, referral.caseworker_id)
        if state == "transfer":
            # Raising it withdraws the referral (risk of serious harm high: transferred to the NPS), so
            # first the caseworker records how the sessions that have happened went: one still waiting
            # for its feedback would be left on a case that has ended.
            for case in self.history.cases:
                if case.referral is not None and case.referral.id == referral.id:
                    self.history._catch_up(case)
        concern = service.raise_concern(caseworker, referral, told)
        self.counts[f"concerns_{state}"] += 1
        if state == "transfer":
            self.acknowledge_alerts(referral)
        if state == "escalated":
            history.at(concern.acknowledge_due_at + timedelta(minutes=5), service.escalate_overdue)
        elif state != "open":
            history.at(acknowledged_at, self.acknowledge, concern.id)
        if closes is not None:
            history.at(closes, self.close, concern.id, state)

    def acknowledge_alerts(self, referral: Referral) -> None:
        """The case has ended: its referrer deals with its open alerts there and then, as the evening's
        sweep would (on the day the demo is loaded, the sweep has not run yet)."""
        referrer = db.session.get(User, referral.referrer_id)
        for alert in db.session.scalars(
            select(Alert).where(Alert.referral_id == referral.id, Alert.acknowledged_at.is_(None)).order_by(Alert.id)
        ).all():
            acknowledge_alert(referrer, alert)
            self.counts["old_alerts_acknowledged"] += 1

    def acknowledge(self, concern_id: int) -> None:
        concern = db.session.get(SafeguardingConcern, concern_id)
        referral = db.session.get(Referral, concern.referral_id)
        service.acknowledge_concern(db.session.get(User, referral.referrer_id), concern)

    def close(self, concern_id: int, state: str) -> None:
        concern = db.session.get(SafeguardingConcern, concern_id)
        referral = db.session.get(Referral, concern.referral_id)
        outcome, detail = OUTCOMES[state]
        service.close_concern(db.session.get(User, referral.referrer_id), concern, outcome=outcome, detail=detail)


OUTCOMES = {
    "closed": (
        "risk_plan_updated",
        "Risk management plan updated and the police told; the ex-partner was warned and a marker put on her "
        "address. Sessions continue at the office only.",
    ),
    "transfer": (
        "transferred_to_nps",
        "Risk of serious harm assessed as high: the case is being transferred to the NPS. The police arrested "
        "him for threats to kill.",
    ),
}
CONCERNS = (
    # (state, working days back, fields)
    (
        "closed",
        25,
        {
            "category": "domestic_abuse",
            "urgency": "urgent",
            "what_happened": "Made threatening remarks about his ex-partner during the session, and said he knew "
            "where she now lives.",
            "told_responsible_officer": True,
        },
    ),
    (
        "acknowledged",
        2,
        {
            "category": "child_protection",
            "urgency": "urgent",
            "what_happened": "Said his partner's children were left alone overnight while both adults were out.",
            "told_mash": True,
            "told_responsible_officer": True,
        },
    ),
    (
        "escalated",
        3,
        {
            "category": "self_harm",
            "urgency": "urgent",
            "what_happened": "Spoke of ending his life after losing his hostel place; gave the Samaritans number "
            "and agreed a call tomorrow.",
        },
    ),
    (
        "open",
        0,
        {
            "category": "adult_at_risk",
            "urgency": "standard",
            "what_happened": "Her mother, who has dementia and lives with her, seemed frightened and unkempt at "
            "today's home visit.",
        },
    ),
    (
        "transfer",
        0,
        {
            "category": "risk_to_public",
            "urgency": "urgent",
            "what_happened": "Threatened to stab a named neighbour and showed a knife. Police called from the office.",
            "told_police": True,
            "told_responsible_officer": True,
            "rosh_high": True,
        },
    ),
)
