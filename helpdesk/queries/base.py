"""Constants and settings every read shares."""

from __future__ import annotations

from ..extensions import db
from ..models import Setting, TicketStatus

OPEN_STATES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)

#: Kind of notice and audit action of a first SLA breach; kind of a notice for many at once.
BREACH = "sla_breach"


BREACH_DIGEST = "sla_breach_digest"


def contains(column, term: str):
    """`column` contains `term`, case-insensitive, with `%`, `_` and `\\` taken literally (every
    LIKE built from user text goes through here)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def get_setting(key: str, default=None):
    """A value of the settings table, or `default`."""
    row = db.session.get(Setting, key)
    return default if row is None else row.value
