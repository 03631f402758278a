"""Tables of a ticket's back half: escalations, resolution rounds and satisfaction ratings.

Re-exported by `helpdesk.models`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .columns import UTCDateTime, str_enum, utcnow
from .enums import Priority, SlaState
from .extensions import db

if TYPE_CHECKING:  # relationships name them; SQLAlchemy resolves the names at mapping time
    from .models import EscalationReason, ResolutionCategory, Team, Ticket, User


class Escalation(db.Model):
    """A hand-up of a ticket to another team or supervisor, with context, the SLA as it stood,
    and (if a supervisor sent it back) its de-escalation."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    reason_id: Mapped[int] = mapped_column(ForeignKey("escalation_reasons.id"))
    from_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    #: Who held the ticket when it was escalated (a de-escalation gives it back to them).
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    level: Mapped[int] = mapped_column(SmallInteger, default=1)
    context: Mapped[str] = mapped_column(Text)
    raised_priority: Mapped[Priority | None] = mapped_column(str_enum(Priority))
    #: The SLA at that moment: its state, the deadline running and the time paused so far.
    sla_state: Mapped[SlaState | None] = mapped_column(str_enum(SlaState))
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_paused_minutes: Mapped[float | None] = mapped_column(db.Float)
    #: Automatic escalations only: one per ticket and target (`auto:sla:<ticket>:<team>`).
    auto_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    deescalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deescalated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deescalation_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reason: Mapped[EscalationReason] = relationship()
    from_team: Mapped[Team | None] = relationship(foreign_keys=[from_team_id])
    to_team: Mapped[Team | None] = relationship(foreign_keys=[to_team_id])
    from_user: Mapped[User | None] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User | None] = relationship(foreign_keys=[to_user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    deescalated_by: Mapped[User | None] = relationship(foreign_keys=[deescalated_by_id])


class ResolutionRound(db.Model):
    """One resolution of a ticket (*Resolver*) and what followed it: the customer's
    confirmation, a reopen, the survey. One row per round, so reopen and confirmation rates
    can be computed later; the resolver, team and categories are kept as they were then."""

    __tablename__ = "resolution_rounds"
    __table_args__ = (UniqueConstraint("ticket_id", "number"),
                      Index("ix_resolution_rounds_resolved", "resolved_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    number: Mapped[int] = mapped_column(SmallInteger, default=1)  # 1, 2… per ticket
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who is credited (its survey's score goes to them): the assignee then, else the resolver.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    resolution_category_id: Mapped[int] = mapped_column(ForeignKey("resolution_categories.id"))
    closing_notes: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: From creation to this resolution, net of the time spent in Pendiente (and in Resuelto
    #: before an earlier reopen): what the reports average.
    resolution_seconds: Mapped[int] = mapped_column(Integer, default=0)
    confirmation_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: "yes" / "no" once the customer answered through a link.
    confirmation_answer: Mapped[str | None] = mapped_column(String(10))
    confirmation_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who or what reopened it: customer_link, customer_message, agent.
    reopened_by: Mapped[str | None] = mapped_column(String(20))
    survey_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Not sent (reopened, surveyed lately) or voided by a reopen before an answer.
    survey_skipped: Mapped[str | None] = mapped_column(String(20))
    #: Past the reopen window, the customer's link or message opened this ticket instead.
    follow_up_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"))

    ticket: Mapped[Ticket] = relationship(foreign_keys=[ticket_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id])
    team: Mapped[Team | None] = relationship()
    resolution_category: Mapped[ResolutionCategory] = relationship()
    rating: Mapped[SatisfactionRating | None] = relationship(back_populates="round",
                                                             uselist=False)


class SatisfactionRating(db.Model):
    """The customer's 1–5 score for one resolution round, credited to the agent, team and
    resolution category as they were when it was resolved."""

    __tablename__ = "satisfaction_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    #: One answer per round (None: a rating given before rounds were kept).
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("resolution_rounds.id", ondelete="CASCADE"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    resolution_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("resolution_categories.id"))
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[ResolutionRound | None] = relationship(back_populates="rating")
    agent: Mapped[User | None] = relationship()
