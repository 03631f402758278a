"""Tables of the mail channel: inbound messages, ticket participants (CC), attachments.

Re-exported by `helpdesk.models`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .columns import UTCDateTime, str_enum, utcnow
from .enums import InboundState
from .extensions import db

if TYPE_CHECKING:  # relationships name them; SQLAlchemy resolves the names at mapping time
    from .models import Message, Ticket


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
