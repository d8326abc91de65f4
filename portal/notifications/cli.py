"""`flask outbox …`: delivering queued email (run it from cron if a request's delivery failed)."""

from __future__ import annotations

import click

from portal.notifications.service import deliver_queued


@click.group("outbox", help="Email outbox.")
def outbox_cli() -> None:
    pass


@outbox_cli.command("deliver", help="Send queued emails.")
def deliver() -> None:
    sent = deliver_queued(limit=1000)
    click.echo(f"Sent {sent} email(s)")
