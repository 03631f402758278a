"""`flask helpdesk …`: demo data, users, the rq worker and the one cron scheduler."""

from __future__ import annotations

import os
import socket
import sys
import threading
import uuid

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError
from rq import Worker
from rq.serializers import JSONSerializer
from sqlalchemy import text

from . import workflows
from .errors import DomainError
from .extensions import QUEUES, db, get_queue, get_redis
from .models import Role

helpdesk = AppGroup("helpdesk", help="Bayit+ Soporte: demo data, users, worker, cron.")

CRON_LOCK = "helpdesk:cron:lock"
CRON_LOCK_TTL = 30


def fail(message: str) -> None:
    """Stop the command with a one-line message and exit status 1."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def require_database() -> None:
    """Exit with one line if the database cannot be reached."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        fail(f"cannot reach the database ({type(exc).__name__}); check DATABASE_URL")
    finally:
        db.session.rollback()  # release the connection (and SQLite's write lock)


def require_redis():
    """Exit with one line if Redis cannot be reached; else return the connection."""
    try:
        redis = get_redis()
        redis.ping()
        return redis
    except (RedisError, OSError) as exc:
        fail(f"cannot reach Redis ({type(exc).__name__}); check REDIS_URL")


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
    """Run one rq worker on the helpdesk queues."""
    redis = require_redis()
    db.engine.dispose()  # no pooled connection crosses rq's fork
    names = queues or QUEUES
    worker = Worker([get_queue(n) for n in names], connection=redis, serializer=JSONSerializer,
                    name=f"helpdesk-{socket.gethostname()}-{os.getpid()}")
    worker.work(burst=burst, with_scheduler=False)


def acquire_cron_lock(redis, token: str) -> bool:
    """Take the single-scheduler lock; False if another scheduler holds it."""
    return bool(redis.set(CRON_LOCK, token, nx=True, ex=CRON_LOCK_TTL))


def _renew_cron_lock(redis, token: str, stop: threading.Event) -> None:
    renew = redis.register_script(
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
    )
    while not stop.wait(CRON_LOCK_TTL / 3):
        try:
            if not renew(keys=[CRON_LOCK], args=[token, CRON_LOCK_TTL]):
                os._exit(3)  # lost the lock: another scheduler took over; never run two
        except RedisError:
            continue


@helpdesk.command("cron")
def cron_command():
    """Run the one rq cron scheduler; a second one refuses to start."""
    from .jobs import build_cron

    redis = require_redis()
    token = uuid.uuid4().hex
    if not acquire_cron_lock(redis, token):
        fail("another helpdesk cron scheduler is already running")
    stop = threading.Event()
    threading.Thread(target=_renew_cron_lock, args=(redis, token, stop), daemon=True).start()
    scheduler = build_cron(redis)
    try:
        scheduler.start()
    finally:
        stop.set()
        redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then "
                   "return redis.call('del', KEYS[1]) else return 0 end", 1, CRON_LOCK, token)


@helpdesk.command("serve")
@click.option("--port", default=lambda: int(os.environ.get("PORT", 5000)), type=int)
@click.option("--demo/--no-demo", default=True, help="Load demo data on the first start.")
def serve_command(port: int, demo: bool):
    """`make run`: migrate, load demo data once, then web + worker + cron until Ctrl-C."""
    from .launcher import serve

    serve(current_app._get_current_object(), port=port, demo=demo)


def init_app(app: Flask) -> None:
    """Register `flask helpdesk …`."""
    app.cli.add_command(helpdesk)
