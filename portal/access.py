"""The one place that decides what a user may see and do.

Every query for records that belong to an organisation starts from `visible(Model, user)`
or `get_visible_or_404(...)`; no view or API handler builds its own ownership filter.
A record a user may not see is reported as missing (404), never as forbidden, so its
existence does not leak. Permission to act (403) is decided by the `can_*` functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, false, select, true

from portal.accounts.models import CRC_ROLES, PARTNER_ROLES, ApiToken, Role, User
from portal.audit.models import AuditEvent
from portal.contracts.models import Contract, OutcomeType, RateCardItem, RateCardPrice
from portal.delivery.models import Alert, EndOfServiceReport, EvidenceFile, GroupSession, Outcome, Session
from portal.extensions import db
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceLine
from portal.organisations.models import Organisation, OrganisationKind
from portal.people.models import Person
from portal.referrals.models import CaseNote, Referral, ReferralEvent, ReferralImport, ReferralStatus
from portal.returns.models import ServiceReturn

M = TypeVar("M")

# model -> function(user) -> WHERE clause limiting that model to what the user may see
_VISIBILITY: dict[type, Callable[[User], ColumnElement[bool]]] = {}


def visibility_rule(model: type) -> Callable:
    def register(rule: Callable[[User], ColumnElement[bool]]) -> Callable:
        _VISIBILITY[model] = rule
        return rule

    return register


def visibility_clause(model: type, user: User) -> ColumnElement[bool]:
    """The WHERE clause limiting `model` to the rows `user` may see.

    A model with no rule is a programming error, not an open door.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return false()
    try:
        rule = _VISIBILITY[model]
    except KeyError as exc:  # pragma: no cover - caught by the access tests
        raise LookupError(f"no visibility rule for {model.__name__}") from exc
    return rule(user)


def visible(model: type[M], user: User) -> Select[tuple[M]]:
    """select(model) limited to what `user` may see; add filters, ordering and paging to it."""
    return select(model).where(visibility_clause(model, user))


def get_visible_or_404(model: type[M], key: Any, user: User, *, column: Any = None, options: Iterable[Any] = ()) -> M:
    """The record of `model` whose primary key (or `column`) equals `key`, if `user` may see it; else 404."""
    column = column if column is not None else model.id  # type: ignore[attr-defined]
    statement = visible(model, user).where(column == key).options(*options)
    record = db.session.scalars(statement).first()
    if record is None:
        abort(404)
    return record


# --- who sees what -------------------------------------------------------------------------


@visibility_rule(Organisation)
def _organisations(user: User) -> ColumnElement[bool]:
    if user.is_crc_user:
        return true()
    return Organisation.id == user.organisation_id


@visibility_rule(User)
def _users(user: User) -> ColumnElement[bool]:
    if user.is_crc_user:
        return true()
    return User.organisation_id == user.organisation_id


@visibility_rule(Contract)
def _contracts(user: User) -> ColumnElement[bool]:
    if user.is_crc_user:
        return Contract.crc_id == user.organisation_id
    return Contract.partner_id == user.organisation_id


def _visible_contract_ids(user: User) -> Select[tuple[int]]:
    return select(Contract.id).where(_contracts(user))


@visibility_rule(RateCardItem)
def _rate_card_items(user: User) -> ColumnElement[bool]:
    return RateCardItem.contract_id.in_(_visible_contract_ids(user))


@visibility_rule(OutcomeType)
def _outcome_types(user: User) -> ColumnElement[bool]:
    return OutcomeType.contract_id.in_(_visible_contract_ids(user))


@visibility_rule(RateCardPrice)
def _rate_card_prices(user: User) -> ColumnElement[bool]:
    return RateCardPrice.item_id.in_(select(RateCardItem.id).where(_rate_card_items(user)))


@visibility_rule(Referral)
def _referrals(user: User) -> ColumnElement[bool]:
    """The CRC sees its own referrals (drafts too); a partner sees sent referrals on its contracts."""
    if user.is_crc_user:
        return Referral.crc_id == user.organisation_id
    return and_(
        Referral.contract_id.in_(select(Contract.id).where(Contract.partner_id == user.organisation_id)),
        Referral.status != ReferralStatus.DRAFT,
    )


def visible_referral_ids(user: User) -> Select[tuple[int]]:
    return select(Referral.id).where(_referrals(user))


@visibility_rule(Person)
def _people(user: User) -> ColumnElement[bool]:
    if user.is_crc_user:
        return true()
    return Person.id.in_(select(Referral.person_id).where(_referrals(user)))


@visibility_rule(ReferralEvent)
def _referral_events(user: User) -> ColumnElement[bool]:
    return ReferralEvent.referral_id.in_(visible_referral_ids(user))


@visibility_rule(CaseNote)
def _case_notes(user: User) -> ColumnElement[bool]:
    return CaseNote.referral_id.in_(visible_referral_ids(user))


@visibility_rule(Session)
def _sessions(user: User) -> ColumnElement[bool]:
    return Session.referral_id.in_(visible_referral_ids(user))


@visibility_rule(GroupSession)
def _group_sessions(user: User) -> ColumnElement[bool]:
    return GroupSession.contract_id.in_(_visible_contract_ids(user))


@visibility_rule(Outcome)
def _outcomes(user: User) -> ColumnElement[bool]:
    return Outcome.referral_id.in_(visible_referral_ids(user))


@visibility_rule(EvidenceFile)
def _evidence_files(user: User) -> ColumnElement[bool]:
    return EvidenceFile.outcome_id.in_(select(Outcome.id).where(_outcomes(user)))


@visibility_rule(Alert)
def _alerts(user: User) -> ColumnElement[bool]:
    return Alert.referral_id.in_(visible_referral_ids(user))


@visibility_rule(EndOfServiceReport)
def _end_of_service_reports(user: User) -> ColumnElement[bool]:
    return EndOfServiceReport.referral_id.in_(visible_referral_ids(user))


@visibility_rule(Invoice)
def _invoices(user: User) -> ColumnElement[bool]:
    """The CRC sees its contracts' invoices (drafts too, to approve an excess over the cap); a
    partner sees its own."""
    if user.is_crc_user:
        return Invoice.contract_id.in_(_visible_contract_ids(user))
    return Invoice.partner_id == user.organisation_id


@visibility_rule(InvoiceLine)
def _invoice_lines(user: User) -> ColumnElement[bool]:
    return InvoiceLine.invoice_id.in_(select(Invoice.id).where(_invoices(user)))


@visibility_rule(InvoiceEvent)
def _invoice_events(user: User) -> ColumnElement[bool]:
    return InvoiceEvent.invoice_id.in_(select(Invoice.id).where(_invoices(user)))


@visibility_rule(ServiceReturn)
def _service_returns(user: User) -> ColumnElement[bool]:
    """Partners see their own contracts' returns (drafts too); the CRC its contracts' returns."""
    return ServiceReturn.contract_id.in_(_visible_contract_ids(user))


@visibility_rule(ReferralImport)
def _referral_imports(user: User) -> ColumnElement[bool]:
    """An imported file is seen only by the person who uploaded it."""
    return ReferralImport.created_by_id == user.id if can_import_referrals(user) else false()


@visibility_rule(ApiToken)
def _api_tokens(user: User) -> ColumnElement[bool]:
    """People see their own API tokens; administrators see everyone's, to revoke them."""
    return true() if user.role == Role.ADMIN else ApiToken.user_id == user.id


@visibility_rule(AuditEvent)
def _audit_events(user: User) -> ColumnElement[bool]:
    return true() if user.role == Role.ADMIN else false()


# --- who may do what -----------------------------------------------------------------------


def can_manage_users(user: User) -> bool:
    """May see the user administration pages at all."""
    return user.role in (Role.ADMIN, Role.PROVIDER_MANAGER)


def can_manage_user(actor: User, target: User) -> bool:
    """Admins manage everyone; partner managers manage their own organisation's partner users."""
    if actor.role == Role.ADMIN:
        return True
    if actor.role == Role.PROVIDER_MANAGER:
        return target.organisation_id == actor.organisation_id and target.role in PARTNER_ROLES
    return False


def assignable_roles(actor: User, organisation: Organisation) -> list[Role]:
    """The roles `actor` may give a user of `organisation` (empty: may not add users there)."""
    kind_roles = PARTNER_ROLES if organisation.kind == OrganisationKind.PARTNER else CRC_ROLES
    if actor.role == Role.ADMIN:
        allowed = kind_roles
    elif actor.role == Role.PROVIDER_MANAGER and organisation.id == actor.organisation_id:
        allowed = PARTNER_ROLES
    else:
        allowed = frozenset()
    return [role for role in Role if role in allowed]


def organisations_for_user_admin(actor: User) -> Select[tuple[Organisation]]:
    """Organisations `actor` may add users to."""
    if actor.role == Role.ADMIN:
        return select(Organisation).order_by(Organisation.kind, Organisation.name)
    return select(Organisation).where(Organisation.id == actor.organisation_id)


def can_manage_contracts(user: User) -> bool:
    """Contract managers set up contracts and rate cards (for their own CRC's contracts)."""
    return user.role == Role.CONTRACT_MANAGER


def can_manage_partners(user: User) -> bool:
    """Contract managers add and edit the partner organisations in the supply chain."""
    return user.role == Role.CONTRACT_MANAGER


def can_refer(user: User) -> bool:
    """CRC referrers create, amend and withdraw referrals."""
    return user.role == Role.CRC_REFERRER


def can_import_referrals(user: User) -> bool:
    return user.role in (Role.CRC_REFERRER, Role.CONTRACT_MANAGER)


def can_respond_to_referrals(user: User) -> bool:
    """Partner managers accept, decline and assign (on their own organisation's contracts)."""
    return user.role == Role.PROVIDER_MANAGER


def can_record_delivery(user: User) -> bool:
    """Partner caseworkers and managers record sessions and claim outcomes (on their own referrals)."""
    return user.role in PARTNER_ROLES


def can_acknowledge_alerts(user: User) -> bool:
    """Referrers decide on enforcement, so they (not managers) take an alert off their list."""
    return user.role == Role.CRC_REFERRER


def can_verify_outcomes(user: User) -> bool:
    return user.role in (Role.CRC_REFERRER, Role.CONTRACT_MANAGER)


def can_bill(user: User) -> bool:
    """Partner managers generate and submit their organisation's invoices."""
    return user.role == Role.PROVIDER_MANAGER


def can_decide_invoices(user: User) -> bool:
    return user.role == Role.CONTRACT_MANAGER


def can_see_api_tokens_of(actor: User, user: User) -> bool:
    """People see their own API tokens; administrators see anyone's (on the user's page)."""
    return actor.role == Role.ADMIN or actor.id == user.id


def can_revoke_api_token(actor: User, token: ApiToken) -> bool:
    """A token's owner revokes it; administrators revoke anyone's."""
    return actor.role == Role.ADMIN or token.user_id == actor.id


def can_write_returns(user: User) -> bool:
    """Partner managers create, write and submit their organisation's service returns."""
    return user.role == Role.PROVIDER_MANAGER


def can_decide_returns(user: User) -> bool:
    """Contract managers accept service returns or send them back."""
    return user.role == Role.CONTRACT_MANAGER


def can_see_returns(user: User) -> bool:
    return user.role in (Role.PROVIDER_MANAGER, Role.CONTRACT_MANAGER)


def can_see_dashboard(user: User) -> bool:
    """Management information: contract managers across partners, partner managers their own."""
    return user.role in (Role.PROVIDER_MANAGER, Role.CONTRACT_MANAGER)


def can_read_audit_log(user: User) -> bool:
    return user.role == Role.ADMIN


def roles_required(*roles: Role) -> Callable:
    """View decorator: signed in with one of `roles`, else 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from portal.extensions import login_manager

                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
