"""Start-up checks shared by the CLI and `make run`'s launcher: one line and exit status 1
when the database or Redis cannot be reached."""

from __future__ import annotations

import sys

import click
from redis.exceptions import RedisError
from sqlalchemy import text

from .extensions import db, get_redis


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
