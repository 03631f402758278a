"""Refusals of the domain layer; their messages are translated and safe to show to a user."""

import sqlite3

from sqlalchemy.exc import OperationalError

#: PostgreSQL SQLSTATEs of a bounded wait: lock_not_available (lock_timeout) and
#: query_canceled (statement_timeout); and deadlock_detected, the server ending one of two
#: transactions that waited for each other — the same answer: nothing saved, try again.
TIMEOUT_SQLSTATES = frozenset({"55P03", "57014", "40P01"})


class DomainError(Exception):
    """A request the helpdesk refuses; `str(exc)` is a user-safe, translated message."""


class InvalidTransition(DomainError):
    """The ticket cannot move from its status to the one asked for."""


class CapacityExceeded(DomainError):
    """The agent already has as many open tickets as their capacity allows."""


class Conflict(DomainError):
    """Someone else changed the object since the page was loaded."""


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether `exc` is the database giving up on a lock or a slow statement (PostgreSQL
    lock_timeout/statement_timeout, SQLite "database is locked"): worth retrying, not a bug."""
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in TIMEOUT_SQLSTATES:
        return True
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)
