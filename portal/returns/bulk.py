"""The bulk download: every accepted return of a period that a contract manager can see, as one ZIP
of PDFs, made by a background job (portal.jobs) that reports its progress."""

from __future__ import annotations

import logging
import re
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from flask import current_app

from portal import access
from portal.accounts.models import User
from portal.dates import parse_period
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.jobs import report_progress
from portal.returns.documents import service_return_pdf
from portal.returns.models import ReturnStatus, ServiceReturn

log = logging.getLogger(__name__)
SAFE_NAME = re.compile(r"^[0-9a-f]{32}\.zip$")
# As long as the job that made a ZIP is remembered (portal.jobs keeps a job's state a week);
# after that no page links to the file, so it is only a copy of official-sensitive data.
KEEP_EXPORTS_SECONDS = 7 * 24 * 3600


def export_path(name: str) -> Path:
    if not SAFE_NAME.match(name):
        raise ValueError("not an export file name")
    folder = Path(current_app.config["STORAGE_DIR"]) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def remove_old_exports(now: float | None = None) -> int:
    """Delete the ZIPs older than a week; returns how many went."""
    cutoff = (now if now is not None else time.time()) - KEEP_EXPORTS_SECONDS
    removed = 0
    for path in export_path(f"{'0' * 32}.zip").parent.glob("*.zip"):
        if SAFE_NAME.match(path.name) and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def accepted_returns(user: User, period_code: str) -> list[ServiceReturn]:
    """The accepted returns for exactly this period (a month or a quarter) that `user` may see."""
    return list(db.session.scalars(_accepted(user, period_code, ServiceReturn))) if parse_period(period_code) else []


def _accepted(user: User, period_code: str, *columns: Any) -> Any:
    period = parse_period(period_code)
    assert period is not None
    return (
        access.visible(ServiceReturn, user)
        .with_only_columns(*columns)
        .where(
            ServiceReturn.status == ReturnStatus.ACCEPTED,
            ServiceReturn.period_kind == period.kind,
            ServiceReturn.period_start == period.start,
        )
        .order_by(ServiceReturn.id)
    )


def run(user_id: int, period_code: str) -> dict[str, Any]:
    """The job: render each PDF into the ZIP, reporting progress after each.

    A quarter at national scale has a return per contract, each PDF some pages: the returns are read
    one at a time and let go once written (the ZIP is written to disk as it goes), so the job's
    memory stays that of one return whatever the quarter holds."""
    user = db.session.get(User, user_id)
    if user is None or not access.can(user, "decide", ServiceReturn):
        raise NotAllowed("Only the CRC's contract managers can download returns in bulk")
    ids = list(db.session.scalars(_accepted(user, period_code, ServiceReturn.id))) if parse_period(period_code) else []
    remove_old_exports()
    name = f"{uuid.uuid4().hex}.zip"
    path = export_path(name)
    report_progress(0, len(ids), f"Preparing {len(ids)} returns")
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for done, return_id in enumerate(ids, start=1):
                service_return = db.session.get(ServiceReturn, return_id)
                assert service_return is not None
                filename = service_return.filename
                which = f"{service_return.contract.reference}'s return for {service_return.period.label}"
                try:
                    document = service_return_pdf(service_return)
                except Exception as error:
                    log.exception("the PDF of service return %s could not be made", return_id)
                    raise DomainError(f"The PDF of {which} could not be made, so no ZIP file was made.") from error
                archive.writestr(filename, document)
                del document
                # Let go of the return, its contract and whatever the PDF read, before the next.
                db.session.expunge_all()
                report_progress(done, len(ids), f"{done} of {len(ids)} returns ready")
    except BaseException:
        path.unlink(missing_ok=True)  # no half-made ZIP is left for anyone to find
        raise
    return {"file": name, "download_name": f"service-returns-{period_code}.zip", "count": len(ids)}
