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
    LargeBinary,
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


class Attachment(db.Model):
    """A file attached to a message, stored under instance/attachments/."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"),
                                            index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    storage_path: Mapped[str] = mapped_column(String(500))
    #: SHA-256 of the content: the file's name under instance/attachments/ (never the sender's).
    sha256: Mapped[str | None] = mapped_column(String(64))

    message: Mapped[Message] = relationship(back_populates="attachments")


class TicketParticipant(db.Model):
    """An address besides the customer's that takes part in a ticket (a CC of their mail):
    it may write to the ticket and is copied on replies until an agent removes it."""

    __tablename__ = "ticket_participants"
    __table_args__ = (UniqueConstraint("ticket_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundMail(db.Model):
    """One message that reached us, stored raw in its own transaction before anything else
    (so none is lost), then processed by an outbox job. `dedup_key` (unique) is the
    Message-ID of the first delivery; a second delivery of it is kept as a *duplicate* row
    without `dedup_key` or bytes, so every delivery is accounted for."""

    __tablename__ = "inbound_mail"
    __table_args__ = (
        Index("ix_inbound_mail_state_time", "state", "received_at"),
        Index("ix_inbound_mail_sender_time", "sender", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    dedup_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    sender: Mapped[str] = mapped_column(String(254), default="")
    sender_name: Mapped[str] = mapped_column(String(120), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(10), default="pipe")
    state: Mapped[InboundState] = mapped_column(str_enum(InboundState),
                                                default=InboundState.RECEIVED)
    reason: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    #: Whether it opened a new ticket (the per-sender hourly limit counts these).
    opened_ticket: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When its automatic acknowledgement was queued (at most one per customer per hour).
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_mail.id"))

    ticket: Mapped[Ticket | None] = relationship()


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


class Notification(db.Model):
    """An in-panel notice for one staff member: an SLA breach of one ticket, or a digest of
    `count` breaches of a team's tickets (`team_id`, no ticket)."""

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


# --- Report tables (filled by the report jobs) --------------------------------------------------


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


class UserSession(db.Model):
    """One signed-in browser. The session cookie carries a random token, a remembered login
    also a remember-me cookie `<selector>.<validator>`; the database keeps only SHA-256 digests
    of the token and the validator, so a copy of this table logs no one in. Deleting the row
    ends the session and its remember-me cookie together."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Remember-me: the selector finds the row, the validator (hashed) proves the cookie; both
    #: NULL for a login without "Recordarme". The previous validator's digest and when it was
    #: replaced tell a browser's own race (a second tab, seconds later) from a stolen copy.
    remember_selector: Mapped[str | None] = mapped_column(String(32), unique=True)
    remember_hash: Mapped[str | None] = mapped_column(String(64))
    previous_remember_hash: Mapped[str | None] = mapped_column(String(64))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: No session outlives HELPDESK_REMEMBER_DAYS from its login, remembered or not.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def remembered(self) -> bool:
        return self.remember_selector is not None
