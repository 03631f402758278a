"""Notices for staff and each person's choice of how to get them (`workflows.notify`).
Re-exported by `helpdesk.models`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .columns import UTCDateTime, utcnow
from .extensions import db

if TYPE_CHECKING:  # relationships name them; SQLAlchemy resolves the names at mapping time
    from .models import Team, Ticket, User


class Notification(db.Model):
    """A notice for one staff member: an SLA breach of one ticket, or a digest of `count`
    breaches of a team's tickets (`team_id`, no ticket); a ticket assigned to them, the
    customer answering their ticket, a mention in a note, an escalation (workflows.notify).
    `message` is `<kind>:<detail>` (the detail names what the notice is about); a notice the
    person wants by e-mail only is stored already read (the mail's record)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                                  index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    ticket: Mapped[Ticket | None] = relationship()
    team: Mapped[Team | None] = relationship()


class NotificationPreference(db.Model):
    """How one person wants one kind of notice (`rules.NOTICE_KINDS`): in the panel, by
    e-mail, both or neither. No row: the kind's default (`rules.NOTICE_DEFAULTS`)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_notification_pref_user_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    panel: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
