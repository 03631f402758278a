"""The queue's saved views: a person's named filters, search and sort, optionally shared with
one of their teams; and the index the queue's *Escalados* count reads. Re-exported by
`helpdesk.models` (imported at its end, once `Ticket` exists)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .columns import UTCDateTime, utcnow
from .extensions import db
from .models import Ticket

#: A saved view's name and its stored query string, at most.
SAVED_VIEW_NAME_MAX, SAVED_VIEW_QUERY_MAX = 60, 2000


class SavedView(db.Model):
    """The queue's list arguments (filters `flt…`, `search`, `sort`, `desc`) under a name.
    Its owner sees, renames and deletes it; with `team_id` the members of that team (one of
    the owner's) see it too. It stores arguments, never tickets: whoever opens it sees only
    the tickets they may see."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"),
                                                index=True)
    name: Mapped[str] = mapped_column(String(SAVED_VIEW_NAME_MAX))
    query: Mapped[str] = mapped_column(String(SAVED_VIEW_QUERY_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: *Escalados* counts the few escalated tickets among all (escalation_level > 0): without it
#: every queue page scanned the whole table (90–130 ms at 100,000 tickets under load).
Index("ix_tickets_escalation", Ticket.escalation_level, Ticket.status, Ticket.team_id,
      Ticket.assignee_id)
