"""Every table of the helpdesk: enums with their labels, columns, indexes. No workflows here."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .columns import (  # noqa: F401  (re-exported: callers import these from models too)
    IntEnumType,
    Timestamped,
    UTCDateTime,
    str_enum,
    utcnow,
)
from .enums import (  # noqa: F401  (re-exported: callers import enums from models too)
    Availability,
    Channel,
    InboundState,
    IntentState,
    Labelled,
    MessageKind,
    Priority,
    Role,
    SlaState,
    Strategy,
    TicketStatus,
)
from .extensions import db

team_members = db.Table(
    "team_members",
    db.Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

team_supervisors = db.Table(
    "team_supervisors",
    db.Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

#: Where tickets of a team may be escalated by its agents (none listed: any active team).
team_escalation_targets = db.Table(
    "team_escalation_targets",
    db.Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    db.Column("target_team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)

agent_skills = db.Table(
    "agent_skills",
    db.Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    db.Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Timestamped, db.Model):
    """A staff member: agent, supervisor or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(IntEnumType(Role), default=Role.AGENT)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(5), default="es")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Madrid")
    availability: Mapped[Availability] = mapped_column(
        str_enum(Availability), default=Availability.OFFLINE
    )
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    #: Unresolved tickets held, kept by triggers on tickets (migration 51ea1b7d29bf). Within a
    #: transaction that changed tickets this object's copy may be stale: query the column.
    open_tickets: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members")
    supervised_teams: Mapped[list[Team]] = relationship(
        secondary=team_supervisors, back_populates="supervisors"
    )
    skills: Mapped[list[Category]] = relationship(secondary=agent_skills)

    #: The session token this object was loaded or logged in with (helpdesk.sessions), not a
    #: column: Flask-Login stores `get_id()` in the session cookie, so the cookie carries the
    #: revocable token rather than the user's id.
    session_token = None

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """The session's random token (Flask-Login's "alternative token"), never the id."""
        if not self.session_token:
            raise RuntimeError("no session started for this user: use helpdesk.sessions")
        return self.session_token

    def __eq__(self, other) -> bool:
        """The same account. (UserMixin compares get_id(), which is now a session's token:
        two loads of one user from different sessions, or one without a session, would
        differ or raise — in select fields' `obj in choices`, for one.)"""
        if isinstance(other, User):
            return self is other or (self.id is not None and self.id == other.id)
        return NotImplemented

    __hash__ = object.__hash__  # as UserMixin's: defining __eq__ would drop it

    def __str__(self) -> str:
        return self.name


class Team(Timestamped, db.Model):
    """A queue of agents (Cuenta, Facturación, Técnico, Contenido…)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(254))
    strategy: Mapped[Strategy] = mapped_column(str_enum(Strategy), default=Strategy.LEAST_LOADED)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list[User]] = relationship(secondary=team_members, back_populates="teams")
    supervisors: Mapped[list[User]] = relationship(
        secondary=team_supervisors, back_populates="supervised_teams"
    )
    escalation_targets: Mapped[list[Team]] = relationship(
        secondary=team_escalation_targets,
        primaryjoin=lambda: Team.id == team_escalation_targets.c.team_id,
        secondaryjoin=lambda: Team.id == team_escalation_targets.c.target_team_id,
        order_by=lambda: Team.name,
    )

    def __str__(self) -> str:
        return self.name


class Category(Timestamped, db.Model):
    """What a ticket is about; routes to a default team."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    default_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    default_team: Mapped[Team | None] = relationship()

    def __str__(self) -> str:
        return self.name


# --- Customers ----------------------------------------------------------------------------------


class Customer(Timestamped, db.Model):
    """A Bayit+ subscriber and the account details shown in the ticket sidebar."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(5), default="es")
    country: Mapped[str | None] = mapped_column(String(2))
    plan: Mapped[str | None] = mapped_column(String(40))
    subscription_state: Mapped[str | None] = mapped_column(String(20))
    billing_state: Mapped[str | None] = mapped_column(String(20))
    devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    member_since: Mapped[date | None] = mapped_column(Date)

    events: Mapped[list[AccountEvent]] = relationship(
        back_populates="customer", order_by="AccountEvent.occurred_at.desc()"
    )

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class AccountEvent(db.Model):
    """Something that happened on the customer's account (payment, plan change, login…)."""

    __tablename__ = "account_events"
    __table_args__ = (Index("ix_account_events_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)

    customer: Mapped[Customer] = relationship(back_populates="events")


# --- Reference data -----------------------------------------------------------------------------


class BusinessCalendar(Timestamped, db.Model):
    """Opening hours in a time zone; `hours` maps weekday 0-6 to [["09:00", "18:00"], …]."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Madrid")
    hours: Mapped[dict] = mapped_column(JSON, default=dict)

    holidays: Mapped[list[Holiday]] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", order_by="Holiday.day"
    )

    def __str__(self) -> str:
        return self.name


class Holiday(db.Model):
    """A closed day of a business calendar."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("business_calendars.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(80))

    calendar: Mapped[BusinessCalendar] = relationship(back_populates="holidays")


class SlaPolicy(Timestamped, db.Model):
    """First-response (and optional resolution) targets for one priority."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority), unique=True)
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id"))
    #: On a first-response breach, escalate to the team's supervisors (reason *SLA vencido*).
    escalate_on_first_breach: Mapped[bool] = mapped_column(Boolean, default=False,
                                                           server_default=false())
    #: *Próximo a vencer* starts at the latest this many minutes before the deadline (or at
    #: HELPDESK_SLA_WARN_SHARE of the target left, whichever comes first); 0: the share only.
    warn_minutes: Mapped[int | None] = mapped_column(Integer, default=30, server_default="30")

    calendar: Mapped[BusinessCalendar | None] = relationship()

    def __str__(self) -> str:
        return str(self.priority.label)


class ResolutionCategory(Timestamped, db.Model):
    """How a ticket was closed (solved, workaround, duplicate…)."""

    __tablename__ = "resolution_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The ticket category it fits (None: every ticket); *Resolver* offers only those that fit.
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))

    category: Mapped[Category | None] = relationship()

    def __str__(self) -> str:
        return self.name


class EscalationReason(Timestamped, db.Model):
    """Why a ticket is handed up (technical expertise, refund approval…)."""

    __tablename__ = "escalation_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    #: The name in English (the panel shows `name`, in Spanish, when there is none).
    name_en: Mapped[str | None] = mapped_column(String(80))
    #: A fixed code the system looks reasons up by (`sla_breach`); None for the others.
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def label(self, locale: str | None) -> str:
        """The name in `locale` ("en" or "es")."""
        return self.name_en if locale == "en" and self.name_en else self.name

    def __str__(self) -> str:
        return self.name


class ResponseTemplate(Timestamped, db.Model):
    """A canned reply with `{{ cliente.nombre }}`-style placeholders."""

    __tablename__ = "response_templates"
    __table_args__ = (UniqueConstraint("name", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    locale: Mapped[str] = mapped_column(String(5), default="es")
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    times_used: Mapped[int] = mapped_column(Integer, default=0)

    category: Mapped[Category | None] = relationship()

    def __str__(self) -> str:
        return self.name


class RoutingRule(Timestamped, db.Model):
    """Ordered conditions (all optional, ANDed) → a team and an assignment strategy."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    priority: Mapped[Priority | None] = mapped_column(str_enum(Priority))
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel))
    plan: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(5))
    #: The customer's account states (codes: accounts.STATE_LABELS), picked from known values.
    subscription_state: Mapped[str | None] = mapped_column(String(20))
    billing_state: Mapped[str | None] = mapped_column(String(20))
    keywords: Mapped[str | None] = mapped_column(Text)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    priority_override: Mapped[Priority | None] = mapped_column(str_enum(Priority))
    strategy: Mapped[Strategy | None] = mapped_column(str_enum(Strategy))

    category: Mapped[Category | None] = relationship()
    team: Mapped[Team] = relationship()

    def __str__(self) -> str:
        return self.name


class Setting(db.Model):
    """A key/value setting edited in the panel (e.g. the routing default team)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


# --- Tickets ------------------------------------------------------------------------------------


def _queue_order() -> tuple:
    """The queue's order as index columns: nearest running deadline first, none last, then id
    (the same expressions as TicketView's ORDER BY, so both databases read it from an index)."""
    return text("(sla_due_at IS NULL)"), "sla_due_at", "id"


class Ticket(Timestamped, db.Model):
    """A customer request; its number is its id."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_due", "status", "first_response_due_at"),
        Index("ix_tickets_status_sla_due", "status", "sla_due_at"),
        Index("ix_tickets_sla_due", "sla_due_at"),
        Index("ix_tickets_sla_warn", "sla_warn_at"),
        Index("ix_tickets_team_status", "team_id", "status"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
        Index("ix_tickets_customer", "customer_id"),
        Index("ix_tickets_created", "created_at"),
        Index("ix_tickets_updated", "updated_at"),  # the report refresh finds changes
        # The queue's pages: its order, then the columns the saved views and visibility filter
        # on, so a page (even page 200) and a capped tab count are read from the index alone.
        Index("ix_tickets_queue", *_queue_order(), "status", "team_id", "assignee_id"),
        Index("ix_tickets_status_queue", "status", *_queue_order(), "team_id", "assignee_id"),
        Index("ix_tickets_assignee_queue", "assignee_id", *_queue_order(), "status", "team_id"),
        # No index holds sla_state, and pages keep room: the SLA sweep's UPDATEs are HOT
        # (PostgreSQL rewrites the row in its page and touches no index).
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[TicketStatus] = mapped_column(
        str_enum(TicketStatus), default=TicketStatus.NEW
    )
    priority: Mapped[Priority] = mapped_column(str_enum(Priority), default=Priority.NORMAL)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel), default=Channel.WEB)
    language: Mapped[str] = mapped_column(String(5), default="es")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the deadline running now
    sla_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it turns amber
    sla_paused_minutes: Mapped[float] = mapped_column(db.Float, default=0, server_default="0")
    sla_state: Mapped[SlaState] = mapped_column(str_enum(SlaState), default=SlaState.OK)
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    resolution_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("resolution_categories.id")
    )
    closing_notes: Mapped[str | None] = mapped_column(Text)
    customer_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    customer: Mapped[Customer] = relationship()
    category: Mapped[Category | None] = relationship()
    team: Mapped[Team | None] = relationship()
    assignee: Mapped[User | None] = relationship()
    resolution_category: Mapped[ResolutionCategory | None] = relationship()
    messages: Mapped[list[Message]] = relationship(  # same instant: in the order written
        back_populates="ticket", order_by="(Message.created_at, Message.id)",
        cascade="all, delete-orphan"
    )

    @property
    def number(self) -> str:
        return f"#{self.id}"

    def __str__(self) -> str:
        return f"#{self.id} {self.subject}"


def event_body(event: str, **data: str) -> str:
    """The body of a system-event message: JSON, so the panel can describe it in any language."""
    return json.dumps({"event": event, **data}, ensure_ascii=False)


class Message(db.Model):
    """One entry of a ticket's thread: customer message, reply, internal note or system event."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_ticket_time", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[MessageKind] = mapped_column(str_enum(MessageKind))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    body: Mapped[str] = mapped_column(Text)
    email_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: A reply's address, fixed when it is written: a later change of the customer's e-mail
    #: never redirects a reply already queued (None: written before this column existed).
    recipient: Mapped[str | None] = mapped_column(String(254))
    #: A reply's copies (comma-separated), fixed when it is written, like `recipient`.
    cc: Mapped[str | None] = mapped_column(Text)
    #: A customer's mail: the quoted history trimmed from `body` ("mostrar texto citado").
    quoted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()

    @property
    def event(self) -> dict | None:
        """A system event's data (see event_body), or None for other messages."""
        if self.kind is not MessageKind.EVENT:
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return {"event": "text", "text": self.body}
        return data if isinstance(data, dict) else {"event": "text", "text": self.body}
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )



class AuditEntry(db.Model):
    """Who changed what, from which value to which, when and why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                                  index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    ticket_version: Mapped[int | None] = mapped_column(Integer)  # the version it changed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()


class JobIntent(db.Model):
    """Outbox row: a job to run, written in the same transaction as the change that causes it."""

    __tablename__ = "job_intents"
    __table_args__ = (Index("ix_job_intents_state_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    func: Mapped[str] = mapped_column(String(200))
    args: Mapped[list] = mapped_column(JSON, default=list)
    queue: Mapped[str] = mapped_column(String(40), default="default")
    state: Mapped[IntentState] = mapped_column(str_enum(IntentState), default=IntentState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the sweep should hand a pending intent to Redis (again): a little after it is
    #: written or enqueued (in case Redis loses it), after the backoff of a failed run, or when
    #: the lease of a run that started expires (its worker died).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the current run started (None: not running); with next_attempt_at, its lease.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When it was marked failed (given up, or an unknown handler).
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When someone last asked to retry it: the give-up window counts from here (else created).
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Tables of one capability each live in modules of their own; imported here, so callers keep
# `from helpdesk.models import …` and every table is in the metadata Alembic compares.
from .closure_tables import (  # noqa: E402, F401
    Escalation,
    ResolutionRound,
    SatisfactionRating,
)
from .link_tables import LinkKind, Macro, TicketLink  # noqa: E402, F401
from .mail_tables import Attachment, InboundMail, TicketParticipant  # noqa: E402, F401
from .notice_tables import Notification, NotificationPreference  # noqa: E402, F401
from .report_tables import (  # noqa: E402, F401
    ReportActivity,
    ReportActivityDay,
    ReportBacklog,
    ReportCalendarSpan,
    ReportEscalation,
    ReportRating,
    ReportRatingDay,
    ReportResolutionDay,
    ReportResponseDay,
    ReportRound,
    ReportTicket,
)
from .session_tables import UserSession  # noqa: E402, F401
from .view_tables import SavedView  # noqa: E402, F401
