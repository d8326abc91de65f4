"""The demo history: a year of referrals, sessions, outcomes and invoices on the active demo
contracts, made by the same service functions the pages call, on the days they happened.

The clock walks forward (time-machine, not ticking) through one queue of dated actions: each
action travels to its moment, calls one operation as the user who would have done it, and
queues what follows from it (an accepted referral books its first session, a session's absence
alerts the referrer, a month's end brings its invoice). So every record is validated and audited
as real work is, with the times and SLA clocks it would have had. A fixed seed makes the same
history on every load (dates are relative to the day it is loaded).
"""

from __future__ import annotations

import heapq
import random
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from unittest import mock

import time_machine
from flask import current_app
from sqlalchemy import exists, func, select, text

from portal.accounts.models import Role, User
from portal.contracts.models import Contract, ContractStatus, OutcomeType, RateCardItem, Service, Setting, Unit
from portal.dates import Period, add_months, london_day
from portal.delivery import alerts, end_of_service, outcome_rules, outcomes, sessions
from portal.delivery.models import Alert, Outcome, Session
from portal.demo import grants as demo_grants
from portal.demo import remittance as demo_remittance
from portal.demo import returns as demo_returns
from portal.demo.people import PeopleMaker, office_and_postcode, phone
from portal.demo.safeguarding import ALERT_DAYS, working_morning
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import LONDON
from portal.invoicing import service as invoicing
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceKind, InvoiceLine, InvoiceStatus
from portal.notifications.service import deliver_queued
from portal.referrals import service as referrals
from portal.referrals.models import DeclineReason, Referral, ReferralStatus, WithdrawReason
from portal.returns.models import ServiceReturn
from portal.working_days import add_working_days, is_working_day

SEED = 20250401
HISTORY_DAYS = 365
DELIVERING = (ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS)


@dataclass(frozen=True)
class GroupPlan:
    """A contract's weekly group: its service, title, day of the week (0 = Monday) and time."""

    service_code: str
    title: str
    weekday: int
    start: time
    minutes: int
    weeks: int  # how long a person stays in the group


@dataclass(frozen=True)
class ContractPlan:
    referrals: int
    offices: tuple[str, ...] = ()  # the probation offices its community cases report to, if not all
    gender: str | None = None  # a women's or men's service
    rar: bool = False  # its sessions can count as RAR days
    group: GroupPlan | None = None


CONTRACT_PLANS = {
    "BENCH-ACC-01": ContractPlan(34),
    "BENCH-ACC-02": ContractPlan(34),
    "BENCH-ACC-03": ContractPlan(
        30, group=GroupPlan("ACC-HRT", "Tenancy-ready workshop", 2, time(10, 0), 120, weeks=4)
    ),
    "BENCH-ETE-01": ContractPlan(38),
    "BENCH-ETE-02": ContractPlan(30),
    "BENCH-DV-01": ContractPlan(
        36,
        gender="male",
        rar=True,
        group=GroupPlan("DV-PROG", "Building better relationships", 1, time(18, 0), 150, weeks=12),
    ),
    "BENCH-FAM-01": ContractPlan(24),
    "BENCH-WOM-01": ContractPlan(
        20, offices=("Cambridge probation office", "Peterborough probation office"), gender="female", rar=True
    ),
    "BENCH-WOM-02": ContractPlan(
        18,
        offices=("Bedford probation office",),
        gender="female",
        rar=True,
        group=GroupPlan("WOM-BED", "Women's group: healthy relationships", 3, time(13, 0), 120, weeks=10),
    ),
    "BENCH-WOM-03": ContractPlan(18, offices=("Luton probation office",), gender="female", rar=True),
    "BENCH-MEN-01": ContractPlan(
        20, offices=("Stevenage probation office", "Peterborough probation office"), gender=None, rar=True
    ),
}

# Contracts a referrer has a referral half written for, at the end.
DRAFTS_ON = ("BENCH-ACC-02", "BENCH-ETE-02")

# Invoices that tell a story, by contract and by how many months before the latest submitted one
# (0 = the latest). Every other month is paid; the latest is approved, waiting for payment.
INVOICE_STORIES = {
    ("BENCH-ETE-01", 0): "submitted",
    ("BENCH-FAM-01", 0): "submitted",
    ("BENCH-ACC-02", 1): "queried",
    ("BENCH-DV-01", 2): "unpaid",  # approved, never paid: overdue
    ("BENCH-ACC-03", 4): "rejected",  # its work is billed again the month after
    ("BENCH-ACC-01", 5): "credited",  # paid, then a session on it credited
    ("BENCH-ETE-02", 5): "outcome_credited",  # paid, then an outcome credited: it is `credited`
    ("BENCH-MEN-01", 6): "rebilled",  # paid, then a line credited by the CRC to be billed again
    ("BENCH-ACC-01", 3): "held",  # queried, answered and resubmitted: its payment clock stopped meanwhile
    ("BENCH-ETE-02", 7): "late",  # paid well after its due date
    ("BENCH-MEN-01", 2): "late",
}

DESIRED_OUTCOMES = {
    "ACC": ("Somewhere safe to live on release", "Keep the tenancy going", "Get on the housing register"),
    "FBD": ("Benefits in payment", "A bank account", "A plan for rent arrears and debts"),
    "REL": ("A release plan agreed before release", "ID and a bank account ready for release"),
    "ETE": ("A job or training place", "A CV and interview practice", "Start a college course"),
    "DV": ("Understand the effect of abuse on a partner and children", "Safer ways to handle conflict"),
    "FAM": ("See the children again, safely", "Complete a parenting course", "Family relationships rebuilt"),
    "WOM": ("Feel safe at home", "Register with a GP", "Build confidence and a support network"),
    "MEN": ("Keep to licence conditions", "Someone to talk to after release", "Find a volunteering role"),
    "HSG": ("Somewhere to live",),
}
REASONS = {
    "ACC": "Leaving custody with no fixed address; previous tenancy lost through arrears.",
    "FBD": "Benefits stopped on sentence; debts to a payday lender and rent arrears.",
    "REL": "Serving a short sentence; needs a resettlement plan before release.",
    "ETE": "Out of work for two years; wants help into work or training.",
    "DV": "Convicted of assault on a partner; the court ordered a domestic abuse programme.",
    "FAM": "Wants to rebuild contact with his or her children; social care involved.",
    "WOM": "Referred to the women's centre for one-to-one support and groups.",
    "MEN": "Would benefit from a peer mentor with lived experience around release.",
}
RISK_SUMMARIES = {
    "domestic_abuse": "History of domestic abuse towards a former partner; police call-outs recorded.",
    "child_safeguarding": "Children's social care involved; contact with children is supervised.",
    "violence": "Previous conviction for violence in a public place, when drinking.",
    "self_harm": "History of self-harm in custody; an ACCT was opened last year and closed.",
    "arson": "An old conviction for arson (2015); no concerns since.",
    "sexual_offending": "Historic offence; no contact with under-18s is a licence condition.",
}
SESSION_NOTES = (
    "Went through the plan and agreed the next steps.",
    "Reviewed progress; actions agreed for next week.",
    "Filled in forms together and phoned the agencies.",
    "Talked through what went well and what was hard this week.",
    "Good engagement; arrived with the documents asked for.",
)
CONCERNS = (
    "Arrived smelling of alcohol and became verbally aggressive when asked about it.",
    "Made threatening remarks about an ex-partner during the session.",
    "Disclosed contact with a co-defendant, against licence conditions.",
)
NOTES = (
    "Spoke to the responsible officer: no change to the plan.",
    "Housing officer confirmed the application has been received.",
    "Person asked to move appointments to mornings because of a new job.",
    "Left a voicemail; will try again tomorrow.",
    "Checked the risk information with the responsible officer before the home visit.",
)


def moment(day: date, hour: int, minute: int = 0) -> datetime:
    """A London wall-clock time on `day`, as the aware UTC moment the services stamp."""
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def setup_moment(now: datetime, contracts_start: date) -> datetime:
    """When the demo supply chain was set up: four weeks before its contracts or its history began."""
    first = min(contracts_start, london_day(now) - timedelta(days=HISTORY_DAYS)) - timedelta(weeks=4)
    return moment(next_working_day(first), 9, 30)


# --- tiny evidence files, made here (valid enough for the content check and a viewer) -----------------


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x1d\x70\xb8" * 8 for _ in range(8))  # 8x8 GOV.UK blue
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def tiny_pdf(title: str) -> bytes:
    text = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 14 Tf 40 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- the actors -------------------------------------------------------------------------------------------


@dataclass
class Partner:
    manager: User
    caseworkers: list[User]


@dataclass
class Case:
    """One referral's story: what is decided up front, and the records as they are made."""

    contract: Contract
    plan: ContractPlan
    service_code: str
    referrer: User
    partner: Partner
    fields: dict[str, Any]
    fate: str
    custody: bool
    release: date | None
    referral: Referral | None = None
    caseworker: User | None = None
    group_from: date | None = None
    group_until: date | None = None
    booked: set[int] = field(default_factory=set)  # sessions booked ahead, not yet recorded


class _SeededReferences:
    """Stands in for `secrets` while the history loads, so referral references are the same on every
    load (a demo needs them repeatable; real referrals keep the unguessable ones)."""

    def __init__(self, rng: random.Random) -> None:
        self.choice = rng.choice


class History:
    """The queue of dated actions, the people acting, and what has been made (`counts`)."""

    def __init__(self, now: datetime) -> None:
        self.rng = random.Random(SEED)
        self.now = now
        self.today = london_day(now)
        self.start_day = self.today - timedelta(days=HISTORY_DAYS)
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = 0
        self.current = moment(self.start_day, 8)
        self.people = PeopleMaker(self.rng)
        self.cases: list[Case] = []
        self.drafts: list[Case] = []
        self.fresh_sent = False  # the referral sent on the last working day, not yet answered
        self.open_alerts: dict[int, int] = {}  # alert id -> referral id: left for the referrer
        self.groups: dict[int, list[Case]] = {}
        self.outcome_types: dict[int, dict[str, OutcomeType]] = {}
        # A transfer to the NPS comes from a safeguarding concern (the demo makes one), never at random.
        self.withdraw_reasons = [reason for reason in WithdrawReason if reason != WithdrawReason.TRANSFERRED_TO_NPS]
        self.decline_reasons = list(DeclineReason)
        self.counts: Counter[str] = Counter()
        self.held_stories: dict[int, str] = {}  # contract id -> an invoice story waiting for work to bill
        users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
        self.referrers = [u for u in users if u.role == Role.CRC_REFERRER]
        managers = [u for u in users if u.role == Role.CONTRACT_MANAGER]
        self.contract_manager, self.finance = managers[0], managers[-1]
        self.partners: dict[int, Partner] = {}
        for user in users:
            if user.role == Role.PROVIDER_MANAGER and user.organisation_id not in self.partners:
                self.partners[user.organisation_id] = Partner(user, [])
        for user in users:
            if user.role == Role.PROVIDER_CASEWORKER and user.has_password and user.organisation_id in self.partners:
                self.partners[user.organisation_id].caseworkers.append(user)

    # --- the clock ---------------------------------------------------------------------------------

    def at(self, when: datetime, action: Callable[..., None], *args: Any) -> None:
        """Queue `action(*args)` for `when` (never before the present); what falls after now never happens."""
        when = max(when, self.current)
        if when > self.now:
            return
        self.sequence += 1
        heapq.heappush(self.queue, (when, self.sequence, action, args))

    def run(self) -> None:
        with time_machine.travel(self.current, tick=False) as traveller:
            while self.queue:
                when, _, action, args = heapq.heappop(self.queue)
                self.current = when
                traveller.move_to(when)
                action(*args)
            traveller.move_to(self.now)
            self.current = self.now
            self.finish()

    def working_moment(self, day: date, first_hour: int = 9, last_hour: int = 16) -> datetime:
        day = next_working_day(day)
        return moment(day, self.rng.randint(first_hour, last_hour), self.rng.choice((0, 10, 20, 30, 40, 50)))

    def later(self, working_days: int, first_hour: int = 9, last_hour: int = 16) -> datetime:
        """A working-hours moment `working_days` after the present."""
        day = add_working_days(london_day(self.current), working_days) if working_days else london_day(self.current)
        when = self.working_moment(day, first_hour, last_hour)
        return when if when > self.current else self.current + timedelta(minutes=30)

    # --- planning ----------------------------------------------------------------------------------

    def plan(self) -> None:
        contracts = db.session.scalars(
            select(Contract).where(Contract.status == ContractStatus.ACTIVE).order_by(Contract.reference)
        ).all()
        for contract in contracts:
            self.outcome_types[contract.id] = {
                t.code: t
                for t in db.session.scalars(select(OutcomeType).where(OutcomeType.contract_id == contract.id)).all()
            }
            plan = CONTRACT_PLANS.get(contract.reference)
            first = max(self.start_day, contract.start_date)
            last = min(self.today, contract.end_date)
            if plan is not None and first < last:
                self._plan_referrals(contract, plan, first, last)
                if plan.group is not None:
                    self._plan_groups(contract, plan.group, first, last)
            if demo_grants.is_paid_by_schedule(contract):
                demo_grants.plan(self, contract)  # a grant: paid by its schedule, never invoiced
            else:
                self._plan_invoices(contract)
            self._plan_returns(contract)
        day = self.start_day
        while day <= self.today:
            if is_working_day(day):  # a weekend's few emails go out on Monday
                self.at(moment(day, 18, 0), self.deliver_outbox)
            day += timedelta(days=1)

    def deliver_outbox(self) -> None:
        """The day's emails, marked sent that evening (by the memory backend: see load_demo_history)."""
        self.counts["emails"] += deliver_queued(limit=10_000)

    def _services(self, contract: Contract) -> dict[str, set[Setting]]:
        """The contract's services open to referrals, by code, with where each works: from the
        service records, so a grant's services (which no rate-card item prices) get referrals too."""
        return {
            service.code: {service.setting}
            for service in db.session.scalars(
                select(Service).where(Service.contract_id == contract.id, Service.open_to_referrals.is_(True))
            )
        }

    def _plan_referrals(self, contract: Contract, plan: ContractPlan, first: date, last: date) -> None:
        rng = self.rng
        services = self._services(contract)
        codes = sorted(services)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        days = [day for day in days if is_working_day(day)]
        partner = self.partners[contract.partner_id]
        for index in range(plan.referrals + (1 if contract.reference in DRAFTS_ON else 0)):
            # The last few of each contract are recent, so every contract has work waiting.
            sent_day = days[-1 - rng.randint(0, 12)] if index < 2 else rng.choice(days)
            # Whatever the day, one referral waits for an answer not yet due: the first contract's
            # first, sent on the last working day before today (its answer is due a working day or
            # more after that: today at the earliest).
            earlier = [day for day in days if day < self.today]
            fresh = index == 0 and earlier and not self.fresh_sent
            if fresh:
                sent_day, self.fresh_sent = earlier[-1], True
            code = codes[index % len(codes)] if index < len(codes) else rng.choice(codes)
            settings = services[code]
            can_custody = bool(contract.prison_names) and (Setting.COMMUNITY not in settings or len(settings) > 1)
            can_community = bool(contract.county_names) and (Setting.CUSTODY not in settings or len(settings) > 1)
            if not (can_custody or can_community):
                can_custody, can_community = bool(contract.prison_names), bool(contract.county_names)
            custody = can_custody and (not can_community or rng.random() < 0.5)
            prison = rng.choice(contract.prison_names) if custody else None
            gender = plan.gender or rng.choices(("male", "female", "other", "not_stated"), (82, 16, 1, 1))[0]
            if prison == "HMP Peterborough (female)":
                gender = "female"
            elif prison:
                gender = "male" if plan.gender != "female" else gender
            person = self.people.person(gender=gender, in_custody=custody, today=sent_day)
            case = self._case(contract, plan, code, partner, person.fields(), custody, prison, sent_day)
            if fresh:
                case.fate = "unanswered"
            if index == plan.referrals:
                self.drafts.append(case)  # not sent yet: still being written
                continue
            self.cases.append(case)
            self.at(self.working_moment(sent_day), self.send, case)

    def _case(
        self,
        contract: Contract,
        plan: ContractPlan,
        code: str,
        partner: Partner,
        person: dict[str, Any],
        custody: bool,
        prison: str | None,
        sent_day: date,
    ) -> Case:
        rng = self.rng
        prefix = code.split("-")[0]
        age = (self.today - sent_day).days
        flags = rng.sample(list(RISK_SUMMARIES), k=rng.choice((0, 1, 1, 2)))
        if prefix == "DV" and "domestic_abuse" not in flags:
            flags.append("domestic_abuse")
        if prefix == "FAM" and rng.random() < 0.6 and "child_safeguarding" not in flags:
            flags.append("child_safeguarding")
        summary = " ".join(RISK_SUMMARIES[flag] for flag in flags) or "No current risk concerns recorded in OASys."
        release = sent_day + timedelta(days=rng.randint(14, 90)) if custody else None
        fields: dict[str, Any] = {
            "contract_id": contract.id,
            "service_code": code,
            **person,
            "location_type": "custody" if custody else "community",
            "prison": prison or "",
            "expected_release_date": release or "",
            # Through the Gate: in custody since about four months before the referral, out on licence.
            "reception_date": sent_day - timedelta(days=120) if custody else "",
            "release_type": "conditional_release" if custody else "",
            "rosh_level": rng.choices(("low", "medium"), (55, 45))[0],
            "risk_flags": flags,
            "risk_summary": summary,
            "complexity": rng.choices(("low", "medium", "high"), (30, 50, 20))[0],
            "desired_outcomes": rng.sample(
                DESIRED_OUTCOMES.get(prefix, DESIRED_OUTCOMES["ACC"]),
                k=min(2, len(DESIRED_OUTCOMES.get(prefix, ("x",)))),
            ),
            "reason": REASONS.get(prefix, REASONS["ACC"]),
            "sentence_end_date": sent_day + timedelta(days=rng.randint(180, 720)),
            "urgent": rng.random() < 0.06,
        }
        if not custody:
            office, postcode = office_and_postcode(rng, contract.county_names, plan.offices)
            fields.update(community_office=office, postcode=postcode, contact_details=f"Mobile {phone(rng)}")
            if rng.random() < 0.65:
                fields["colour_band"] = rng.choices(("green", "yellow", "blue", "red"), (35, 35, 20, 10))[0]
        if plan.rar and not custody and rng.random() < 0.6:
            fields["rar_days"] = rng.choice((5, 8, 10, 12, 15, 20))
        # What will happen: recent referrals are still early on; older ones have run their course.
        if age <= 3:
            fate = rng.choices(("unanswered", "deliver"), (60, 40))[0]
        elif age <= 15:
            fate = rng.choices(("unanswered", "deliver", "no_contact"), (25, 55, 20))[0]
        else:
            fate = rng.choices(("deliver", "decline", "withdraw_sent", "withdraw_open"), (72, 10, 5, 13))[0]
        return Case(contract, plan, code, rng.choice(self.referrers), partner, fields, fate, custody, release)

    def _plan_groups(self, contract: Contract, group: GroupPlan, first: date, last: date) -> None:
        self.groups[contract.id] = []
        day = first + timedelta(days=(group.weekday - first.weekday()) % 7)
        while day <= last:
            if is_working_day(day):
                end = datetime.combine(day, group.start, tzinfo=LONDON) + timedelta(minutes=group.minutes + 60)
                self.at(end.astimezone(UTC), self.group_session, contract, group, day)
            day += timedelta(days=7)

    # --- referrals ---------------------------------------------------------------------------------

    def send(self, case: Case) -> None:
        rng = self.rng
        case.referral = referrals.create_and_send(case.referrer, case.fields)
        self.counts["referrals"] += 1
        if rng.random() < 0.12:
            self.at(self.later(rng.randint(1, 6)), self.amend, case)
        if case.fate == "unanswered":
            return
        if case.fate == "withdraw_sent":
            self.at(self.later(rng.randint(1, 2)), self.withdraw, case)
            return
        delay = rng.choices((0, 1, 2, 3, 4), (30, 38, 18, 9, 5))[0]
        self.at(self.later(delay), self.answer, case)

    def answer(self, case: Case) -> None:
        referral, manager = case.referral, case.partner.manager
        if referral.status != ReferralStatus.SENT:
            return
        if case.fate == "decline":
            reason = self.decline_reasons[self.counts["declined"] % len(self.decline_reasons)]
            self.counts["declined"] += 1
            referrals.decline_referral(
                manager,
                referral,
                reason_code=reason.value,
                detail=f"{reason.label}: we cannot take this referral on. Please consider another service.",
            )
            return
        case.caseworker = self.rng.choice(case.partner.caseworkers or [manager])
        referrals.accept_referral(manager, referral, risk_information_read=True, caseworker=case.caseworker)
        self._plan_delivery(case)

    def amend(self, case: Case) -> None:
        referral = case.referral
        if referral.status not in (ReferralStatus.SENT, *DELIVERING):
            return
        rng = self.rng
        if case.custody and referral.expected_release_date and referral.expected_release_date > self.today_now():
            new_release = referral.expected_release_date + timedelta(days=rng.choice((7, 14, 21)))
            if case.fields["sentence_end_date"] >= new_release:
                case.release = new_release
                changes, reason = {"expected_release_date": new_release}, "Release date moved after a parole review"
            else:
                changes, reason = {"contact_details": "Via the offender management unit"}, "Contact route confirmed"
        elif rng.random() < 0.5:
            changes = {"risk_summary": f"{referral.risk_summary} Update: new police intelligence shared by the RO."}
            reason = "New information from the police"
        else:
            changes = {"contact_details": f"Mobile {phone(rng)}"}
            reason = "The person has a new phone number"
        referrals.amend_referral(case.referrer, referral, changes_wanted=changes, reason=reason)
        self.counts["amended"] += 1

    def withdraw(self, case: Case) -> None:
        referral = case.referral
        if referral.status not in (ReferralStatus.SENT, *DELIVERING):
            return
        booked_ahead = self._catch_up(case)
        reason = self.withdraw_reasons[self.counts["withdrawn"] % len(self.withdraw_reasons)]
        self.counts["withdrawn"] += 1
        referrals.withdraw_referral(
            case.referrer, referral, reason_code=reason.value, detail=f"{reason.label}. Discussed with the partner."
        )
        self._cancel(case, booked_ahead)

    def _catch_up(self, case: Case) -> list[Session]:
        """Before a referral ends, its caseworker records how the booked sessions that have happened
        went; returns those still ahead."""
        ahead = []
        for session_id in sorted(case.booked):
            session = db.session.get(Session, session_id)
            if session is None:  # cancelled meanwhile (deleted with its history line)
                case.booked.discard(session_id)
                continue
            if sessions.session_start(session.date, session.start_time) < self.current:
                self.record(case, session.date, session.start_time, session_id)
            else:
                ahead.append(session)
        return ahead

    def _cancel(self, case: Case, ahead: list[Session]) -> None:
        """Sessions booked after the referral ended will not happen: completing or withdrawing it
        cancelled them (and told the caseworker), so nothing is left to record of them."""
        for session_id in [session.id for session in ahead]:
            case.booked.discard(session_id)

    def today_now(self) -> date:
        return london_day(self.current)

    # --- delivery ----------------------------------------------------------------------------------

    def _plan_delivery(self, case: Case) -> None:
        rng = self.rng
        accepted = self.today_now()
        first_wait = rng.choices((1, 2, 3, 4, 5, 7, 9), (20, 25, 20, 12, 10, 8, 5))[0]
        if case.fate == "no_contact":
            first_wait = rng.randint(12, 30)  # waiting for first contact, past the SLA
        group = case.plan.group if case.plan.group and case.plan.group.service_code == case.service_code else None
        count = rng.randint(3, 5) if group else rng.randint(7, 20)
        day = add_working_days(accepted, first_wait)
        step = rng.choice((7, 7, 7, 14))
        withdraw_after = rng.randint(1, max(1, count - 2)) if case.fate == "withdraw_open" else None
        planned: list[date] = []
        for _ in range(count):
            planned.append(next_working_day(day))
            day += timedelta(days=step)
        if group:
            case.group_from = planned[0] + timedelta(days=3)
            case.group_until = case.group_from + timedelta(weeks=group.weeks)
            self.groups[case.contract.id].append(case)
        book_from = self.current
        for number, session_day in enumerate(planned):
            if withdraw_after is not None and number == withdraw_after:
                self.at(self.working_moment(session_day - timedelta(days=2)), self.withdraw, case)
                break
            start = time(rng.randint(9, 15), rng.choice((0, 0, 15, 30, 45)))
            when = datetime.combine(session_day, start, tzinfo=LONDON).astimezone(UTC)
            if rng.random() < 0.25 or session_day > self.today:
                # Booked ahead, then its attendance recorded afterwards (or still to come).
                self.at(max(book_from, when - timedelta(days=rng.randint(3, 9))), self.book, case, session_day, start)
            else:
                self.at(when + timedelta(minutes=rng.randint(70, 300)), self.record, case, session_day, start, None)
            book_from = when + timedelta(hours=2)
        last = max(planned[-1], case.group_until or planned[-1])
        if case.fate in ("deliver",) and withdraw_after is None:
            self.at(self.working_moment(last + timedelta(days=rng.randint(3, 12))), self.complete, case)
        if case.fate in ("deliver", "withdraw_open"):
            self._plan_outcomes(case, planned[0], last)
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                note_day = accepted + timedelta(days=rng.randint(1, max(2, (last - accepted).days)))
                self.at(self.working_moment(note_day), self.note, case)
        if rng.random() < 0.1 and len(case.partner.caseworkers) > 1:
            self.at(self.working_moment(planned[len(planned) // 2]), self.reassign, case)

    def _session_fields(self, case: Case, day: date, start: time, *, booked: bool) -> dict[str, Any]:
        rng = self.rng
        released = case.release is None or day >= case.release
        if case.custody and not released:
            kind = "in_custody"
        else:
            kind = rng.choices(("one_to_one", "phone", "video", "home_visit"), (60, 20, 12, 8))[0]
        rar = bool(case.referral.rar_days) and case.plan.rar and rng.random() < 0.8
        fields = {
            "date": day,
            "start_time": start.strftime("%H:%M"),
            "duration_minutes": rng.choice((30, 45, 60, 60, 60, 90, 120)),
            "kind": kind,
            "counts_as_rar_day": rar,
            "summary": rng.choice(SESSION_NOTES) if not booked else "",
        }
        return fields

    def _attendance(self, fields: dict[str, Any], custody: bool) -> dict[str, Any]:
        rng = self.rng
        attendance = rng.choices(("attended", "late", "dna_ok", "dna_bad", "not_happen"), (76, 7, 6, 6, 5))[0]
        result = dict(fields, non_attendance_reason="", behaviour_concern=False, concern_detail="")
        if attendance in ("attended", "late"):
            result["attendance"] = attendance
            if rng.random() < 0.025:
                result.update(behaviour_concern=True, concern_detail=rng.choice(CONCERNS))
        elif attendance == "not_happen":
            result.update(
                attendance="session_did_not_happen",
                non_attendance_reason="logistics" if custody else "acceptable",
                summary="The session could not go ahead.",
                counts_as_rar_day=False,
            )
        else:
            result.update(
                attendance="did_not_attend",
                non_attendance_reason="acceptable" if attendance == "dna_ok" else "unacceptable",
                summary="Did not attend; a letter has been sent.",
                counts_as_rar_day=False,
            )
        return result

    def _delivering(self, case: Case) -> bool:
        return case.referral.status in DELIVERING

    def record(self, case: Case, day: date, start: time, session_id: int | None) -> None:
        """Record a session that has happened (or the attendance of one booked ahead)."""
        if not self._delivering(case):
            return
        in_custody = case.custody and case.release is not None and day < case.release
        actor = case.caseworker or case.partner.manager
        if session_id is None:
            fields = self._attendance(self._session_fields(case, day, start, booked=False), in_custody)
            if self._clashes(case, fields):
                return
            session = sessions.record_session(actor, case.referral, fields).record
        else:
            session = db.session.get(Session, session_id)
            fields = self._attendance(
                {
                    "date": session.date,
                    "start_time": session.start_time.strftime("%H:%M"),
                    "duration_minutes": session.duration_minutes,
                    "kind": session.kind.value,
                    "counts_as_rar_day": session.counts_as_rar_day,
                    "summary": self.rng.choice(SESSION_NOTES),
                },
                in_custody,
            )
            sessions.update_session(actor, session, fields)
            case.booked.discard(session_id)
        self.counts["sessions"] += 1
        if fields["non_attendance_reason"] == "unacceptable" or fields["behaviour_concern"]:
            self._plan_acknowledgement(case)

    def book(self, case: Case, day: date, start: time) -> None:
        if not self._delivering(case):
            return
        actor = case.caseworker or case.partner.manager
        fields = dict(self._session_fields(case, day, start, booked=True), attendance="")
        if self._clashes(case, fields):
            return
        session = sessions.record_session(actor, case.referral, fields).record
        case.booked.add(session.id)
        self.counts["booked"] += 1
        rng = self.rng
        when = datetime.combine(day, start, tzinfo=LONDON).astimezone(UTC)
        if rng.random() < 0.1:
            # Moved a few days later; its attendance is recorded on the new day.
            new_day = next_working_day(day + timedelta(days=rng.randint(1, 4)))
            self.at(when - timedelta(days=1), self.reschedule, case, session.id, new_day, start)
            when = datetime.combine(new_day, start, tzinfo=LONDON).astimezone(UTC)
        # Most feedback the same day; some a week or more later (so some is still awaited).
        wait = rng.choices((2, 20, 72, 200), (60, 20, 12, 8))[0]
        if (self.today - day).days < 10 and rng.random() < 0.5:
            wait = 24 * 21  # this fortnight's feedback not written up yet
        self.at(when + timedelta(hours=wait), self.record, case, day, start, session.id)

    def _clashes(self, case: Case, fields: dict[str, Any], ignore: tuple[int, ...] = ()) -> bool:
        """Whether the person already has a session then (one person's sessions never overlap:
        the demo leaves out a session it would have booked over another)."""
        start = datetime.strptime(fields["start_time"], "%H:%M").time()
        found = sessions.find_overlap(case.referral, fields["date"], start, fields["duration_minutes"], ignore=ignore)
        return found is not None

    def reschedule(self, case: Case, session_id: int, new_day: date, start: time) -> None:
        session = db.session.get(Session, session_id)
        if not self._delivering(case) or session is None or session.attendance is not None:
            return
        moved = {"date": new_day, "start_time": start.strftime("%H:%M"), "duration_minutes": session.duration_minutes}
        if self._clashes(case, moved, ignore=(session.id,)):
            return
        reason = self.rng.choice(
            (
                "The person starts a new job that day",
                "Caseworker off sick",
                "The prison was in lockdown",
                "Hospital appointment clashes",
            )
        )
        sessions.reschedule_session(
            case.caseworker or case.partner.manager,
            session,
            new_date=new_day,
            new_time=start.strftime("%H:%M"),
            reason=reason,
        )
        self.counts["rescheduled"] += 1

    def group_session(self, contract: Contract, group: GroupPlan, day: date) -> None:
        rng = self.rng
        members = [
            case
            for case in self.groups.get(contract.id, [])
            if case.group_from
            and case.group_from <= day <= case.group_until
            and self._delivering(case)
            and london_day(case.referral.accepted_at) <= day
        ]
        if not members:
            return
        partner = self.partners[contract.partner_id]
        facilitator = partner.caseworkers[0] if partner.caseworkers else partner.manager
        # Someone with another session at the time is not in this week's group.
        planned = {"date": day, "start_time": group.start.strftime("%H:%M"), "duration_minutes": group.minutes}
        members = [case for case in members if not self._clashes(case, planned)]
        if not members:
            return
        roster = []
        for case in members:
            entry = self._attendance({"summary": ""}, False)
            entry.pop("summary")
            entry["referral_id"] = case.referral.id
            entry["counts_as_rar_day"] = bool(case.referral.rar_days) and entry["attendance"] in ("attended", "late")
            roster.append(entry)
        sessions.record_group_session(
            facilitator,
            contract,
            {
                "title": group.title,
                "facilitator": facilitator.name,
                "date": day,
                "start_time": group.start.strftime("%H:%M"),
                "duration_minutes": group.minutes,
                "summary": rng.choice(SESSION_NOTES),
            },
            roster,
        )
        self.counts["group_sessions"] += 1
        self.counts["sessions"] += len(roster)
        for case, entry in zip(members, roster, strict=True):
            if entry["non_attendance_reason"] == "unacceptable" or entry["behaviour_concern"]:
                self._plan_acknowledgement(case)

    def _plan_acknowledgement(self, case: Case) -> None:
        if self.rng.random() < 0.85:
            self.at(self.later(self.rng.randint(1, 5)), self.acknowledge, case)

    def acknowledge(self, case: Case) -> None:
        for alert in db.session.scalars(
            select(Alert).where(Alert.referral_id == case.referral.id, Alert.acknowledged_at.is_(None))
        ).all():
            if self._left_open(case, alert):
                continue
            alerts.acknowledge_alert(case.referrer, alert)
            self.counts["alerts_acknowledged"] += 1

    def _left_open(self, case: Case, alert: Alert) -> bool:
        """Whether this alert is one of the two left for the referrer to acknowledge, whatever the day:
        the first two of the demo's last fortnight on cases the history does not end (after a quiet
        Christmas every alert could otherwise have been acknowledged)."""
        if alert.id in self.open_alerts:
            return True
        if len(self.open_alerts) >= 2 or alert.raised_at < working_morning(self.now, ALERT_DAYS - 1, hour=0):
            return False
        if not self._delivering(case):
            return False
        if alert.referral_id in self.open_alerts.values():
            return False
        ends = ("complete", "withdraw")
        if any(case in args and getattr(action, "__name__", "") in ends for *_, action, args in self.queue):
            return False
        self.open_alerts[alert.id] = alert.referral_id
        return True

    def note(self, case: Case) -> None:
        if case.referral.status not in (*DELIVERING, ReferralStatus.COMPLETED):
            return
        author = case.caseworker if self.rng.random() < 0.7 else case.referrer
        referrals.add_case_note(author or case.referrer, case.referral, self.rng.choice(NOTES))
        self.counts["case_notes"] += 1

    def reassign(self, case: Case) -> None:
        if not self._delivering(case):
            return
        others = [user for user in case.partner.caseworkers if user.id != case.referral.caseworker_id]
        case.caseworker = self.rng.choice(others)
        referrals.assign_caseworker(case.partner.manager, case.referral, caseworker=case.caseworker)
        self.counts["reassigned"] += 1

    def complete(self, case: Case) -> None:
        if not self._delivering(case):
            return
        rng = self.rng
        booked_ahead = self._catch_up(case)
        achievements = [
            {
                "desired_outcome": wanted,
                "achievement": rng.choices(("achieved", "partially_achieved", "not_achieved"), (55, 30, 15))[0],
                "comment": "Discussed at the final session.",
            }
            for wanted in case.referral.desired_outcomes
        ]
        end_of_service.complete_referral(
            case.caseworker or case.partner.manager,
            case.referral,
            summary="Work finished as planned. The person knows how to come back to us if things change.",
            outcomes=achievements,
            further_needs=rng.choice(("", "Would benefit from ongoing mental health support.")),
        )
        self._cancel(case, booked_ahead)
        self.counts["completed"] += 1

    # --- outcomes ---------------------------------------------------------------------------------

    def _outcome_codes(self, case: Case) -> list[str]:
        types = self.outcome_types[case.contract.id]
        paid = [
            item.outcome_type.code
            for item in db.session.scalars(
                select(RateCardItem).where(
                    RateCardItem.contract_id == case.contract.id,
                    RateCardItem.service_code == case.service_code,
                    RateCardItem.outcome_type_id.is_not(None),
                )
            ).all()
        ]
        recorded = [code for code in types if code not in paid and not self._paid_elsewhere(case, code)]
        return sorted(set(paid)) + recorded

    def _paid_elsewhere(self, case: Case, code: str) -> bool:
        """An outcome type paid under another service of the contract is that service's, not this one's."""
        return bool(
            db.session.scalar(
                select(
                    exists().where(
                        RateCardItem.contract_id == case.contract.id,
                        RateCardItem.outcome_type_id == self.outcome_types[case.contract.id][code].id,
                    )
                )
            )
        )

    def _plan_outcomes(self, case: Case, first: date, last: date) -> None:
        rng = self.rng
        codes = self._outcome_codes(case)
        if not codes or rng.random() < 0.25:
            return
        for code in rng.sample(codes, k=min(len(codes), rng.choice((1, 1, 2)))):
            if code == "accommodation_secured_first_night" and case.release:
                achieved = case.release
            else:
                achieved = first + timedelta(days=rng.randint(7, max(8, (last - first).days + 7)))
            self.at(self.working_moment(achieved + timedelta(days=rng.randint(1, 6))), self.claim, case, code, achieved)

    def _files(self, what: str) -> list[tuple[str, bytes]]:
        rng = self.rng
        if rng.random() < 0.7:
            return []
        self.counts["evidence_files"] += 1
        if rng.random() < 0.5:
            return [(f"{what.lower().replace(' ', '-')}.pdf", tiny_pdf(what))]
        return [("photo-of-letter.png", tiny_png())]

    def claim(self, case: Case, code: str, achieved: date, previous_id: int | None = None) -> None:
        referral = case.referral
        if referral.status not in (*DELIVERING, ReferralStatus.COMPLETED):
            return
        outcome_type = self.outcome_types[case.contract.id][code]
        # The outcome is achieved when its type's rule allows (13 weeks after first contact, on
        # release…): a planned day too early moves to the first allowed one, and the claim waits for it.
        allowed = outcome_rules.window(outcome_rules.Rule.of(outcome_type), outcome_rules.Facts.of(referral))
        if allowed is None:
            return
        if achieved < allowed[0]:
            achieved = allowed[0]
            if achieved > self.today_now():
                when = self.working_moment(achieved + timedelta(days=self.rng.randint(1, 6)))
                self.at(when, self.claim, case, code, achieved, previous_id)
                return
        if allowed[1] is not None and achieved > allowed[1]:
            return
        if achieved < london_day(referral.accepted_at) or achieved > self.today_now():
            return
        actor = case.caseworker or case.partner.manager
        evidence = f"{outcome_type.name}: confirmed with the agency and a copy seen on file."
        files = self._files(outcome_type.name)
        if outcome_type.evidence_required and not files:
            files = [(f"{outcome_type.code.replace('_', '-')}-certificate.pdf", tiny_pdf(outcome_type.name))]
        if previous_id is None:
            outcome = outcomes.claim_outcome(
                actor,
                referral,
                {"outcome_type_id": outcome_type.id, "achieved_on": achieved, "evidence": evidence},
                files,
            )
        else:
            outcome = outcomes.reclaim_outcome(
                actor,
                db.session.get(Outcome, previous_id),
                {"achieved_on": achieved, "evidence": f"{evidence} Signed letter attached, as asked."},
                files or [("signed-letter.pdf", tiny_pdf(outcome_type.name))],
            )
            self.counts["reclaimed"] += 1
        self.counts["outcomes"] += 1
        self.at(self.later(self.rng.randint(2, 8)), self.decide, case, outcome.id, previous_id is not None)

    def decide(self, case: Case, outcome_id: int, reclaimed: bool) -> None:
        rng = self.rng
        outcome = db.session.get(Outcome, outcome_id)
        decider = case.referrer if rng.random() < 0.7 else self.contract_manager
        if reclaimed or rng.random() < 0.82:
            outcomes.verify_outcome(decider, outcome)
            return
        outcomes.reject_outcome(
            decider,
            outcome,
            reason=rng.choice(
                (
                    "The evidence does not show the date achieved: please attach the letter.",
                    "The tenancy started before the referral was accepted.",
                    "We need the employer's confirmation, not the person's word.",
                )
            ),
        )
        if rng.random() < 0.6:
            self.at(
                self.later(rng.randint(2, 6)),
                self.claim,
                case,
                db.session.get(OutcomeType, outcome.outcome_type_id).code,
                outcome.achieved_on,
                outcome.id,
            )

    # --- invoices ---------------------------------------------------------------------------------

    def _plan_invoices(self, contract: Contract) -> None:
        months = []
        month = contract.start_date.replace(day=1)
        fixed = db.session.scalar(
            select(exists().where(RateCardItem.contract_id == contract.id, RateCardItem.unit == Unit.MONTHLY_FIXED))
        )
        if not fixed:
            # Nothing happened before the history starts, so there is nothing to bill.
            month = max(month, self.start_day.replace(day=1))
        while month < self.today.replace(day=1) and month <= contract.end_date:
            next_month = add_months(month, 1)
            when = self.working_moment(add_working_days(next_month - timedelta(days=1), 2), 10, 10)
            if when <= self.now:
                months.append((month, when))
            month = next_month
        for index, (month, when) in enumerate(months):
            story = INVOICE_STORIES.get((contract.reference, len(months) - 1 - index))
            if story is None:
                story = "approved" if index == len(months) - 1 else "paid"
            self.at(when, self.invoice, contract, month, story)

    def invoice(self, contract: Contract, month: date, story: str) -> None:
        manager = self.partners[contract.partner_id].manager
        story = self.held_stories.pop(contract.id, None) or story
        draft = invoicing.generate_draft(manager, contract, month)
        if not db.session.scalar(select(exists().where(InvoiceLine.invoice_id == draft.id))):
            # Nothing to bill yet: the draft waits for next month's work, and so does its story
            # (the month the demo meant to be queried or rejected is whichever has work to bill).
            if story not in ("paid", "approved"):
                self.held_stories[contract.id] = story
            return
        try:
            invoicing.submit_invoice(manager, draft)
        except ValidationFailed:
            invoicing.submit_invoice(manager, draft)  # figures brought up to date: check and submit again
        self.counts["invoices"] += 1
        if story == "submitted":
            return
        decide_at = self.later(self.rng.randint(3, 6), 11, 15)
        self.at(decide_at, self.decide_invoice, contract, draft.id, story)

    def decide_invoice(self, contract: Contract, invoice_id: int, story: str) -> None:
        invoice = db.session.get(Invoice, invoice_id)
        if story == "queried":
            invoicing.query_invoice(
                self.contract_manager,
                invoice,
                reason="Two sessions on 14 and 15 of the month look like the same session: please check.",
            )
            self.at(self.later(1, 10, 12), self.reply_to_query, contract, invoice_id)
            return
        if story == "held":
            invoicing.query_invoice(
                self.contract_manager,
                invoice,
                reason="Line 1 bills a referral accepted at the end of last month: is it on last month's invoice too?",
            )
            self.at(self.later(1, 10, 12), self.reply_to_query, contract, invoice_id)
            self.at(self.later(4, 10, 12), self.resubmit, contract, invoice_id)
            return
        if story == "rejected":
            invoicing.reject_invoice(
                self.contract_manager,
                invoice,
                reason="Sent to the wrong purchase order: please generate it again next month.",
            )
            return
        invoicing.approve_invoice(self.finance, invoice)
        if story in ("approved", "unpaid"):
            return
        days = 26 if story == "late" else self.rng.randint(8, 15)  # late: past 30 days' terms
        self.at(self.later(days, 14, 16), self.pay, contract, invoice_id, story)

    def resubmit(self, contract: Contract, invoice_id: int) -> None:
        """The partner resubmits a queried invoice as it was, the query answered; the CRC pays it."""
        invoice = db.session.get(Invoice, invoice_id)
        if invoice.status.value != "queried":
            return
        manager = self.partners[contract.partner_id].manager
        try:
            invoicing.submit_invoice(manager, invoice)
        except ValidationFailed:  # the records moved: revised first
            invoicing.revise_invoice(manager, invoice)
            invoicing.submit_invoice(manager, invoice)
        self.at(self.later(2, 11, 15), self.decide_invoice, contract, invoice_id, "paid")

    def reply_to_query(self, contract: Contract, invoice_id: int) -> None:
        """The partner answers the CRC's query in its thread; the invoice stays queried for the demo."""
        invoice = db.session.get(Invoice, invoice_id)
        if invoice.status.value != "queried":
            return
        invoicing.add_query_message(
            self.partners[contract.partner_id].manager,
            invoice,
            "They are two sessions: a morning session in the prison and a phone call the next day. "
            "The case notes say so. Shall we resubmit it unchanged?",
        )

    def pay(self, contract: Contract, invoice_id: int, story: str) -> None:
        invoice = db.session.get(Invoice, invoice_id)
        invoicing.mark_paid(
            self.finance,
            invoice,
            paid_on=self.today_now(),
            payment_reference=f"BACS {400000 + invoice.id * 7:06d}",
        )
        if story in ("credited", "rebilled", "outcome_credited"):
            self.at(
                self.later(self.rng.randint(3, 6)),
                self.credit,
                contract,
                invoice_id,
                story == "rebilled",
                story == "outcome_credited",
            )

    def credit(self, contract: Contract, invoice_id: int, rebill: bool = False, outcome: bool = False) -> None:
        invoice = db.session.get(Invoice, invoice_id)
        if outcome:
            # The latest paid invoice of the contract, up to this one, that billed an outcome.
            with_outcome = db.session.scalar(
                select(InvoiceEvent.invoice_id)
                .join(Invoice, Invoice.id == InvoiceEvent.invoice_id)
                .where(
                    Invoice.contract_id == contract.id,
                    Invoice.kind == InvoiceKind.INVOICE,
                    Invoice.status == InvoiceStatus.PAID,
                    Invoice.id <= invoice_id,
                    InvoiceEvent.outcome_id.is_not(None),
                    InvoiceEvent.credited_by_id.is_(None),
                )
                .order_by(InvoiceEvent.invoice_id.desc())
                .limit(1)
            )
            invoice = db.session.get(Invoice, with_outcome or invoice_id)
        creditable = invoicing.creditable_events(invoice)
        outcome_events = [event for event in creditable if event.outcome_id is not None]
        events = [event for event in creditable if event.session_id is not None]
        events = (outcome_events if outcome else []) or events or creditable
        if not events:
            return
        if rebill:  # the CRC's finance team found it billed at last year's price
            raised_by = self.contract_manager
            reason = "Billed at the old price: credited so that it is billed again at the current one."
        elif events[0].outcome_id is not None:
            raised_by = self.partners[contract.partner_id].manager
            reason = "The evidence for this outcome turned out to be wrong after it was paid: it should not have been."
        else:
            raised_by = self.partners[contract.partner_id].manager
            reason = "This session was recorded twice in error; the person attended once."
        note = invoicing.raise_credit_note(raised_by, invoice, event_ids=[events[0].id], reason=reason, rebill=rebill)
        self.at(self.later(2, 11, 15), self.approve_credit, note.id)

    def approve_credit(self, note_id: int) -> None:
        invoicing.approve_invoice(self.finance, db.session.get(Invoice, note_id))
        self.counts["credit_notes"] += 1

    # --- service returns --------------------------------------------------------------------------

    def _plan_returns(self, contract: Contract) -> None:
        """Each month's return in the first fortnight of the next; last month's draft is begun by now."""
        for period, stage in demo_returns.months_to_report(contract, self.today):
            when = self.working_moment(add_working_days(period.end, self.rng.randint(4, 8)), 10, 15)
            if stage == demo_returns.Stage.DRAFT:
                when = min(when, self.now - timedelta(hours=1))
            self.at(when, self.report, contract, period, stage)

    def report(self, contract: Contract, period: Period, stage: demo_returns.Stage) -> None:
        manager = self.partners[contract.partner_id].manager
        written = demo_returns.write(manager, contract, period, stage)
        self.counts["returns"] += 1
        if stage not in (demo_returns.Stage.DRAFT, demo_returns.Stage.SUBMITTED):
            self.at(self.later(self.rng.randint(3, 6), 10, 16), self.decide_return, written.id, stage)

    def decide_return(self, return_id: int, stage: demo_returns.Stage) -> None:
        demo_returns.decide(self.contract_manager, db.session.get(ServiceReturn, return_id), stage)

    def finish(self) -> None:
        """Now: each contract's partner has this month's draft open (or last month's, not yet sent)."""
        demo_remittance.load(
            {organisation_id: partner.manager for organisation_id, partner in self.partners.items()},
            self.contract_manager,
        )
        this_month = self.today.replace(day=1)
        last_month = add_months(this_month, -1)
        contracts = db.session.scalars(
            select(Contract).where(Contract.status == ContractStatus.ACTIVE).order_by(Contract.reference)
        ).all()
        for contract in contracts:
            if contract.start_date > self.today or contract.end_date < last_month:
                continue
            if demo_grants.is_paid_by_schedule(contract):
                continue
            sent_last_month = db.session.scalar(
                select(
                    exists().where(
                        Invoice.contract_id == contract.id,
                        Invoice.period_start == last_month,
                        Invoice.status != InvoiceStatus.DRAFT,
                    )
                )
            )
            period = this_month if sent_last_month or contract.end_date < this_month else last_month
            if contract.end_date < period:
                continue
            invoicing.generate_draft(
                self.partners[contract.partner_id].manager,
                contract,
                period,
                # Asked for only while the month is still running (before its last working day).
                early_reason="An interim draft of the month so far, to check the figures before it ends.",
            )
        self.deliver_outbox()
        # And a referrer has two referrals half written.
        for case in self.drafts:
            if not case.contract.start_date <= self.today <= case.contract.end_date:
                continue  # a contract that has ended takes no new referrals
            draft = referrals.start_draft(case.referrer)
            referrals.save_step(case.referrer, draft, "service", case.fields)
            referrals.save_step(case.referrer, draft, "person", case.fields)
            self.counts["drafts"] += 1


# (while loading, afterwards): the connection's wait for the disk at each commit.
DURABILITY = {
    "sqlite": ("PRAGMA synchronous = OFF", "PRAGMA synchronous = FULL"),
    "postgresql": ("SET synchronous_commit = off", "RESET synchronous_commit"),
}


@contextmanager
def _loading_session() -> Iterator[None]:
    """Thousands of small transactions, quickly. The loader is the only writer, so objects need not
    be read again after each commit (the services read what they check with queries); and on SQLite a
    demo database need not wait for the disk at every commit (a crash mid-load leaves an unusable
    demo either way: load it again). Both settings are the connection's own, and put back after."""
    session = db.session()
    dialect = db.engine.dialect.name
    if dialect in DURABILITY:
        db.session.execute(text(DURABILITY[dialect][0]))
        db.session.commit()
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = True
        db.session.rollback()
        if dialect in DURABILITY:
            db.session.execute(text(DURABILITY[dialect][1]))
            db.session.commit()
        db.session.expire_all()


def load_demo_history(now: datetime | None = None) -> Counter[str]:
    """Load the year of history (after the contracts); returns what was made, by kind.

    The history's emails are queued as the work is done and marked sent each evening by the memory
    backend, which sends nothing: they were to people who do not exist, and a year of them must not
    be delivered (or printed, in development) on the first page that queues an email."""
    now = now or datetime.now(UTC)
    config = current_app.config
    backend, config["MAIL_BACKEND"] = config["MAIL_BACKEND"], "memory"
    try:
        with _loading_session():
            history = History(now)
            with mock.patch.object(referrals, "secrets", _SeededReferences(history.rng)):
                history.plan()
                from portal.demo.safeguarding import SafeguardingStory

                SafeguardingStory(history).plan()
                from portal.demo.plans import PlansStory

                PlansStory(history).plan()
                history.run()
    finally:
        config["MAIL_BACKEND"] = backend
    return history.counts


def describe_history() -> str:
    """What the history holds, in a few words."""
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return (
        f"{count(Referral):,} referrals, {count(Session):,} sessions, {count(Outcome):,} outcomes "
        f"and {count(Invoice):,} invoices"
    )
