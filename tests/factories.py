"""factory_boy factories: records built the way the portal would build them.

Records that move through states have a trait per state (`SessionFactory(missed=True)`,
`OutcomeFactory(verified=True)`, `InvoiceFactory(paid=True)`, `ServiceReturnFactory(submitted=True)`)
that sets the status with the stamps the portal would have written beside it, so a test never
writes `.status` by hand. Dates default to days relative to the suite's clock (yesterday, the last
month), never a date fixed at import.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.accounts.passwords import hash_password
from portal.contracts.models import (
    Contract,
    ContractStatus,
    ContractTier,
    OutcomeType,
    Pathway,
    RateCardItem,
    RateCardPrice,
    Setting,
    Unit,
)
from portal.dates import Period, PeriodKind, add_months, financial_year_start, london_today, month_end
from portal.db import utcnow
from portal.delivery.models import (
    Alert,
    AlertKind,
    Attendance,
    EvidenceFile,
    NonAttendanceReason,
    Outcome,
    OutcomeStatus,
    Session,
    SessionKind,
)
from portal.extensions import db
from portal.invoicing.billing import totals
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceKind, InvoiceLine, InvoiceStatus
from portal.organisations.models import Organisation, OrganisationKind, Tier
from portal.people.models import Disability, Gender, Person
from portal.places.models import County, Prison
from portal.referrals.models import Complexity, LocationType, Referral, ReferralStatus, RoshLevel
from portal.returns.models import ReturnStatus, ServiceReturn
from portal.returns.records import figures_for
from portal.working_days import add_working_days

PASSWORD = "correct-horse-battery-staple"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class CrcFactory(BaseFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Test CRC {n}")
    kind = OrganisationKind.CRC
    tier = None

    @factory.post_generation
    def places(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]  # noqa: N805
        """BeNCH's counties, prisons and probation offices (CrcFactory(places=False): none)."""
        if create and extracted is not False:
            from portal.places.bench import load_bench_places

            load_bench_places(obj.id)


class PartnerFactory(BaseFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Partner Charity {n}")
    kind = OrganisationKind.PARTNER
    tier = Tier.II
    charity_number = factory.Sequence(lambda n: f"{1100000 + n}")


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name", locale="en_GB")
    role = Role.PROVIDER_CASEWORKER
    active = True
    organisation = factory.SubFactory(PartnerFactory)
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD))

    class Params:
        invited = factory.Trait(password_hash=None)


class ContractFactory(BaseFactory):
    class Meta:
        model = Contract

    reference = factory.Sequence(lambda n: f"TEST-{n:03d}")
    title = factory.Sequence(lambda n: f"Test services {n}")
    crc = factory.SubFactory(CrcFactory)
    partner = factory.SubFactory(PartnerFactory)
    tier = ContractTier.SUBCONTRACT
    status = ContractStatus.ACTIVE
    # Running from 1 April at least six months ago for two years: stories record work weeks back.
    start_date = factory.LazyFunction(lambda: financial_year_start(london_today() - timedelta(days=183)))
    end_date = factory.LazyAttribute(lambda c: c.start_date.replace(year=c.start_date.year + 2) - timedelta(days=1))
    value_cap_pence = 25_000_000
    vat_rate_bp = 0
    payment_terms_days = 30
    accept_sla_working_days = 2
    first_contact_sla_working_days = 5

    @factory.post_generation
    def counties(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]  # noqa: N805
        """ContractFactory(counties=["Hertfordshire"]): the CRC's counties by name (default Bedfordshire)."""
        if create:
            obj.counties = places_named(County, obj.crc_id, ["Bedfordshire"] if extracted is None else extracted)
            db.session.commit()

    @factory.post_generation
    def prisons(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]  # noqa: N805
        """ContractFactory(prisons=["HMP Bedford"]): the CRC's prisons by name (default none)."""
        if create:
            obj.prisons = places_named(Prison, obj.crc_id, extracted or [])
            db.session.commit()


def places_named(model: type, crc_id: int, names: list) -> list:
    """The CRC's places of `model` with these names (records pass as they are); a name the CRC
    lacks (a CRC made with places=False) is added to its list, as the migration keeps one."""
    found = []
    for name in names:
        if not isinstance(name, str):
            found.append(name)
            continue
        place = db.session.scalars(select(model).where(model.crc_id == crc_id, model.name == name)).first()
        if place is None:
            place = model(crc_id=crc_id, name=name)
            db.session.add(place)
        found.append(place)
    return found


class OutcomeTypeFactory(BaseFactory):
    class Meta:
        model = OutcomeType

    contract = factory.SubFactory(ContractFactory)
    code = factory.Sequence(lambda n: f"outcome_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").capitalize())
    pathway = Pathway.ACCOMMODATION
    active = True


class RateCardItemFactory(BaseFactory):
    class Meta:
        model = RateCardItem

    contract = factory.SubFactory(ContractFactory)
    code = factory.Sequence(lambda n: f"ITEM-{n:03d}")
    service_code = "SERVICE-A"
    name = factory.Sequence(lambda n: f"Service item {n}")
    pathway = Pathway.ACCOMMODATION
    setting = Setting.BOTH
    unit = Unit.PER_SESSION
    outcome_type = None
    max_units_per_referral = None
    active = True


class RateCardPriceFactory(BaseFactory):
    class Meta:
        model = RateCardPrice

    item = factory.SubFactory(RateCardItemFactory)
    unit_price_pence = 5000
    effective_from = factory.LazyAttribute(lambda p: p.item.contract.start_date)
    effective_to = None


def _the_crc() -> Organisation:
    """The CRC of the story (most have one); a new one if there is none yet."""
    crcs = db.session.scalars(select(Organisation).where(Organisation.kind == OrganisationKind.CRC)).all()
    return crcs[0] if len(crcs) == 1 else CrcFactory()


class PersonFactory(BaseFactory):
    class Meta:
        model = Person

    crc_id = factory.LazyFunction(lambda: _the_crc().id)
    crn = factory.Sequence(lambda n: f"X{100000 + n}")
    given_name = factory.Faker("first_name", locale="en_GB")
    family_name = factory.Faker("last_name", locale="en_GB")
    date_of_birth = date(1988, 6, 15)
    gender = Gender.MALE
    ethnicity = "white_british"
    disability = Disability.NO
    prison_number = None
    interpreter_language = None


class ReferralFactory(BaseFactory):
    """A referral already sent (give status= for others); contract and service must be given."""

    class Meta:
        model = Referral

    reference = factory.Sequence(lambda n: f"AB{1000 + n:04d}CD")
    status = ReferralStatus.SENT
    contract = factory.SubFactory(ContractFactory)
    crc_id = factory.LazyAttribute(lambda o: o.contract.crc_id)
    service_code = "SERVICE-A"
    person = factory.SubFactory(PersonFactory, crc_id=factory.SelfAttribute("..crc_id"))
    referrer = factory.SubFactory(
        UserFactory, role=Role.CRC_REFERRER, organisation=factory.SelfAttribute("..contract.crc")
    )
    location_type = LocationType.COMMUNITY
    community_office = "Bedford probation office"
    postcode = "MK40 1QJ"
    rosh_level = RoshLevel.MEDIUM
    risk_flags = factory.LazyFunction(lambda: ["domestic_abuse"])
    risk_summary = "Known history of domestic abuse towards a former partner. Do not meet at home."
    complexity = Complexity.MEDIUM
    desired_outcomes = factory.LazyFunction(lambda: ["Find settled accommodation"])
    reason = "Homeless on release and needs support to find accommodation."
    rar_days = 10
    sentence_end_date = factory.LazyFunction(lambda: london_today() + timedelta(days=365))
    urgent = False
    sent_at = factory.LazyFunction(utcnow)
    accept_due_on = factory.LazyFunction(lambda: add_working_days(london_today(), 2))

    class Params:
        # Accepted (waiting for first contact) and in progress, with the stamps the portal writes.
        # Sent a day before it was accepted, 30 days ago: a referral is never accepted before it is sent.
        accepted = factory.Trait(
            status=ReferralStatus.ACCEPTED,
            sent_at=factory.LazyFunction(lambda: utcnow() - timedelta(days=31)),
            accepted_at=factory.LazyFunction(lambda: utcnow() - timedelta(days=30)),
            first_contact_due_on=factory.LazyFunction(lambda: london_today() + timedelta(days=7)),
        )
        in_progress = factory.Trait(
            accepted=True,
            status=ReferralStatus.IN_PROGRESS,
            first_contact_at=factory.LazyFunction(lambda: utcnow() - timedelta(days=20)),
        )
        draft = factory.Trait(status=ReferralStatus.DRAFT, reference=None, sent_at=None, accept_due_on=None)


def _yesterday() -> date:
    return london_today() - timedelta(days=1)


def _last_month() -> date:
    return add_months(london_today(), -1)


class SessionFactory(BaseFactory):
    """A one-to-one hour, attended yesterday, on an accepted referral, recorded by the partner's caseworker."""

    class Meta:
        model = Session

    referral = factory.SubFactory(ReferralFactory, in_progress=True)
    date = factory.LazyFunction(_yesterday)
    start_time = time(10)
    duration_minutes = 60
    kind = SessionKind.ONE_TO_ONE
    attendance = Attendance.ATTENDED
    counts_as_rar_day = False
    recorded_by = factory.SubFactory(
        UserFactory, role=Role.PROVIDER_CASEWORKER, organisation=factory.SelfAttribute("..referral.contract.partner")
    )
    feedback_at = factory.LazyFunction(utcnow)

    class Params:
        scheduled = factory.Trait(
            attendance=None, feedback_at=None, date=factory.LazyFunction(lambda: london_today() + timedelta(days=7))
        )
        late = factory.Trait(attendance=Attendance.LATE)
        missed = factory.Trait(
            attendance=Attendance.DID_NOT_ATTEND, non_attendance_reason=NonAttendanceReason.UNACCEPTABLE
        )
        rar_day = factory.Trait(counts_as_rar_day=True)


class AlertFactory(BaseFactory):
    """A behaviour concern raised on a session, waiting for the referrer."""

    class Meta:
        model = Alert
        exclude = ("session",)

    session = factory.SubFactory(SessionFactory)
    referral_id = factory.SelfAttribute("session.referral_id")
    session_id = factory.SelfAttribute("session.id")
    kind = AlertKind.BEHAVIOUR_CONCERN
    detail = "Raised his voice at reception."
    raised_by_id = factory.SelfAttribute("session.recorded_by_id")


class OutcomeFactory(BaseFactory):
    """An outcome claimed yesterday on an accepted referral, waiting for the CRC's decision."""

    class Meta:
        model = Outcome

    referral = factory.SubFactory(ReferralFactory, in_progress=True)
    outcome_type = factory.SubFactory(OutcomeTypeFactory, contract=factory.SelfAttribute("..referral.contract"))
    achieved_on = factory.LazyFunction(_yesterday)
    evidence = "Tenancy agreement seen."
    status = OutcomeStatus.CLAIMED
    claimed_by = factory.SubFactory(
        UserFactory, role=Role.PROVIDER_CASEWORKER, organisation=factory.SelfAttribute("..referral.contract.partner")
    )

    class Params:
        verified = factory.Trait(
            status=OutcomeStatus.VERIFIED,
            verified_at=factory.LazyFunction(utcnow),
            verified_by_id=factory.SelfAttribute("referral.referrer_id"),
        )
        rejected = factory.Trait(
            status=OutcomeStatus.REJECTED,
            rejected_at=factory.LazyFunction(utcnow),
            rejected_by_id=factory.SelfAttribute("referral.referrer_id"),
            rejection_reason="The tenancy agreement was not signed.",
        )


class EvidenceFileFactory(BaseFactory):
    """A file's record (the file itself is not written: tests that serve one store it themselves)."""

    class Meta:
        model = EvidenceFile

    outcome = factory.SubFactory(OutcomeFactory)
    original_name = "payslip.pdf"
    stored_name = factory.Sequence(lambda n: f"{n:032x}.pdf")
    content_type = "application/pdf"
    size_bytes = 10
    sha256 = "0" * 64
    uploaded_by_id = factory.SelfAttribute("outcome.claimed_by_id")


class InvoiceLineFactory(BaseFactory):
    """One line: a rate-card item at its price, `quantity_hundredths` of it."""

    class Meta:
        model = InvoiceLine
        exclude = ("invoice", "item", "price")

    invoice = None  # given by InvoiceFactory
    position = factory.Sequence(lambda n: n + 1)
    item = factory.SubFactory(
        RateCardItemFactory,
        contract=factory.LazyAttribute(lambda o: db.session.get(Contract, o.factory_parent.invoice.contract_id)),
    )
    price = factory.SubFactory(RateCardPriceFactory, item=factory.SelfAttribute("..item"))
    invoice_id = factory.SelfAttribute("invoice.id")
    item_id = factory.SelfAttribute("item.id")
    # `price=None` for a line whose price is not on the rate card (an adjustment, or a line staged
    # before its item had prices): giving the item a price would change what later drafts bill.
    price_id = factory.LazyAttribute(lambda line: line.price.id if line.price else None)
    item_code = factory.SelfAttribute("item.code")
    service_code = factory.SelfAttribute("item.service_code")
    description = factory.SelfAttribute("item.name")
    unit = factory.SelfAttribute("item.unit")
    quantity_hundredths = 100
    unit_price_pence = factory.LazyAttribute(lambda line: line.price.unit_price_pence if line.price else 0)
    amount_pence = factory.LazyAttribute(lambda line: line.quantity_hundredths * line.unit_price_pence // 100)
    event_count = factory.LazyAttribute(lambda line: line.quantity_hundredths // 100)


class InvoiceFactory(BaseFactory):
    """Last month's draft invoice for a contract, with one line (`lines=N` for more, 0 for none);
    its totals are its lines' (VAT at the invoice's rate). Traits give the later states."""

    class Meta:
        model = Invoice

    contract = factory.SubFactory(ContractFactory)
    partner_id = factory.SelfAttribute("contract.partner_id")
    kind = InvoiceKind.INVOICE
    period_start = factory.LazyFunction(_last_month)
    status = InvoiceStatus.DRAFT
    vat_rate_bp = factory.SelfAttribute("contract.vat_rate_bp")

    class Params:
        submitted = factory.Trait(
            status=InvoiceStatus.SUBMITTED,
            number=factory.Sequence(lambda n: f"TEST-{n + 1:06d}"),
            submitted_at=factory.LazyFunction(utcnow),
            received_on=factory.LazyFunction(london_today),
            due_date=factory.LazyAttribute(lambda o: london_today() + timedelta(days=o.contract.payment_terms_days)),
        )
        queried = factory.Trait(
            submitted=True,
            status=InvoiceStatus.QUERIED,
            queried_at=factory.LazyFunction(utcnow),
            query_reason="Check the hours on line 1.",
        )
        approved = factory.Trait(
            submitted=True, status=InvoiceStatus.APPROVED, approved_at=factory.LazyFunction(utcnow)
        )
        paid = factory.Trait(
            approved=True,
            status=InvoiceStatus.PAID,
            paid_at=factory.LazyFunction(utcnow),
            paid_on=factory.LazyFunction(london_today),
            payment_reference="BACS 000001",
            days_to_pay=0,
            paid_late=False,
        )
        rejected = factory.Trait(
            submitted=True,
            status=InvoiceStatus.REJECTED,
            rejected_at=factory.LazyFunction(utcnow),
            rejection_reason="Not our contract's work.",
        )
        overdue = factory.Trait(
            submitted=True,
            submitted_at=factory.LazyFunction(lambda: utcnow() - timedelta(days=60)),
            due_date=factory.LazyFunction(lambda: london_today() - timedelta(days=30)),
        )

    @factory.post_generation
    def lines(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        """Add the invoice's lines (`lines=2`; `lines__quantity_hundredths=250`) and set its totals from them."""
        if not create:
            return
        count = 1 if extracted is None else extracted
        made = [InvoiceLineFactory(invoice=self, position=position, **kwargs) for position in range(1, count + 1)]
        self.subtotal_pence, self.vat_pence, self.total_pence = totals(
            [line.amount_pence for line in made], self.vat_rate_bp
        )
        db.session.commit()


class InvoiceEventFactory(BaseFactory):
    """One billed event (`event_key` such as "session:12") frozen on an invoice line, live."""

    class Meta:
        model = InvoiceEvent
        exclude = ("line",)

    line = factory.SubFactory(InvoiceLineFactory, invoice=factory.SubFactory(InvoiceFactory, lines=0))
    invoice_id = factory.SelfAttribute("line.invoice_id")
    line_id = factory.SelfAttribute("line.id")
    item_id = factory.SelfAttribute("line.item_id")
    event_key = factory.Sequence(lambda n: f"session:{n + 1}")
    event_date = factory.LazyFunction(_last_month)
    live = True


class ServiceReturnFactory(BaseFactory):
    """A draft monthly return for last month; traits for submitted (figures frozen), returned, accepted."""

    class Meta:
        model = ServiceReturn

    contract = factory.SubFactory(ContractFactory)
    period_kind = PeriodKind.MONTH
    period_start = factory.LazyFunction(_last_month)
    period_end = factory.LazyAttribute(lambda o: month_end(o.period_start))
    status = ReturnStatus.DRAFT
    created_by = factory.SubFactory(
        UserFactory, role=Role.PROVIDER_MANAGER, organisation=factory.SelfAttribute("..contract.partner")
    )

    class Params:
        submitted = factory.Trait(
            status=ReturnStatus.SUBMITTED,
            submitted_at=factory.LazyFunction(utcnow),
            submitted_by_id=factory.SelfAttribute("created_by.id"),
            kpis=factory.LazyAttribute(
                lambda o: figures_for(o.contract, Period(o.period_kind, o.period_start), today=london_today())
            ),
        )
        returned = factory.Trait(
            submitted=True,
            status=ReturnStatus.RETURNED,
            returned_at=factory.LazyFunction(utcnow),
            return_reason="Say more about the case study.",
        )
        accepted = factory.Trait(submitted=True, status=ReturnStatus.ACCEPTED, accepted_at=factory.LazyFunction(utcnow))
