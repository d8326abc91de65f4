"""Who is told about what: the one place that decides, for every event that hands someone work,
who hears of it, what the email says and where it links.

Operations call `notify(event, record, actor=..., **context)` in their transaction. Each recipient
who is a user gets the email at once, or, if they chose a daily digest on their account page, a
line in tomorrow morning's digest (`flask notifications send-digest`, run from cron). A shared
mailbox (a partner's referral inbox) is always told at once. The person who acted is never told
of their own action. Security emails (password resets, invitations) do not come through here:
they always go at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.extensions import db
from portal.notifications.models import DigestItem
from portal.notifications.service import queue_email, render_email
from portal.urls import absolute_url

IMMEDIATE, DAILY = "immediate", "daily"
FREQUENCIES = {IMMEDIATE: "An email each time", DAILY: "One email a day, each morning (a daily digest)"}

Recipient = User | str  # a user, or a shared mailbox's address


@dataclass(frozen=True)
class Rule:
    template: str  # emails/<template>.txt and .html
    recipients: Callable[[Any, dict[str, Any]], Iterable[Recipient]]
    link: Callable[[Any, dict[str, Any]], str]  # where the work is done (absolute)


def _active(users: Iterable[User | None]) -> list[User]:
    return [user for user in users if user is not None and user.active]


def _user(user_id: int | None) -> list[User]:
    return _active([db.session.get(User, user_id)] if user_id else [])


# Within recipients_remembered(), who holds a role in an organisation, by (organisation id, role).
_REMEMBERED: ContextVar[dict[tuple[int, Role], list[User]] | None] = ContextVar("remembered_roles", default=None)


@contextmanager
def recipients_remembered() -> Iterator[None]:
    """Within this block, who holds a role in an organisation is asked of the database once: an
    operation telling one partner of many records at once (the bulk import's referrals) would
    otherwise ask again for each record. Only for a block that changes no one's role."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def _role_in(organisation_id: int, role: Role) -> list[User]:
    remembered = _REMEMBERED.get()
    if remembered is not None and (organisation_id, role) in remembered:
        return list(remembered[(organisation_id, role)])
    users = list(
        db.session.scalars(
            select(User).where(User.organisation_id == organisation_id, User.role == role, User.active.is_(True))
        ).all()
    )
    if remembered is not None:
        remembered[(organisation_id, role)] = users
    return list(users)


def _contract_of(record: Any) -> Any:
    from portal.contracts.models import Contract

    return db.session.get(Contract, record.contract_id)


def _referral_link(referral: Any, section: str = "summary") -> str:
    if section == "summary":
        return absolute_url("referrals.show", reference=referral.reference)
    return absolute_url("referrals.section", reference=referral.reference, section=section)


# --- referrals and delivery ------------------------------------------------------------------------


def _partner_side(referral: Any, context: dict[str, Any], *, mailbox: bool = False) -> list[Recipient]:
    """The partner: its referral mailbox (new referrals), its managers and the assigned caseworker."""
    contract = _contract_of(referral)
    recipients: list[Recipient] = []
    if mailbox and contract.partner.referral_email:
        recipients.append(contract.partner.referral_email)
    return recipients + _role_in(contract.partner_id, Role.PROVIDER_MANAGER) + _user(referral.caseworker_id)


def _referrer(referral: Any, context: dict[str, Any]) -> list[Recipient]:
    return list(_user(referral.referrer_id))


def _escalation(referral: Any, context: dict[str, Any]) -> list[Recipient]:
    """A safeguarding concern not acknowledged in time: the referrer's team manager (or, when the CRC
    has named none, its administrators), and the referrer again."""
    manager = context.get("manager")
    told = [manager] if manager is not None else _role_in(referral.crc_id, Role.ADMIN)
    return list(_active(told)) + _referrer(referral, context)


# --- invoices and service returns ------------------------------------------------------------------


def _contract_managers(record: Any, context: dict[str, Any]) -> list[Recipient]:
    return list(_role_in(_contract_of(record).crc_id, Role.CONTRACT_MANAGER))


def _partner_managers(record: Any, context: dict[str, Any]) -> list[Recipient]:
    return list(_role_in(_contract_of(record).partner_id, Role.PROVIDER_MANAGER))


def _credit_note_counterpart(note: Any, context: dict[str, Any]) -> list[Recipient]:
    """A credit note raised by the partner goes to the CRC to decide; one the CRC raised is news
    the partner must know of (and the CRC decides it too)."""
    raiser = db.session.get(User, note.raised_by_id) if note.raised_by_id else None
    recipients = _contract_managers(note, context)
    if raiser is not None and raiser.is_crc_user:
        recipients += _partner_managers(note, context)
    return recipients


def _invoice_link(invoice: Any, context: dict[str, Any]) -> str:
    return absolute_url("invoicing.show", invoice_id=invoice.id)


def _grant_payment_link(instalment: Any, context: dict[str, Any]) -> str:
    return absolute_url("grants.payment", instalment_id=instalment.id)


def _return_link(service_return: Any, context: dict[str, Any]) -> str:
    return absolute_url("returns.show", return_id=service_return.id)


def _remittance_link(change: Any, context: dict[str, Any]) -> str:
    return absolute_url("remittance.show", organisation_id=change.organisation_id)


RULES: dict[str, Rule] = {
    # Referrals
    "referral_sent": Rule(
        "referral_sent", lambda r, c: _partner_side(r, c, mailbox=True), lambda r, c: _referral_link(r)
    ),
    "referral_accepted": Rule("referral_accepted", _referrer, lambda r, c: _referral_link(r)),
    "referral_declined": Rule("referral_declined", _referrer, lambda r, c: _referral_link(r)),
    "referral_assigned": Rule("referral_assigned", lambda r, c: [c["caseworker"]], lambda r, c: _referral_link(r)),
    "referral_amended": Rule("referral_amended", _partner_side, lambda r, c: _referral_link(r)),
    "referral_withdrawn": Rule("referral_withdrawn", _partner_side, lambda r, c: _referral_link(r)),
    "referral_completed": Rule("referral_completed", _referrer, lambda r, c: _referral_link(r)),
    "sessions_cancelled": Rule(
        "sessions_cancelled", lambda r, c: _user(r.caseworker_id), lambda r, c: _referral_link(r, "sessions")
    ),
    # Delivery
    "delivery_alert": Rule("delivery_alert", _referrer, lambda r, c: absolute_url("delivery.alerts_queue")),
    "outcome_claimed": Rule("outcome_claimed", _referrer, lambda r, c: _referral_link(r, "outcomes")),
    "outcome_decided": Rule(
        "outcome_decided", lambda r, c: _user(c["outcome"].claimed_by_id), lambda r, c: _referral_link(r, "outcomes")
    ),
    # Safeguarding concerns (portal/safeguarding)
    "safeguarding_concern_raised": Rule(
        "safeguarding_concern_raised", _referrer, lambda r, c: _referral_link(r, "safeguarding")
    ),
    "safeguarding_concern_acknowledged": Rule(
        "safeguarding_concern_acknowledged",
        lambda r, c: _partner_side(r, c) + _user(c["concern"].raised_by_id),
        lambda r, c: _referral_link(r, "safeguarding"),
    ),
    "safeguarding_concern_closed": Rule(
        "safeguarding_concern_closed",
        lambda r, c: _partner_side(r, c) + _user(c["concern"].raised_by_id),
        lambda r, c: _referral_link(r, "safeguarding"),
    ),
    "safeguarding_concern_escalated": Rule(
        "safeguarding_concern_escalated", _escalation, lambda r, c: _referral_link(r, "safeguarding")
    ),
    # Action plans and progress reviews (portal/plans)
    "action_plan_submitted": Rule("action_plan_submitted", _referrer, lambda r, c: _referral_link(r, "plan")),
    "action_plan_decided": Rule(
        "action_plan_decided",
        lambda r, c: _partner_side(r, c) + _user(c["submitted"].submitted_by_id),
        lambda r, c: _referral_link(r, "plan"),
    ),
    "progress_review_submitted": Rule("progress_review_submitted", _referrer, lambda r, c: _referral_link(r, "plan")),
    "progress_review_answered": Rule(
        "progress_review_answered",
        lambda r, c: _user(c["review"].submitted_by_id) + _user(r.caseworker_id),
        lambda r, c: _referral_link(r, "plan"),
    ),
    # Invoices and credit notes
    "invoice_submitted": Rule("invoice_submitted", _contract_managers, _invoice_link),
    "invoice_decided": Rule("invoice_decided", _partner_managers, _invoice_link),
    "invoice_query_replied": Rule("invoice_query_replied", _contract_managers, _invoice_link),
    "invoice_query_answered": Rule("invoice_query_answered", _partner_managers, _invoice_link),
    "credit_note_raised": Rule("credit_note_raised", _credit_note_counterpart, _invoice_link),
    # Grant payments (portal/grants): as invoices, raised to the CRC and decided to the partner
    "grant_payment_submitted": Rule("grant_payment_submitted", _contract_managers, _grant_payment_link),
    "grant_payment_decided": Rule("grant_payment_decided", _partner_managers, _grant_payment_link),
    # Remittance details: the partner's managers hear of every decision on their bank account
    "bank_details_confirmed": Rule(
        "bank_details_confirmed", lambda r, c: _role_in(r.organisation_id, Role.PROVIDER_MANAGER), _remittance_link
    ),
    "bank_details_rejected": Rule(
        "bank_details_rejected", lambda r, c: _role_in(r.organisation_id, Role.PROVIDER_MANAGER), _remittance_link
    ),
    # Service returns
    "return_submitted": Rule("return_submitted", _contract_managers, _return_link),
    "return_decided": Rule("return_decided", _partner_managers, _return_link),
}


def notify(event: str, record: Any, *, actor: Any = None, **context: Any) -> None:
    """Tell whoever RULES say of `event` on `record`: an email now, or a line in their digest."""
    rule = RULES[event]
    url = rule.link(record, context)
    seen: set[str] = set()
    for recipient in rule.recipients(record, context):
        address = recipient if isinstance(recipient, str) else recipient.email
        if address in seen or (actor is not None and not isinstance(recipient, str) and recipient.id == actor.id):
            continue
        seen.add(address)
        if isinstance(recipient, User) and recipient.email_frequency == DAILY:
            subject, _text, _html = render_email(rule.template, url=url, reader=recipient, **context)
            db.session.add(DigestItem(user_id=recipient.id, event=event, subject=subject[:300], url=url[:500]))
            continue
        queue_email(
            rule.template,
            address,
            record=record,
            url=url,
            reader=recipient if isinstance(recipient, User) else None,
            **context,
        )


def send_digests() -> int:
    """One email to each person with lines waiting in their digest, listing them; the lines are
    then marked sent, so running it twice sends nothing twice. Returns how many digests went."""
    from portal.db import utcnow

    pending = db.session.scalars(
        select(DigestItem).where(DigestItem.sent_at.is_(None)).order_by(DigestItem.user_id, DigestItem.id)
    ).all()
    by_user: dict[int, list[DigestItem]] = {}
    for item in pending:
        by_user.setdefault(item.user_id, []).append(item)
    now = utcnow()
    sent = 0
    for user_id, items in by_user.items():
        user = db.session.get(User, user_id)
        if user is not None and user.active:
            queue_email(
                "daily_digest",
                user.email,
                record=user,
                reader=user,
                items=items,
                url=absolute_url("accounts.email_preferences"),
            )
            sent += 1
        for item in items:
            item.sent_at = now
    db.session.commit()
    return sent


def set_email_frequency(actor: Any, frequency: str) -> None:
    """A person chooses how they hear of work: an email each time, or a daily digest (audited)."""
    from portal.audit.service import record_event
    from portal.errors import ValidationFailed

    if frequency not in FREQUENCIES:
        raise ValidationFailed.single("frequency", "Select how often you want emails about your work")
    before = actor.email_frequency
    actor.email_frequency = frequency
    record_event(
        "user.email_frequency_changed", actor=actor, record=actor, details={"before": before, "after": frequency}
    )
    db.session.commit()
