"""Report tables, filled by the report jobs (`helpdesk.reporting`). Re-exported by
`helpdesk.models`.

Two layers. The *facts* keep one narrow row per ticket, resolution round, rating, staff message
and escalation; the jobs replace a ticket's facts whenever it changes. The *day cubes*
(`report_*_day`) add the facts up per day (in the service's time zone) and cell: team ×
category × agent × priority × channel, with counts, sums and, for durations, a mergeable
quantile sketch (`reporting.sketch`). The Informes page reads the cubes; the facts serve the
refresh, the latest comments and viewers whose days are not the service's.

Only `report_tickets` has a foreign key (a deleted ticket takes its row along); the other facts
are keyed (ticket, row) and replaced with their ticket's, which keeps a full rebuild's bulk
inserts free of a lookup per row.

`cell` is the five dimensions as one text key ("team|category|agent|priority|channel", empty
for none): the refresh finds the cells a change touched by (day, cell), NULLs and all.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from .columns import UTCDateTime
from .extensions import db

CELL_LENGTH = 80


class _Cell:
    """The day (service time zone) and the five dimensions every filter of the page uses."""

    day: Mapped[date] = mapped_column(Date)
    cell: Mapped[str] = mapped_column(String(CELL_LENGTH))
    team_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))

    @declared_attr.directive
    def __table_args__(cls):
        return (Index(f"ix_{cls.__tablename__}_cell", "day", "cell"),)


class ReportTicket(_Cell, db.Model):
    """One row per ticket, for the response and volume figures (the report jobs fill it)."""

    __tablename__ = "report_tickets"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(20))
    #: Creation to the first public staff reply (notes and events never count); business
    #: seconds when the priority's SLA policy has a calendar.
    first_response_s: Mapped[float | None] = mapped_column(Float)
    #: Answered by its first-response deadline (None: no deadline, or not answered yet).
    first_response_met: Mapped[bool | None] = mapped_column(Boolean)


class ReportRound(_Cell, db.Model):
    """One row per resolution round: resolution time, reopen, confirmation, survey sent."""

    __tablename__ = "report_rounds"

    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resolution_category_id: Mapped[int | None] = mapped_column(Integer)
    #: Net of Pendiente (resolution_rounds.resolution_seconds).
    resolution_s: Mapped[float] = mapped_column(Float)
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmation_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    survey_sent: Mapped[bool] = mapped_column(Boolean, default=False)


class ReportRating(_Cell, db.Model):
    """One row per satisfaction rating, credited as the rating was."""

    __tablename__ = "report_ratings"

    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resolution_category_id: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)


class ReportActivity(_Cell, db.Model):
    """One row per staff message (public reply or internal note), for productivity."""

    __tablename__ = "report_activity"

    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    public: Mapped[bool] = mapped_column(Boolean)


class ReportEscalation(db.Model):
    """One row per escalation: reason and target team (few: the page groups these in SQL)."""

    __tablename__ = "report_escalations"
    __table_args__ = (Index("ix_report_escalations_created", "created_at"),)

    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason_id: Mapped[int] = mapped_column(Integer)
    to_team_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))


class _CubeRow(_Cell):
    id: Mapped[int] = mapped_column(primary_key=True)


class ReportResponseDay(_CubeRow, db.Model):
    """Tickets created per day and cell: first responses and their sketch, SLA met."""

    __tablename__ = "report_response_day"

    tickets: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    sum_s: Mapped[float | None] = mapped_column(Float)
    met: Mapped[int] = mapped_column(Integer)
    judged: Mapped[int] = mapped_column(Integer)
    sketch: Mapped[bytes | None] = mapped_column(LargeBinary)


class ReportResolutionDay(_CubeRow, db.Model):
    """Resolution rounds per day and cell: resolution times and their sketch, outcomes."""

    __tablename__ = "report_resolution_day"

    rounds: Mapped[int] = mapped_column(Integer)
    sum_s: Mapped[float | None] = mapped_column(Float)
    reopened: Mapped[int] = mapped_column(Integer)
    confirm_asked: Mapped[int] = mapped_column(Integer)
    confirmed: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    survey_sent: Mapped[int] = mapped_column(Integer)
    sketch: Mapped[bytes | None] = mapped_column(LargeBinary)


class ReportRatingDay(_CubeRow, db.Model):
    """Ratings per day, cell and resolution category: how many of each score."""

    __tablename__ = "report_rating_day"

    resolution_category_id: Mapped[int | None] = mapped_column(Integer)
    ratings: Mapped[int] = mapped_column(Integer)
    score_1: Mapped[int] = mapped_column(Integer)
    score_2: Mapped[int] = mapped_column(Integer)
    score_3: Mapped[int] = mapped_column(Integer)
    score_4: Mapped[int] = mapped_column(Integer)
    score_5: Mapped[int] = mapped_column(Integer)


class ReportActivityDay(_CubeRow, db.Model):
    """Staff messages per day and cell (the author is the agent): replies and notes."""

    __tablename__ = "report_activity_day"

    replies: Mapped[int] = mapped_column(Integer)
    notes: Mapped[int] = mapped_column(Integer)


class ReportBacklog(db.Model):
    """Open tickets per status and team at the end of each hour (its last refresh): a
    viewer's day ends at the last snapshot before their midnight, whatever their zone."""

    __tablename__ = "report_backlog"
    __table_args__ = (Index("ix_report_backlog_hour", "hour"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(Integer)
    tickets: Mapped[int] = mapped_column(Integer)


class ReportCalendarSpan(db.Model):
    """The open spans of a business calendar (helpdesk.hours), each with the business seconds
    before it: business time between two instants is a difference of two lookups, in SQL."""

    __tablename__ = "report_calendar_spans"

    calendar_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    begin_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    before_s: Mapped[float] = mapped_column(Float)
