"""`make run`: one command that migrates, seeds once, and supervises web + worker + cron."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args], env=env)


def serve(app: Flask, *, port: int, demo: bool | None) -> None:
    """Run until Ctrl-C (or until a child dies), then stop every child."""
    demo = wants_demo(app, demo)
    redis_url = _prepare(app, demo)
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    children = {
        "worker": _spawn(["helpdesk", "worker"], env),
        "cron": _spawn(["helpdesk", "cron"], env),
        "web": _spawn(["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"], env),
    }
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
        dead = [name for name, p in children.items() if p.poll() is not None]
        if dead:
            click.echo(f"Error: {', '.join(dead)} stopped; shutting down the rest", err=True)
            exit_code = 1
            break
        time.sleep(0.5)
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    shutdown_embedded_redis()
    click.echo("Stopped.")
    sys.exit(exit_code)
