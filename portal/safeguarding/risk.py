"""Risk that travels: a referral's structured risk summary (who is at risk, the nature of the risk, when
it is greatest, protective factors, the dated police domestic-abuse and children's-services checks,
MAPPA and IOM, lone-working restrictions). The referrer records it; each amendment is a new version
with its reason, and the partner is told. Partners read it before accepting and on every case-file page."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from portal import access
from portal.audit.service import changes, record_event
from portal.dates import london_today, parse_user_date
from portal.db import utcnow
from portal.errors import StaleRecord, ValidationFailed
from portal.extensions import db
from portal.notifications.rules import notify
from portal.persistence import commit, lock
from portal.referrals.models import LIVE_STATUSES, Referral, ReferralEventKind
from portal.safeguarding.models import RISK_FIELD_LABELS, RISK_FIELDS, AtRisk, CheckStatus, RiskSummary

__all__ = ["RISK_FIELDS", "check_risk_details", "current_risk", "record_risk_summary", "risk_history"]

MAX_TEXT = 5000
TEXTS = ("nature", "when_greatest", "protective_factors", "lone_working_restrictions")
CHECKS = (("police_da_check", "police domestic abuse check"), ("childrens_services_check", "children's services check"))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def check_risk_details(fields: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    """The structured risk summary, checked: every broken rule named by its field."""
    today = today or london_today()
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    raw_at_risk = fields.get("at_risk") or []
    if not isinstance(raw_at_risk, list | tuple):
        raw_at_risk = [raw_at_risk]
    try:
        cleaned["at_risk"] = sorted({AtRisk(value).value for value in raw_at_risk})
    except ValueError:
        errors["at_risk"] = ["Select who is at risk from the list"]
    for name in TEXTS:
        text = _text(fields.get(name))
        if len(text) > MAX_TEXT:
            errors[name] = [f"{RISK_FIELD_LABELS[name]} must be {MAX_TEXT:,} characters or fewer"]
        cleaned[name] = text or None
    if not cleaned.get("nature"):
        errors["nature"] = ["Describe the nature of the risk, or say that none is known"]
    for name, words in CHECKS:
        try:
            status = CheckStatus(fields.get(name) or CheckStatus.NOT_REQUESTED.value)
        except ValueError:
            errors[name] = [f"Select the status of the {words}"]
            continue
        cleaned[name] = status
        on = fields.get(f"{name}_on")
        if isinstance(on, str):
            on = parse_user_date(on) if on.strip() else None
        if status == CheckStatus.NOT_REQUESTED:
            cleaned[f"{name}_on"] = None
            continue
        if not isinstance(on, date):
            errors[f"{name}_on"] = [f"Enter the date of the {words} (requested, or answered)"]
        elif on > today:
            errors[f"{name}_on"] = [f"The date of the {words} must be today or in the past"]
        cleaned[f"{name}_on"] = on if isinstance(on, date) else None
    cleaned["mappa"] = bool(fields.get("mappa"))
    cleaned["iom"] = bool(fields.get("iom"))
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def current_risk(referral: Referral) -> RiskSummary | None:
    """The latest version of the referral's risk summary (one query), or None if none is recorded."""
    if referral.id is None:
        return None
    return db.session.scalars(
        select(RiskSummary).where(RiskSummary.referral_id == referral.id).order_by(RiskSummary.number.desc()).limit(1)
    ).first()


def risk_history(referral: Referral) -> list[dict[str, Any]]:
    """Every version, newest first, each with what changed from the one before."""
    versions = db.session.scalars(
        select(RiskSummary)
        .where(RiskSummary.referral_id == referral.id)
        .options(joinedload(RiskSummary.recorded_by))
        .order_by(RiskSummary.number)
    ).all()
    history = []
    previous: dict[str, Any] = {}
    for version in versions:
        now = {name: _shown(name, getattr(version, name)) for name in RISK_FIELDS}
        history.append({"version": version, "changes": changes(previous, now) if previous else {}})
        previous = now
    return list(reversed(history))


def _shown(name: str, value: Any) -> Any:
    """A field's value as the history shows it: labels, not codes."""
    from portal.formatting import format_date

    if name == "at_risk":
        return ", ".join(AtRisk(who).label for who in value or []) or "No one identified"
    if isinstance(value, CheckStatus):
        return value.label
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, date):
        return format_date(value)
    return value


def record_risk_summary(
    actor: Any,
    referral: Referral,
    fields: dict[str, Any],
    *,
    reason: str | None = None,
    based_on: int | str | None = None,
    save: bool = True,
) -> RiskSummary:
    """Record the referral's risk summary, or amend it (a new version, with the reason). `based_on` is
    the version the user read: if someone else amended it since, StaleRecord. With save=False the
    caller commits (sending a referral with its risk summary is one transaction)."""
    if save:
        access.require(actor, "record_risk", referral)
        lock(referral)
        if referral.status not in LIVE_STATUSES:
            raise ValidationFailed.single("referral", "Only the risk summary of a sent or open referral can change")
    else:  # part of sending the referral, which the caller has checked and commits
        access.require(actor, "send", referral)
    cleaned = check_risk_details(fields)
    latest = current_risk(referral) if referral.id else None
    number = (latest.number if latest else 0) + 1
    if based_on not in (None, "") and str(based_on) != str(latest.number if latest else 0):
        raise StaleRecord(
            "The risk summary was amended by someone else while you were working on it. Check it and try again."
        )
    reason = _text(reason)
    if latest is not None:
        before = {name: getattr(latest, name) for name in RISK_FIELDS}
        difference = changes(before, cleaned)
        if not difference:
            raise ValidationFailed.single("nature", "Nothing has changed")
        if not reason:
            raise ValidationFailed.single("reason", "Explain why you are amending the risk summary")
    else:
        difference = changes({}, cleaned)
    summary = RiskSummary(
        referral_id=referral.id,
        number=number,
        recorded_at=utcnow(),
        recorded_by_id=actor.id,
        reason=reason or None,
        **cleaned,
    )
    db.session.add(summary)
    db.session.flush()
    record_event(
        "risk_summary.recorded" if latest is None else "risk_summary.amended",
        actor=actor,
        record=summary,
        details={"referral": referral.reference, "number": number, "changes": difference, "reason": reason or None},
    )
    if save:
        from portal.contracts.models import Contract
        from portal.referrals.service import timeline

        labels = [RISK_FIELD_LABELS[name] for name in difference]
        timeline(
            referral,
            ReferralEventKind.NOTE,
            actor,
            ("Risk summary amended: " if latest else "Risk summary recorded: ")
            + ", ".join(label.lower() for label in labels),
            {"risk_summary": number, "reason": reason},
        )
        notify(
            "referral_amended",
            referral,
            actor=actor,
            referral=referral,
            contract=db.session.get(Contract, referral.contract_id),
            fields=["risk_summary"],
            changed=["the risk summary (" + ", ".join(label.lower() for label in labels) + ")"],
        )
    if save:
        commit("referral")
    return summary


def versions_count(referral: Referral) -> int:
    return db.session.scalar(select(func.count()).where(RiskSummary.referral_id == referral.id)) or 0
