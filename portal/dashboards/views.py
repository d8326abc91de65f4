"""The dashboard: the figures of every contract a user can see (a contract manager's across
partners, a partner manager's own), filtered by partner, contract, pathway, area and period, with
charts, and each figure linking to the records behind it. Also the per-referral performance
export. The number of queries is the same however many records there are."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import case, func, select, union

from portal import access, charts
from portal.audit.service import record_read
from portal.contracts.models import PATHWAY_LABELS, Contract, Pathway
from portal.csv_files import csv_response, xlsx_response
from portal.dashboards import performance
from portal.dashboards.ahead import SUMMARY, dashboard_contracts
from portal.dates import Period, london_today, parse_period, quarter_of
from portal.extensions import db
from portal.figure_cache import remembered
from portal.figures import (
    Counted,
    count_by_contract,
    count_equality,
    remembered_figures,
    remembered_summary,
)
from portal.grants.models import RAISED_STATUSES, GrantInstalment
from portal.invoicing import prompt_payment
from portal.invoicing.models import Invoice, InvoiceStatus
from portal.invoicing.payment_terms import PROMPT_PAYMENT_DAYS
from portal.organisations.models import Organisation
from portal.places.models import Prison, ProbationOffice
from portal.referrals.models import Referral
from portal.returns import kpis, spreadsheet
from portal.returns.kpis import percent_text
from portal.returns.models import ReturnStatus, ServiceReturn
from portal.returns.records import default_labels
from portal.returns.views import recent_periods

bp = Blueprint("dashboards", __name__, url_prefix="/dashboard")


def invoices_url(**args: Any) -> str:
    """A link to the invoice list (another branch builds it as `invoicing.index`): by url_for once
    that endpoint exists, until then by its agreed path."""
    args = {key: value for key, value in args.items() if value not in (None, "")}
    if "invoicing.index" in current_app.view_functions:
        return url_for("invoicing.index", **args)
    return "/invoices/" + (f"?{urlencode(args)}" if args else "")


class Filters:
    """The dashboard's filters from the query string, each checked against what the user may see."""

    def __init__(self, args: Any, contracts: list[Contract], partners: dict[str, str]) -> None:
        self.partner = args.get("partner", "") if args.get("partner", "") in partners else ""
        references = {c.reference for c in contracts}
        self.contract = args.get("contract", "").upper() if args.get("contract", "").upper() in references else ""
        self.pathway = args.get("pathway", "") if args.get("pathway", "") in {p.value for p in Pathway} else ""
        self.area = args.get("area", "")[:100]
        self.period = parse_period(args.get("period", "")) or quarter_of(london_today())

    def contracts(self, contracts: list[Contract]) -> list[Contract]:
        return [
            c
            for c in contracts
            if (not self.partner or str(c.partner_id) == self.partner)
            and (not self.contract or c.reference == self.contract)
        ]

    def referral_args(self) -> dict[str, str]:
        """The same filters, as the referral list names them."""
        args = {"contract": self.contract, "partner_id": self.partner, "pathway": self.pathway, "area": self.area}
        return {key: value for key, value in args.items() if value}

    def as_args(self) -> dict[str, str]:
        args = {
            "partner": self.partner,
            "contract": self.contract,
            "pathway": self.pathway,
            "area": self.area,
            "period": self.period.code,
        }
        return {key: value for key, value in args.items() if value}


def _area_choices(contract_ids: list[int]) -> dict[str, str]:
    """Prisons and probation offices that referrals on these contracts name, by their records
    (a renamed office is one area), and the names referrals made before the records existed carry:
    one query. Each place is asked whether any sent referral on these contracts names it (an
    index probe a place, migration 0029), rather than every referral read for its place."""
    r = Referral

    def named(place: Any, place_id: Any) -> Any:
        return select(place.name).where(
            select(r.id).where(place_id == place.id, r.contract_id.in_(contract_ids), r.sent_at.is_not(None)).exists()
        )

    def free_text(place_id: Any, name: Any) -> Any:
        return select(name).where(
            place_id.is_(None), name.is_not(None), r.contract_id.in_(contract_ids), r.sent_at.is_not(None)
        )

    places = db.session.scalars(
        union(
            named(Prison, r.prison_id),
            named(ProbationOffice, r.probation_office_id),
            free_text(r.prison_id, r.prison),
            free_text(r.probation_office_id, r.community_office),
        )
    ).all()
    names = sorted({name for name in places if name})
    return {"": "All areas"} | {name: name for name in names}


def _spend_by_contract(contract_ids: list[int]) -> dict[int, int]:
    """Spend against the cap per contract (Invoice.spend_pence, and a grant's raised grant payments):
    two grouped queries."""
    rows = db.session.execute(
        select(Invoice.contract_id, func.coalesce(func.sum(Invoice.spend_pence), 0))
        .where(Invoice.contract_id.in_(contract_ids))
        .group_by(Invoice.contract_id)
    ).all()
    spend = {contract_id: int(total) for contract_id, total in rows}
    # A grant's raised grant payments count against its cap as invoices do (portal.grants.service).
    for contract_id, total in db.session.execute(
        select(GrantInstalment.contract_id, func.coalesce(func.sum(GrantInstalment.amount_pence), 0))
        .where(GrantInstalment.contract_id.in_(contract_ids), GrantInstalment.status.in_(RAISED_STATUSES))
        .group_by(GrantInstalment.contract_id)
    ):
        spend[contract_id] = spend.get(contract_id, 0) + int(total)
    return spend


def _waiting(contract_ids: list[int]) -> dict[str, int]:
    """Referrals overdue now, invoices awaiting approval and returns awaiting acceptance: two queries."""
    overdue = db.session.scalar(
        select(func.count()).select_from(Referral).where(Referral.contract_id.in_(contract_ids), Referral.overdue)
    )
    invoices = db.session.scalar(
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.contract_id.in_(contract_ids), Invoice.status == InvoiceStatus.SUBMITTED)
    )
    returns = db.session.scalar(
        select(func.count(case((ServiceReturn.status == ReturnStatus.SUBMITTED, 1))))
        .select_from(ServiceReturn)
        .where(ServiceReturn.contract_id.in_(contract_ids))
    )
    return {"overdue": overdue or 0, "invoices": invoices or 0, "returns": returns or 0}


def _per_contract(counted: Counted, contracts: list[Contract], spend: dict[int, int]) -> list[dict]:
    rows = []
    for contract in contracts:
        figures = counted.by_contract[contract.id]
        spent = spend.get(contract.id, 0)
        rows.append(
            {
                "contract": contract,
                "received": figures["received"],
                "accepted": figures["accepted"],
                "answered_within_sla": percent_text(figures["answered_within_sla"]),
                "attendance": percent_text(figures["attendance_rate"]),
                "verified": figures["verified"],
                "spend_pence": spent,
                "spend_percent": percent_text({"n": spent, "d": contract.value_cap_pence}),
            }
        )
    return rows


def _scope() -> tuple[Any, Filters, list[Contract], list[Contract], dict[str, str]]:
    """The signed-in user, the filters, the contracts they may see and those the filters choose."""
    access.require(current_user, "see_figures", Contract)
    user = current_user._get_current_object()
    contracts = list(db.session.scalars(dashboard_contracts(access.visible(Contract, user))))
    partners: dict[str, str] = {}
    if user.is_crc_user:
        partners = {
            str(o.id): o.name
            for o in db.session.scalars(
                select(Organisation)
                .where(Organisation.id.in_({c.partner_id for c in contracts}))
                .order_by(Organisation.name)
            )
        }
    filters = Filters(request.args, contracts, partners)
    return user, filters, contracts, filters.contracts(contracts), partners


def _figures(filters: Filters, chosen: list[Contract]) -> Counted:
    """The figures of the chosen contracts, counted in SQL (portal.figures): a fixed number of
    grouped queries, however many referrals and sessions the period holds; remembered until a
    record they count changes (portal.figure_cache: a second of SQL for the whole CRC), the
    sessions apart from the rest."""
    ids = tuple(c.id for c in chosen)
    today, pathway, area = london_today(), filters.pathway or None, filters.area or None
    contract_start = min((c.start_date for c in chosen), default=filters.period.start)
    return remembered_figures(
        "dashboard.figures",
        ids,
        filters.period,
        today=today,
        contract_start=contract_start,
        pathway=pathway,
        area=area,
        labels=default_labels(),
    )


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user, filters, contracts, chosen, partners = _scope()
    ids = [c.id for c in chosen]
    period = filters.period
    view = request.args.get("view") if request.args.get("view") in DASHBOARD_VIEWS else "summary"
    referral_args = filters.referral_args()
    contract_start = min((c.start_date for c in chosen), default=period.start)
    # Each part counts only what it shows: every figure beside the previous period and the year to
    # date, with a year of charted months, is most of the dashboard's cost (seconds for the whole CRC
    # at national scale); the summary needs the period's headline figures, the prompt-payment and
    # export parts none.
    summary = None
    today, pathway, area = london_today(), filters.pathway or None, filters.area or None
    if view == "summary":
        summary = remembered_summary(SUMMARY, ids, period, today=today, pathway=pathway, area=area)
    if view == "contracts":
        counted = remembered(
            "dashboard.by_contract",
            (tuple(ids), period, today, pathway, area),
            lambda: count_by_contract(ids, period, today=today, pathway=pathway, area=area),
        )
    elif view == "equality":
        equality = remembered(
            "dashboard.equality",
            (tuple(ids), period, today, contract_start, pathway, area),
            lambda: count_equality(ids, period, today=today, contract_start=contract_start, pathway=pathway, area=area),
        )
        counted = Counted({"equality": equality})
    else:
        counted = _figures(filters, chosen) if view in FIGURE_VIEWS else Counted({})
    figures = counted.figures
    spend = _spend_by_contract(ids) if view == "contracts" else {}
    windows = kpis._windows(period, contract_start)
    links = {
        key: {
            column: url_for(
                "referrals.index",
                tab="all",
                sent_from=windows[column].start.isoformat(),
                sent_to=windows[column].end.isoformat(),
                **referral_args,
            )
            for column in ("period", "previous", "ytd")
        }
        for key in ("received",)
    }
    return render_template(
        "dashboards/index.html",
        figures=figures,
        summary=summary,
        chosen=chosen,
        charts=charts,
        filters=filters,
        partners=partners,
        contracts={"": "All contracts"} | {c.reference: f"{c.reference}: {c.title}" for c in contracts},
        pathways={"": "All pathways"} | {p.value: PATHWAY_LABELS[p] for p in Pathway},
        areas=_area_choices([c.id for c in contracts]),
        periods=recent_periods(min((c.start_date for c in contracts), default=period.start), london_today()),
        waiting=_waiting(ids) if view == "summary" else {},
        verified_by_pathway=counted.verified_by_pathway,
        per_contract=_per_contract(counted, chosen, spend) if view == "contracts" else [],
        period_window=windows["period"].as_json(),
        volumes={row["contract_id"]: row for row in figures["volumes"]["contracts"]} if "volumes" in figures else {},
        links=links,
        overdue_url=url_for("referrals.index", tab="all", overdue="yes", **referral_args),
        invoices_url=invoices_url(status="submitted", contract=filters.contract, partner=filters.partner),
        returns_url=url_for("returns.index", status="submitted", contract=filters.contract or None),
        referral_args=referral_args,
        export_args=filters.as_args(),
        is_crc=user.is_crc_user,
        views=DASHBOARD_VIEWS,
        view=view,
        payments=_payments(ids, period, chosen) if view == "payments" else None,
        prompt_payment_days=PROMPT_PAYMENT_DAYS,
    )


def _payments(ids: list[int], period: Period, chosen: list[Contract]) -> dict[str, Any]:
    """How promptly the CRC paid, by partner, contract and month, over the months the charts show.
    Each contract by month is shown for one partner's contracts (a dozen months of each); for the
    whole CRC it is a row for every contract and month (670 at national scale, a page of 80 ms
    rendering them), so it is downloaded instead (payments_csv)."""
    months = period.charted_months(min((c.start_date for c in chosen), default=period.start))
    start = months[0] if months else period.start
    return {
        "report": prompt_payment.report(ids, start, period.end),
        "start": start,
        "end": period.end,
        "each_month_shown": len({c.partner_id for c in chosen}) <= 1,
    }


PAYMENT_COLUMNS = (
    "Partner",
    "Contract",
    "Month paid",
    "Invoices paid",
    "Paid late",
    "Within terms",
    "Within 30 days",
    "Average days to pay",
    "Longest days to pay",
)


@bp.route("/payments.csv")
@login_required
def payments_csv():  # type: ignore[no-untyped-def]
    """How promptly each contract's invoices were paid, by month, as filtered: the dashboard's
    prompt-payment part, every row."""
    _user, filters, _contracts, chosen, _partners = _scope()
    report = _payments([c.id for c in chosen], filters.period, chosen)["report"]
    rows = (
        (
            row.partner,
            row.contract,
            row.month.strftime("%B %Y") if row.month else "",
            row.paid,
            row.late,
            row.within_terms_text,
            row.within_30_text,
            row.average_days if row.average_days is not None else "",
            row.longest if row.paid else "",
        )
        for row in report.rows
    )
    return csv_response(PAYMENT_COLUMNS, rows, f"prompt-payment-{filters.period.code}.csv", bom=True)


# The dashboard's parts: the summary first, the detail one part at a time (the whole was one page
# of about 12,700 px). Each part keeps the filters.
DASHBOARD_VIEWS = {
    "summary": "Summary",
    "contracts": "By contract",
    "figures": "All figures",
    "charts": "Charts",
    "equality": "Equality",
    "payments": "Prompt payment",
    "export": "Export",
}
FIGURE_VIEWS = ("figures", "charts")


@bp.route("/figures.csv")
@login_required
def figures_csv():  # type: ignore[no-untyped-def]
    return _figures_file("csv")


@bp.route("/figures.xlsx")
@login_required
def figures_xlsx():  # type: ignore[no-untyped-def]
    return _figures_file("xlsx")


def _figures_file(kind: str) -> Response:
    """The dashboard's figures, as filtered, as CSV or XLSX."""
    _user, filters, _contracts, chosen, _partners = _scope()
    figures = _figures(filters, chosen).figures
    name = f"dashboard-figures-{filters.period.code}.{kind}"
    if kind == "xlsx":
        title = f"Dashboard: {', '.join(c.reference for c in chosen) or 'no contracts'}, {filters.period.label}"
        return xlsx_response(spreadsheet.workbook(figures, title), name)
    return csv_response((), spreadsheet.text_rows(figures), name, bom=True)


@bp.route("/performance.csv")
@login_required
def performance_csv():  # type: ignore[no-untyped-def]
    """Every referral on the filtered contracts that was live during the period, one row each."""
    access.require(current_user, "see_figures", Contract)
    user = current_user._get_current_object()
    contracts = list(db.session.scalars(access.visible(Contract, user).order_by(Contract.reference)))
    partners = {str(c.partner_id): "" for c in contracts} if user.is_crc_user else {}
    filters = Filters(request.args, contracts, partners)
    chosen = filters.contracts(contracts)
    chosen_ids = [c.id for c in chosen]
    # One row per referral, each with its CRN: an export of personal data.
    record_read(
        user,
        "export.performance_downloaded",
        details={"contracts": [c.reference for c in chosen], "period": filters.period.code},
    )

    rows = performance.rows(
        chosen_ids,
        filters.period.start,
        filters.period.end,
        pathway=filters.pathway or None,
        area=filters.area or None,
    )
    name = f"referral-performance-{filters.period.code}.csv"
    return csv_response(performance.COLUMNS, rows, name, bom=True)
