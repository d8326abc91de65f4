"""The service navigation each user sees: a section is shown to whoever may do what it is for,
as portal.access decides it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for

from portal import access
from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.contracts.models import Contract, Service
from portal.invoicing.models import Invoice
from portal.organisations.models import Organisation
from portal.people.models import Person
from portal.places.models import County
from portal.plans.models import ActionPlan
from portal.referrals.models import Referral
from portal.returns.models import ServiceReturn
from portal.safeguarding.models import SafeguardingConcern


@dataclass(frozen=True)
class NavEntry:
    text: str
    endpoint: str
    # (verb, model) pairs: shown to whoever may do any of them; none, to everyone signed in.
    for_those_who: tuple[tuple[str, Any], ...]
    # Endpoints whose pages belong under this entry, by prefix.
    section: str


NAVIGATION = (
    NavEntry("Home", "main.home", (), "main."),
    NavEntry(
        "Referrals",
        "referrals.index",
        (("create", Referral), ("send", Referral), ("answer", Referral), ("record_sessions", Referral)),
        "referrals.",
    ),
    NavEntry("Services", "services.directory", (("browse", Service),), "services."),
    NavEntry("My sessions", "delivery.my_sessions", (("record_sessions", Referral),), "delivery.my_sessions"),
    # Concerns are raised by the partner and acknowledged by the referrer, against deadlines.
    NavEntry(
        "Safeguarding",
        "safeguarding.index",
        (("raise_concern", Referral), ("acknowledge", SafeguardingConcern)),
        "safeguarding.",
    ),
    NavEntry("Plans", "plans.index", (("write_plan", Referral), ("decide", ActionPlan)), "plans."),
    NavEntry("Organisations", "organisations.index", (("list", Organisation),), "organisations."),
    NavEntry("Contracts", "contracts.index", (), "contracts."),
    # Those who bill and those who pay; others reach an invoice by a link, read-only.
    NavEntry("Invoices", "invoicing.index", (("bill", Invoice), ("decide", Invoice)), "invoicing."),
    NavEntry("Dashboard", "dashboards.index", (("see_figures", Contract),), "dashboards."),
    NavEntry("Service returns", "returns.index", (("see", ServiceReturn),), "returns."),
    NavEntry("Users", "accounts.users", (("manage", User),), "accounts.user"),
    NavEntry("Places", "places.index", (("manage", County),), "places."),
    NavEntry("Audit log", "audit.index", (("read", AuditEvent),), "audit."),
    NavEntry("People", "people.index", (("subject_access", Person),), "people."),
)


def navigation_for(user: User) -> list[dict[str, object]]:
    """Items for the GOV.UK service navigation component."""
    if not getattr(user, "is_authenticated", False):
        return []
    endpoint = request.endpoint or ""
    return [
        {
            "text": entry.text,
            "href": url_for(entry.endpoint),
            "active": endpoint.startswith(entry.section) if entry.section != "main." else endpoint == "main.home",
        }
        for entry in NAVIGATION
        if not entry.for_those_who or access.can_any(user, *entry.for_those_who)
    ]
