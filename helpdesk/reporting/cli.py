"""`flask helpdesk reports …`: rebuild the report facts from the raw rows."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from .. import rules
from ..preflight import fail, require_database, require_redis
from . import refresh

reports = AppGroup("reports", help="Informes: rebuild the report tables.")


@reports.command("rebuild")
@click.option("--since", "since", default=None,
              help="Only tickets changed since this day (YYYY-MM-DD, configured time zone).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def rebuild_command(since: str | None, quiet: bool):
    """Rebuild the report facts from scratch (or from a day on), with a progress bar."""
    require_database()
    require_redis()
    start = None
    if since:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            fail(f"--since: not a date (YYYY-MM-DD): {since!r}")
        tz = ZoneInfo(current_app.config["HELPDESK_DEFAULT_TIMEZONE"])
        start = datetime.combine(day, time(), tz)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="reports")
            bar.__enter__()
        bar.update(done - bar.pos)

    done = refresh.rebuild(start, rules.utcnow(), progress=progress)
    if bar is not None:
        bar.__exit__(None, None, None)
    if done is None:
        fail("another report refresh or rebuild is running; try again when it ends")
    click.echo(f"reports: {done} tickets rebuilt")
