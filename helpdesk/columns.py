"""Column types and mixins every table shares: aware UTC timestamps, enums stored by value."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum, SmallInteger, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    """Aware UTC now; the one clock models use for defaults."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC, refuses naive datetimes, always returns aware UTC (SQLite included)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class IntEnumType(TypeDecorator):
    """Stores an IntEnum as its integer, returns the member."""

    impl = SmallInteger
    cache_ok = True

    def __init__(self, enum_class: type[enum.IntEnum]):
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value, dialect):
        return None if value is None else int(value)

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum_class(value)


def str_enum(enum_class: type[enum.StrEnum], length: int = 20) -> Enum:
    """A StrEnum column stored by *value* (not member name), without a native DB type."""
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class Timestamped:
    """created_at / updated_at, aware UTC."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# --- People and teams ---------------------------------------------------------------------------
