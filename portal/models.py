"""Imports every model, so SQLAlchemy's mapper and Alembic's autogenerate see all tables."""

import portal.contracts.services  # noqa: F401 - every rate-card item's service code names a service
from portal.accounts.models import ApiToken, User  # noqa: F401
from portal.api.models import IdempotencyRecord  # noqa: F401
from portal.audit.models import AuditEvent  # noqa: F401
from portal.contracts.models import Contract, OutcomeType, RateCardItem, RateCardPrice, Service  # noqa: F401
from portal.delivery.models import (  # noqa: F401
    Alert,
    EndOfServiceReport,
    EvidenceFile,
    GroupSession,
    Outcome,
    Session,
    SessionReschedule,
)
from portal.figure_cache import FiguresStamp  # noqa: F401 - renewed by the database when figures change
from portal.figure_indexes import FIGURE_INDEXES  # noqa: F401 - what the dashboard's figures read
from portal.grants.models import ExpectedStarts, GrantActivity, GrantInstalment, SpendProfile  # noqa: F401
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceLine, InvoiceMessage, InvoiceSequence  # noqa: F401
from portal.list_indexes import LIST_INDEXES  # noqa: F401 - each list's order as an index
from portal.notifications.models import DigestItem, OutboundEmail  # noqa: F401
from portal.organisations.models import Organisation  # noqa: F401
from portal.people.models import Person  # noqa: F401
from portal.places.models import County, Prison, ProbationOffice  # noqa: F401
from portal.plans.models import ActionPlan, ActionPlanVersion, ProgressReview  # noqa: F401
from portal.referrals.models import CaseNote, Referral, ReferralEvent, ReferralImport  # noqa: F401
from portal.remittance.models import BankDetailsChange, PurchaseOrder, RemittanceDetails  # noqa: F401
from portal.returns.models import ServiceReturn  # noqa: F401
from portal.safeguarding.models import RiskSummary, SafeguardingConcern  # noqa: F401
from portal.ttg.models import ReleaseRecord  # noqa: F401
