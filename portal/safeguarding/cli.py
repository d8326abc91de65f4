"""`flask safeguarding escalate`: run from cron to escalate concerns not acknowledged in time."""

from __future__ import annotations

import click
from flask.cli import AppGroup

safeguarding_cli = AppGroup("safeguarding", help="Safeguarding concerns.")


@safeguarding_cli.command("escalate")
def escalate_command() -> None:
    """Email each referrer's team manager about concerns not acknowledged by their deadline (once each)."""
    from portal.safeguarding.service import escalate_overdue

    escalated = escalate_overdue()
    from portal.formatting import plural

    click.echo(f"Escalated {plural(len(escalated), 'safeguarding concern')}.")
