"""`flask people retention`: anonymise people past the retention rule (RETENTION_YEARS)."""

from __future__ import annotations

import click
from flask import current_app

from portal.formatting import format_date
from portal.people import retention


@click.group("people", help="People on probation: the retention rule.")
def people_cli() -> None:
    pass


@people_cli.command("retention", help="Anonymise people whose last referral ended more than RETENTION_YEARS ago.")
@click.option("--dry-run", is_flag=True, help="Only list who would be anonymised; change nothing.")
def retention_command(dry_run: bool) -> None:
    years = current_app.config["RETENTION_YEARS"]
    due = retention.apply_rule(dry_run=dry_run)
    verb = "Would anonymise" if dry_run else "Anonymised"
    click.echo(
        f"{verb} {len(due)} person(s) whose last referral ended before {format_date(retention.cutoff())} "
        f"({years} years)."
    )
    for item in due:  # ids and dates only: never a name or CRN on a terminal or in a cron log
        ended = f"last referral ended {format_date(item.last_ended_on)}" if item.last_ended_on else "never referred"
        click.echo(f"  person {item.person_id}: {ended}")
