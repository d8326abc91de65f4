"""`flask outbox …`: delivering queued email (run it from cron if a request's delivery failed);
`flask notifications send-digest`: the daily digests (run it from cron each morning)."""

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


@click.group("notifications", help="Notifications about work.")
def notifications_cli() -> None:
    pass


@notifications_cli.command("send-digest", help="Email each person who chose a daily digest what is waiting for them.")
def send_digest() -> None:
    from portal.notifications.rules import send_digests

    digests = send_digests()
    while deliver_queued(limit=1000):
        pass
    click.echo(f"Sent {digests} digest(s)")
