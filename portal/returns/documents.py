"""The service return as a PDF (A4, tagged PDF/UA): cover and sign-off, headline figures against
targets, charts, tables and the narrative. A submitted return is drawn from its frozen figures
only, so the document is the same whenever it is downloaded."""

from __future__ import annotations

from datetime import date

from portal import charts
from portal.accounts.models import User
from portal.extensions import db
from portal.pdf import render_pdf
from portal.returns.models import ServiceReturn
from portal.returns.service import figures_of
from portal.returns.targets import STATUS_LABELS, TARGETS


def _name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.name if user else None


def service_return_pdf(service_return: ServiceReturn, *, today: date | None = None) -> bytes:
    figures = figures_of(service_return, today=today)
    contract = service_return.contract
    return render_pdf(
        "pdf/service_return.html",
        service_return=service_return,
        contract=contract,
        figures=figures,
        charts=charts,
        signed={
            "submitted_by": _name(service_return.submitted_by_id),
            "accepted_by": _name(service_return.accepted_by_id),
            "returned_by": _name(service_return.returned_by_id),
        },
        target_statuses=STATUS_LABELS,
        targets=TARGETS,
    )
