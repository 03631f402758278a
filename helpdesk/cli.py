"""`flask helpdesk …`: demo data, users, the rq worker and the one cron scheduler."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import workflows
from .cron import CronExit, run_scheduler
from .errors import DomainError
from .extensions import QUEUES, db
from .launcher import serve
from .models import Role
from .preflight import fail, require_database, require_redis
from .worker import run_worker

helpdesk = AppGroup("helpdesk", help="Bayit+ Soporte: demo data, users, worker, cron.")

@helpdesk.command("check")
def check_command():
    """Check that the database and Redis answer."""
    require_database()
    require_redis()
    click.echo("ok: database and Redis answer")


@helpdesk.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice([r.name.lower() for r in Role]), default="agent",
              show_default=True)
@click.option("--name", default="", help="Display name (default: the e-mail).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email: str, role: str, name: str, password_stdin: bool):
    """Create a staff account (the first admin of a real install comes from here)."""
    require_database()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with workflows.atomic():
            user = workflows.create_user(email, name, password, role=Role[role.upper()],
                                         actor=None)
    except DomainError as exc:
        fail(str(exc))
    click.echo(f"created {user.email} ({role})")


@helpdesk.command("demo")
@click.option("--tickets", default=2000, show_default=True, type=click.IntRange(0, 5_000_000))
@click.option("--seed", default=42, show_default=True, help="Random seed (same seed, same data).")
@click.option("--if-empty", is_flag=True, help="Do nothing when staff accounts already exist.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def demo_command(tickets: int, seed: int, if_empty: bool, quiet: bool):
    """Fill a realistic Spanish-language demo dataset (teams, agents, customers, tickets)."""
    from . import demo

    require_database()
    if if_empty and demo.has_data():
        click.echo("demo: data already present, nothing loaded")
        return
    if demo.has_data():
        fail("the database already has data; use a fresh database for the demo")
    result = demo.seed(tickets=tickets, seed=seed, progress=not quiet)
    click.echo(f"demo: {result['tickets']} tickets, {result['customers']} customers, "
               f"{result['agents']} agents in {result['seconds']:.1f} s")
    click.echo("logins (password 'demo'): " + ", ".join(demo.DEMO_LOGINS))


@helpdesk.command("recount")
def recount_command():
    """Check the agents' open-ticket counters against their tickets and repair any drift."""
    require_database()
    with workflows.atomic():
        repaired = workflows.recount_open_tickets()
    for user_id, was, actual in repaired:
        click.echo(f"user {user_id}: open tickets {was} -> {actual}")
    click.echo(f"recount: {len(repaired)} counter(s) repaired")


@helpdesk.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.argument("queues", nargs=-1)
def worker_command(burst: bool, queues: tuple[str, ...]):
    """Run one rq worker on the helpdesk queues; it outlives Redis restarts."""
    redis = require_redis()
    db.engine.dispose()  # no pooled connection crosses rq's fork
    sys.exit(run_worker(redis, queues or QUEUES, burst=burst))


@helpdesk.command("cron")
def cron_command():
    """Run the one rq cron scheduler (it outlives Redis restarts); a second one refuses to
    start."""
    ended = run_scheduler(require_redis())
    if ended is CronExit.REFUSED:
        fail("another helpdesk cron scheduler is already running")
    if ended is CronExit.LOST:
        fail("another helpdesk cron scheduler took over while Redis was away; stopped")


@helpdesk.command("serve")
@click.option("--port", default=lambda: int(os.environ.get("PORT", 5000)), type=int)
@click.option("--demo/--no-demo", default=None,
              help="Load demo data into an empty database (default: only into the embedded "
                   "SQLite file, never into one DATABASE_URL names).")
def serve_command(port: int, demo: bool | None):
    """`make run`: migrate, load demo data once, then web + worker + cron until Ctrl-C."""
    serve(current_app._get_current_object(), port=port, demo=demo)


def init_app(app: Flask) -> None:
    """Register `flask helpdesk …`."""
    from .inbound.commands import mail  # `flask helpdesk mail receive` (the MTA pipe)
    from .reporting.cli import reports

    helpdesk.add_command(mail)
    helpdesk.add_command(reports)
    app.cli.add_command(helpdesk)
