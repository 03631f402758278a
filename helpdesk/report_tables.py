"""Report tables, filled by the report jobs (`helpdesk.reporting`); the Informes page reads
only these. Re-exported by `helpdesk.models`."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .columns import UTCDateTime, utcnow
from .extensions import db

if TYPE_CHECKING:  # relationships name them; SQLAlchemy resolves the names at mapping time
    pass


class ReportAgentDay(db.Model):
    """Per agent and day: tickets resolved, replies sent, mean first-response time."""

    __tablename__ = "report_agent_day"
    __table_args__ = (UniqueConstraint("day", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tickets_resolved: Mapped[int] = mapped_column(Integer, default=0)
    replies_sent: Mapped[int] = mapped_column(Integer, default=0)
    avg_first_response_s: Mapped[int | None] = mapped_column(Integer)
    avg_satisfaction: Mapped[float | None] = mapped_column(db.Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportCategoryDay(db.Model):
    """Per category and day: tickets opened and resolved, mean resolution time, satisfaction."""

    __tablename__ = "report_category_day"
    __table_args__ = (UniqueConstraint("day", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    tickets_created: Mapped[int] = mapped_column(Integer, default=0)
    tickets_resolved: Mapped[int] = mapped_column(Integer, default=0)
    avg_first_response_s: Mapped[int | None] = mapped_column(Integer)
    avg_resolution_s: Mapped[int | None] = mapped_column(Integer)
    avg_satisfaction: Mapped[float | None] = mapped_column(db.Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportTicket(db.Model):
    """One row per ticket, for the response and volume figures (the report jobs fill it)."""

    __tablename__ = "report_tickets"
    __table_args__ = (Index("ix_report_tickets_created", "created_at"),
                      Index("ix_report_tickets_team_created", "team_id", "created_at"))

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    team_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    #: Creation to the first public staff reply (notes and events never count).
    first_response_s: Mapped[float | None] = mapped_column(db.Float)
    #: Answered by its first-response deadline (None: no deadline, or not answered yet).
    first_response_met: Mapped[bool | None] = mapped_column(Boolean)


class ReportRound(db.Model):
    """One row per resolution round: resolution time, reopen, confirmation, survey sent."""

    __tablename__ = "report_rounds"
    __table_args__ = (Index("ix_report_rounds_resolved", "resolved_at"),)

    round_id: Mapped[int] = mapped_column(ForeignKey("resolution_rounds.id", ondelete="CASCADE"),
                                          primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    team_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    resolution_category_id: Mapped[int | None] = mapped_column(Integer)
    #: Net of Pendiente (resolution_rounds.resolution_seconds).
    resolution_s: Mapped[float] = mapped_column(db.Float)
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmation_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    survey_sent: Mapped[bool] = mapped_column(Boolean, default=False)


class ReportRating(db.Model):
    """One row per satisfaction rating, credited as the rating was."""

    __tablename__ = "report_ratings"
    __table_args__ = (Index("ix_report_ratings_created", "created_at"),)

    rating_id: Mapped[int] = mapped_column(
        ForeignKey("satisfaction_ratings.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    team_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    resolution_category_id: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)


class ReportActivity(db.Model):
    """One row per staff message (public reply or internal note), for productivity."""

    __tablename__ = "report_activity"
    __table_args__ = (Index("ix_report_activity_created", "created_at"),)

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"),
                                            primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(Boolean)


class ReportEscalation(db.Model):
    """One row per escalation: reason and target team."""

    __tablename__ = "report_escalations"
    __table_args__ = (Index("ix_report_escalations_created", "created_at"),)

    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason_id: Mapped[int] = mapped_column(Integer)
    to_team_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))


class ReportBacklog(db.Model):
    """Open tickets per status and team at the end of each day (the day's last refresh)."""

    __tablename__ = "report_backlog"
    __table_args__ = (Index("ix_report_backlog_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(Integer)
    tickets: Mapped[int] = mapped_column(Integer)
