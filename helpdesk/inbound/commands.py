"""`flask helpdesk mail receive`: the MTA pipe (like Request Tracker's mailgate).

Reads one RFC 5322 message on standard input and commits it raw with its processing intent.
Exit status 0 once stored (a second delivery of a stored Message-ID too: it is recorded as a
duplicate); otherwise non-zero with one line on stderr, so the MTA keeps the message and
retries: 75 (EX_TEMPFAIL) when the database cannot take it, 65 (EX_DATAERR) for empty input.
Redis being down is no reason to refuse: the outbox sweep hands the job over later.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from .store import store_raw

EX_DATAERR, EX_TEMPFAIL = 65, 75

mail = AppGroup("mail", help="E-mail in: the MTA pipe.")


@mail.command("receive")
def receive_command():
    """Store one message read from standard input (for an MTA's pipe)."""
    raw = sys.stdin.buffer.read()
    if not raw.strip():
        click.echo("mail receive: empty input, nothing stored", err=True)
        sys.exit(EX_DATAERR)
    try:
        inbound_id, new = store_raw(raw, source="pipe")
    except SQLAlchemyError as exc:
        click.echo(f"mail receive: not stored, the database refused it "
                   f"({type(exc).__name__}); try again later", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(f"stored #{inbound_id}" if new else f"duplicate #{inbound_id}")
