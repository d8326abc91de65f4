"""The demo's action plans and progress reviews, made as a year of practice would have made them.

Each working afternoon the caseworkers write a plan for cases accepted three days before or more,
submit it two working days later, and revise what the referrer sent back; the referrers decide on
plans waiting two days (asking for changes to about one first version in four) and read reviews
waiting two days, answering some. Each review is submitted by the working day it falls due, except one, left
overdue. So the demo, loaded on any day, has plans in every state (a draft, one waiting for approval,
one sent back, approved ones with two versions, closed ones on completed referrals) and reviews due,
one overdue and some waiting to be read. Made by the same operations the pages use, on the history's
clock (History.at)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from portal.accounts.models import User
from portal.dates import london_day
from portal.extensions import db
from portal.formatting import LONDON
from portal.plans import service
from portal.plans.models import ActionPlan, ActionPlanVersion, PlanStatus, ProgressReview, ReviewStatus
from portal.referrals.models import OPEN_STATUSES, Referral
from portal.working_days import add_working_days, is_working_day

FREQUENCIES = ("weekly", "weekly", "fortnightly", "twice_weekly", "monthly")
PROGRESS = ("some_progress", "good_progress", "little_progress", "good_progress", "achieved")
RESPONSES = (
    "Thank you. Keep me told of the housing application.",
    "Noted. I will raise the missed sessions with him at our next supervision.",
)
# The last days of the history: a review falling due then may be the one left overdue.
OVERDUE_WINDOW = timedelta(days=10)


class PlansStory:
    def __init__(self, history: Any) -> None:
        self.history = history
        self.overdue_referral_id: int | None = None

    @property
    def counts(self) -> Any:
        return self.history.counts

    def plan(self) -> None:
        history = self.history
        # The last touches come last: loaded between 16:45 and 17:15 on a working day, today's
        # afternoon would otherwise follow them and revise the plan they had left sent back.
        last = history.now - timedelta(minutes=30)
        day = history.start_day
        while day <= history.today:
            afternoon = datetime.combine(day, time(16, 45), tzinfo=LONDON)
            if is_working_day(day) and afternoon < last:
                history.at(afternoon, self.afternoon)
            day += timedelta(days=1)
        history.at(last, self.last_touches)

    # --- who acts ---------------------------------------------------------------------------------------

    def _partner(self, referral: Referral) -> User:
        if referral.caseworker_id is not None:
            return db.session.get(User, referral.caseworker_id)
        case = self._case_of(referral)
        return case.partner.manager

    def _case_of(self, referral: Referral) -> Any:
        return next(
            case for case in self.history.cases if case.referral is not None and case.referral.id == referral.id
        )

    def _completing_soon(self, referral: Referral) -> bool:
        """Whether the history has queued this case's completion (the overdue review must stay open)."""
        case = self._case_of(referral)
        return any(
            case in args and getattr(action, "__name__", "") == "complete" for *_, action, args in self.history.queue
        )

    # --- each working afternoon -----------------------------------------------------------------------

    def afternoon(self) -> None:
        today = london_day(self.history.current)
        self.write_plans(today)
        self.submit_drafts(today)
        self.decide_plans(today)
        self.revise_plans(today)
        self.submit_reviews(today)
        self.read_reviews(today)

    def activities(self, referral: Referral, *, revised: bool = False) -> tuple[list[dict[str, Any]], int | None]:
        outcomes = list(referral.desired_outcomes or [])[:3]
        chosen = [
            {
                "desired_outcome": outcome,
                "description": f"One-to-one work towards this: {outcome.lower()}"
                + (", with a named worker and a review of progress each month" if revised else ""),
                "sessions": 4 + (referral.id + index) % 5 + (2 if revised else 0),
                "frequency": FREQUENCIES[(referral.id + index) % len(FREQUENCIES)],
            }
            for index, outcome in enumerate(outcomes)
        ]
        rar = None
        if service.is_rar_referral(referral):
            rar = min(referral.rar_days, sum(activity["sessions"] for activity in chosen))
        return chosen, rar

    def write_plans(self, today: Any) -> None:
        without = db.session.scalars(
            select(Referral)
            .where(
                Referral.status.in_(OPEN_STATUSES),
                Referral.accepted_on <= today - timedelta(days=3),
                ~select(ActionPlan.id).where(ActionPlan.referral_id == Referral.id).exists(),
            )
            .order_by(Referral.id)
        ).all()
        for referral in without:
            if not referral.desired_outcomes:
                continue
            activities, rar = self.activities(referral)
            service.save_plan(self._partner(referral), referral, activities=activities, rar_days_planned=rar)
            self.counts["action_plans"] += 1

    def _plans(self, status: PlanStatus) -> list[ActionPlan]:
        return list(
            db.session.scalars(
                select(ActionPlan)
                .join(Referral, Referral.id == ActionPlan.referral_id)
                .where(ActionPlan.status == status, Referral.status.in_(OPEN_STATUSES))
                .order_by(ActionPlan.id)
            ).all()
        )

    def submit_drafts(self, today: Any) -> None:
        for plan in self._plans(PlanStatus.DRAFT):
            if add_working_days(london_day(plan.edited_at), 2) <= today:
                referral = db.session.get(Referral, plan.referral_id)
                service.submit_plan(self._partner(referral), referral)

    def decide_plans(self, today: Any) -> None:
        for plan in self._plans(PlanStatus.SUBMITTED):
            if add_working_days(london_day(plan.updated_at), 2) > today:
                continue
            referral = db.session.get(Referral, plan.referral_id)
            referrer = db.session.get(User, referral.referrer_id)
            first = plan.approved_number is None and not db.session.scalar(
                select(ActionPlanVersion.id).where(
                    ActionPlanVersion.plan_id == plan.id, ActionPlanVersion.decision.is_not(None)
                )
            )
            if first and referral.id % 4 == 0:
                service.request_changes(
                    referrer,
                    plan,
                    reason="Please say who delivers each activity and how often you will review progress with him.",
                )
                self.counts["action_plans_sent_back"] += 1
            else:
                service.approve_plan(referrer, plan)
                self.counts["action_plans_approved"] += 1

    def revise_plans(self, today: Any) -> None:
        for plan in self._plans(PlanStatus.CHANGES_REQUESTED):
            if add_working_days(london_day(plan.updated_at), 1) > today:
                continue
            referral = db.session.get(Referral, plan.referral_id)
            activities, rar = self.activities(referral, revised=True)
            service.save_plan(
                self._partner(referral), referral, activities=activities, rar_days_planned=rar, submit=True
            )

    def submit_reviews(self, today: Any) -> None:
        # What falls due before the next working afternoon is done today (none is left over a weekend),
        # the next one too: a 12-weekly review submitted on a Friday can leave the end-of-plan review due
        # on the Sunday.
        while self._submit_reviews_due(today):
            pass

    def _submit_reviews_due(self, today: Any) -> int:
        """Submit each case's next review if it falls due before the next working afternoon; how many."""
        submitted = 0
        next_afternoon = add_working_days(today, 1)
        due_on, _ending = service.review_due_sql(Referral)
        rows = db.session.execute(
            select(Referral, due_on)
            .where(Referral.status.in_(OPEN_STATUSES), Referral.accepted_on.is_not(None), due_on < next_afternoon)
            .order_by(Referral.id)
        ).all()
        for referral, due in rows:
            if referral.id == self.overdue_referral_id or not referral.desired_outcomes:
                continue
            if (
                self.overdue_referral_id is None
                and due >= self.history.today - OVERDUE_WINDOW
                and not self._completing_soon(referral)
            ):
                self.overdue_referral_id = referral.id  # this one is left overdue
                continue
            number = referral.id + due.toordinal()
            fields = {
                "outcomes": [
                    {
                        "desired_outcome": wanted,
                        "progress": PROGRESS[(number + index) % len(PROGRESS)],
                        "comment": "Attending well; working on this each session."
                        if (number + index) % 3
                        else "Slow going: missed sessions this period, now back on track.",
                    }
                    for index, wanted in enumerate(referral.desired_outcomes)
                ],
                "risk_observations": "Nothing new seen or reported since the last review."
                if number % 4
                else "Spoke angrily about his ex-partner twice; reminded of his licence conditions and told the "
                "responsible officer the same day.",
            }
            service.submit_review(self._partner(referral), referral, fields)
            self.counts["progress_reviews"] += 1
            submitted += 1
        return submitted

    def read_reviews(self, today: Any) -> None:
        waiting = db.session.scalars(
            select(ProgressReview).where(ProgressReview.status == ReviewStatus.SUBMITTED).order_by(ProgressReview.id)
        ).all()
        for review in waiting:
            # Read within two working days; those of the demo's last fortnight are still waiting.
            submitted_on = london_day(review.submitted_at)
            if add_working_days(submitted_on, 2) > today or submitted_on > self.history.today - timedelta(days=14):
                continue
            referral = db.session.get(Referral, review.referral_id)
            response = RESPONSES[review.id % len(RESPONSES)] if review.id % 3 == 0 else None
            service.mark_review_read(db.session.get(User, referral.referrer_id), review, response=response)
            self.counts["progress_reviews_read"] += 1

    # --- now: every state on show ----------------------------------------------------------------------

    def last_touches(self) -> None:
        """Whatever the calendar left out: a plan sent back, one waiting for approval and a draft,
        whatever day the demo is loaded on."""
        fresh = db.session.scalars(
            select(Referral)
            .where(
                Referral.status.in_(OPEN_STATUSES),
                ~select(ActionPlan.id).where(ActionPlan.referral_id == Referral.id).exists(),
            )
            .order_by(Referral.accepted_at.desc(), Referral.id)
        ).all()
        fresh = [referral for referral in fresh if referral.desired_outcomes]
        if not self._plans(PlanStatus.CHANGES_REQUESTED) and (plan := self._a_submitted_plan(fresh)) is not None:
            referral = db.session.get(Referral, plan.referral_id)
            service.request_changes(
                db.session.get(User, referral.referrer_id),
                plan,
                reason="Please add the work towards each of his desired outcomes, not only accommodation.",
            )
        self._a_submitted_plan(fresh)
        if not self._plans(PlanStatus.DRAFT) and fresh:
            referral = fresh.pop(0)
            activities, rar = self.activities(referral)
            service.save_plan(self._partner(referral), referral, activities=activities, rar_days_planned=rar)

    def _a_submitted_plan(self, fresh: list[Referral]) -> ActionPlan | None:
        """A plan waiting for the referrer: one already waiting, else a new referral's first plan,
        else the revision of a plan approved once (those approved twice stay on show)."""
        if submitted := self._plans(PlanStatus.SUBMITTED):
            return submitted[0]
        revised = not fresh
        if fresh:
            referral = fresh.pop(0)
        else:
            approved_once = [plan for plan in self._plans(PlanStatus.APPROVED) if plan.approved_number == 1]
            if not approved_once:
                return None
            referral = db.session.get(Referral, approved_once[-1].referral_id)
        activities, rar = self.activities(referral, revised=revised)
        return service.save_plan(
            self._partner(referral), referral, activities=activities, rar_days_planned=rar, submit=True
        )
