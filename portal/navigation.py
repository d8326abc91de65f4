"""The service navigation each role sees. Later domains add their entries here."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

from portal.accounts.models import Role, User


@dataclass(frozen=True)
class NavEntry:
    text: str
    endpoint: str
    roles: frozenset[Role]
    # Endpoints whose pages belong under this entry, by prefix.
    section: str


ALL_ROLES = frozenset(Role)

NAVIGATION = (
    NavEntry("Home", "main.home", ALL_ROLES, "main."),
    NavEntry(
        "Referrals",
        "referrals.index",
        frozenset({Role.CRC_REFERRER, Role.CONTRACT_MANAGER, Role.PROVIDER_MANAGER, Role.PROVIDER_CASEWORKER}),
        "referrals.",
    ),
    NavEntry(
        "My sessions",
        "delivery.my_sessions",
        frozenset({Role.PROVIDER_CASEWORKER, Role.PROVIDER_MANAGER}),
        "delivery.my_sessions",
    ),
    NavEntry(
        "Organisations",
        "organisations.index",
        frozenset({Role.CONTRACT_MANAGER, Role.ADMIN, Role.CRC_REFERRER}),
        "organisations.",
    ),
    NavEntry("Contracts", "contracts.index", ALL_ROLES, "contracts."),
    # Those who bill and those who pay; others reach an invoice by a link, read-only.
    NavEntry("Invoices", "invoicing.index", frozenset({Role.PROVIDER_MANAGER, Role.CONTRACT_MANAGER}), "invoicing."),
    NavEntry("Dashboard", "dashboards.index", frozenset({Role.CONTRACT_MANAGER, Role.PROVIDER_MANAGER}), "dashboards."),
    NavEntry("Service returns", "returns.index", frozenset({Role.CONTRACT_MANAGER, Role.PROVIDER_MANAGER}), "returns."),
    NavEntry("Users", "accounts.users", frozenset({Role.ADMIN, Role.PROVIDER_MANAGER}), "accounts.user"),
    NavEntry("Audit log", "audit.index", frozenset({Role.ADMIN}), "audit."),
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
        if user.role in entry.roles
    ]
