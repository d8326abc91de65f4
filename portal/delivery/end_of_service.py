"""The end-of-service report: how each desired outcome went. Submitting it completes the referral."""

from __future__ import annotations

from typing import Any

from portal import access
from portal.delivery.common import text_of
from portal.delivery.models import (
    Achievement,
    EndOfServiceReport,
)
from portal.delivery.sessions import cancel_future_sessions
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.notifications.rules import notify
from portal.persistence import check_version, commit, guards_versions
from portal.referrals.models import Referral, ReferralEventKind
from portal.referrals.service import REFERRAL_WORKFLOW, timeline


@guards_versions("referral")
def complete_referral(
    actor: Any,
    referral: Referral,
    *,
    summary: str,
    outcomes: list[dict[str, Any]],
    further_needs: str | None = None,
    version: int | None = None,
) -> EndOfServiceReport:
    """The end-of-service report: how each desired outcome went. Submitting it completes the referral."""
    access.require(actor, "complete", referral)
    check_version(referral, version, "referral")
    REFERRAL_WORKFLOW.check(referral, "complete")
    from portal.safeguarding.service import refuse_while_concern_open

    refuse_while_concern_open(referral)
    errors: dict[str, list[str]] = {}
    summary = text_of(summary)
    if not summary:
        errors["summary"] = ["Summarise the work done and where the person is now"]
    desired = list(referral.desired_outcomes or [])
    given = {(text_of(entry.get("desired_outcome"))): entry for entry in outcomes or []}
    report_outcomes = []
    for index, wanted in enumerate(desired):
        entry = given.get(wanted) or (
            outcomes[index]
            if index < len(outcomes or []) and not text_of(outcomes[index].get("desired_outcome"))
            else None
        )
        try:
            achievement = Achievement((entry or {}).get("achievement"))
        except ValueError:
            errors[f"outcomes-{index}"] = [f"Say whether '{wanted}' was achieved, partially achieved or not achieved"]
            continue
        report_outcomes.append(
            {
                "desired_outcome": wanted,
                "achievement": achievement.value,
                "comment": text_of((entry or {}).get("comment")),
            }
        )
    unknown = [name for name in given if name and name not in desired]
    if unknown:
        errors["outcomes"] = [f"'{unknown[0]}' is not one of this referral's desired outcomes"]
    if errors:
        raise ValidationFailed(errors)
    report = EndOfServiceReport(
        referral_id=referral.id,
        contract_id=referral.contract_id,
        summary=summary,
        outcomes=report_outcomes,
        further_needs=text_of(further_needs) or None,
        submitted_by_id=actor.id,
    )
    db.session.add(report)
    REFERRAL_WORKFLOW.apply(referral, "complete", actor, details={"outcomes": report_outcomes})
    timeline(referral, ReferralEventKind.COMPLETED, actor, "End-of-service report submitted: referral completed")
    notify("referral_completed", referral, actor=actor, referral=referral, report=report)
    cancel_future_sessions(actor, referral)
    from portal.plans.service import close_plan

    close_plan(actor, referral)
    commit("referral")
    return report
