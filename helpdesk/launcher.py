"""`make run`: one command that migrates, seeds once, and supervises web + worker + cron
(restarting a child that crashes, within a budget)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, field

import click
import flask_migrate
from flask import Flask

from .config import EMBEDDED_DATABASE_URI
from .extensions import shutdown_embedded_redis
from .preflight import fail, require_database, require_redis

DEMO_TICKETS = 3000


def wants_demo(app: Flask, demo: bool | None) -> bool:
    """`--demo`/`--no-demo` as given; unsaid, only the embedded SQLite file gets demo accounts
    (password `demo`): a database DATABASE_URL names may be a real, merely empty, install."""
    if demo is not None:
        return demo
    return app.config["SQLALCHEMY_DATABASE_URI"] == EMBEDDED_DATABASE_URI


def _prepare(app: Flask, demo: bool) -> str:
    """Migrate, seed on first start if `demo`, start Redis; return the children's REDIS_URL."""
    from . import demo as demo_data

    with app.app_context():
        require_database()
        try:
            with warnings.catch_warnings():
                # Alembic's autogenerate reflection says so of every expression index, each
                # start; nothing is wrong (the indexes are the migrations' own)
                warnings.filterwarnings("ignore", "Skipped unsupported reflection of "
                                        "expression-based index")
                flask_migrate.upgrade()
        except Exception as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            fail(f"database migration failed ({type(exc).__name__}: {first_line})")
        if demo and not demo_data.has_data():
            click.echo(f"Loading demo data ({DEMO_TICKETS} tickets)…")
            demo_data.seed(tickets=DEMO_TICKETS, progress=True)
        redis = require_redis()  # starts the embedded server when REDIS_URL is unset
        if app.config["REDIS_URL"]:
            return app.config["REDIS_URL"]
        return f"unix://{redis.connection_pool.connection_kwargs['path']}"


#: A child that crashes more than MAX_CRASHES times within CRASH_WINDOW seconds stops
#: everything; before that each crash is followed by a restart after 1, 2, 4, 8… s (at most 10).
MAX_CRASHES = 5
CRASH_WINDOW = 60.0
MAX_RESTART_DELAY = 10.0


class CrashBudget:
    """One child's recent crashes: how long to wait before restarting it, or give up."""

    def __init__(self, limit: int = MAX_CRASHES, window: float = CRASH_WINDOW):
        self.limit, self.window = limit, window
        self.crashes: deque[float] = deque()

    def crashed(self, now: float) -> float | None:
        """Record a crash at `now`; the restart delay, or None past the budget."""
        self.crashes.append(now)
        while self.crashes[0] <= now - self.window:
            self.crashes.popleft()
        if len(self.crashes) > self.limit:
            return None
        return min(2.0 ** (len(self.crashes) - 1), MAX_RESTART_DELAY)


@dataclass
class Child:
    """One supervised process: its command, the running process (None while it waits to be
    restarted) and its crash budget."""

    name: str
    args: list[str]
    proc: subprocess.Popen | None = None
    restart_at: float = 0.0
    budget: CrashBudget = field(default_factory=CrashBudget)

    def start(self, env: dict) -> None:
        """Spawn `flask --app app <args>`."""
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *self.args],
                                     env=env)


def _say(message: str) -> None:
    """One timestamped line on stderr. Not a logger: migrating loaded alembic's logging
    configuration, which would print each logger line twice."""
    click.echo(f"{time.strftime('%H:%M:%S')} launcher: {message}", err=True)


def _watch(children: list[Child], env: dict, now: float) -> str | None:
    """One supervision pass: restart children whose delay is over, schedule the restart of
    those that exited; the name of a child past its crash budget, else None."""
    for child in children:
        if child.proc is None:
            if now >= child.restart_at:
                child.start(env)
                _say(f"{child.name} restarted (pid {child.proc.pid})")
            continue
        status = child.proc.poll()
        if status is None:
            continue
        child.proc = None
        delay = child.budget.crashed(now)
        if delay is None:
            return child.name
        _say(f"{child.name} exited unexpectedly (status {status}); restarting in {delay:.0f} s")
        child.restart_at = now + delay
    return None


def _stop_all(children: list[Child]) -> None:
    running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


def serve(app: Flask, *, port: int, demo: bool | None) -> None:
    """Run web + worker + cron until Ctrl-C/SIGTERM, restarting a child that crashes; stop
    everything (exit 1) when one crashes more than MAX_CRASHES times in CRASH_WINDOW s."""
    demo = wants_demo(app, demo)
    redis_url = _prepare(app, demo)
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    children = [
        Child("worker", ["helpdesk", "worker"]),
        Child("cron", ["helpdesk", "cron"]),
        Child("web", ["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"]),
    ]
    for child in children:
        child.start(env)
    from .demo import DEMO_LOGINS

    click.echo(f"\nBayit+ Soporte: http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
    if demo:
        click.echo("Demo logins, password 'demo': " + ", ".join(DEMO_LOGINS) + "\n")
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        given_up = _watch(children, env, time.monotonic())
        if given_up and not stopping:
            click.echo(f"Error: {given_up} crashed more than {MAX_CRASHES} times in "
                       f"{CRASH_WINDOW:.0f} s; stopping everything (see its log above)",
                       err=True)
            exit_code = 1
            break
        time.sleep(0.5)
    _stop_all(children)
    shutdown_embedded_redis()
    click.echo("Stopped.")
    sys.exit(exit_code)
