"""Tables of tickets that belong together and of one-click macros: ticket links (related,
duplicate of, merged into) and the admins' macros.

Re-exported by `helpdesk.models`."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .columns import Timestamped, UTCDateTime, str_enum, utcnow
from .enums import Labelled, Priority, TicketStatus
from .extensions import db

if TYPE_CHECKING:  # relationships name them; SQLAlchemy resolves the names at mapping time
    from .models import Category, ResponseTemplate, Ticket, User


class LinkKind(Labelled, enum.StrEnum):
    """How `ticket` relates to `other`: related (both ways), a duplicate of it, merged into it."""

    RELATED = "related"
    DUPLICATE = "duplicate"
    MERGED = "merged"


LinkKind.LABELS = {"related": _l("Relacionado"), "duplicate": _l("Duplicado de"),
                   "merged": _l("Fusionado en")}


class TicketLink(db.Model):
    """Two tickets that belong together; one row per pair, shown on both tickets' pages."""

    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("ticket_id", "other_id"),
                      Index("ix_ticket_links_other", "other_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    other_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[LinkKind] = mapped_column(str_enum(LinkKind), default=LinkKind.RELATED)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(foreign_keys=[ticket_id])
    other: Mapped[Ticket] = relationship(foreign_keys=[other_id])
    created_by: Mapped[User | None] = relationship()


class Macro(Timestamped, db.Model):
    """A named one-click action kept by admins: a response template (sent in the ticket's
    language) and/or a status, a priority, a category."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("response_templates.id", ondelete="SET NULL"))
    status: Mapped[TicketStatus | None] = mapped_column(str_enum(TicketStatus))
    priority: Mapped[Priority | None] = mapped_column(str_enum(Priority))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    times_used: Mapped[int] = mapped_column(Integer, default=0)

    template: Mapped[ResponseTemplate | None] = relationship()
    category: Mapped[Category | None] = relationship()

    def __str__(self) -> str:
        return self.name
