"""The bulk download: every accepted return of a period that a contract manager can see, as one ZIP
of PDFs, made by a background job (portal.jobs) that reports its progress."""

from __future__ import annotations

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
from portal.extensions import db
from portal.jobs import report_progress
from portal.returns.documents import service_return_pdf
from portal.returns.models import ReturnStatus, ServiceReturn

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
    period = parse_period(period_code)
    if period is None:
        return []
    return list(
        db.session.scalars(
            access.visible(ServiceReturn, user)
            .where(
                ServiceReturn.status == ReturnStatus.ACCEPTED,
                ServiceReturn.period_kind == period.kind,
                ServiceReturn.period_start == period.start,
            )
            .order_by(ServiceReturn.id)
        )
    )


def run(user_id: int, period_code: str) -> dict[str, Any]:
    """The job: render each PDF into the ZIP, reporting progress after each."""
    user = db.session.get(User, user_id)
    if user is None or not access.can(user, "decide", ServiceReturn):
        raise PermissionError("only contract managers download returns in bulk")
    returns = accepted_returns(user, period_code)
    remove_old_exports()
    name = f"{uuid.uuid4().hex}.zip"
    path = export_path(name)
    report_progress(0, len(returns), f"Preparing {len(returns)} returns")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, service_return in enumerate(returns, start=1):
            archive.writestr(service_return.filename, service_return_pdf(service_return))
            report_progress(done, len(returns), f"{done} of {len(returns)} returns ready")
    return {"file": name, "download_name": f"service-returns-{period_code}.zip", "count": len(returns)}
