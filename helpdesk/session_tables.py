"""Server-side sessions (`helpdesk.sessions`). Re-exported by `helpdesk.models`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from .columns import UTCDateTime, utcnow
from .extensions import db

if TYPE_CHECKING:  # relationships name them; SQLAlchemy resolves the names at mapping time
    pass


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
