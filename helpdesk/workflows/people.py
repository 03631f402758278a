"""Staff: accounts, language, availability, notices."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from .. import queries, rules
from ..errors import DomainError
from ..extensions import db
from ..models import Availability, Role, User
from .base import PASSWORD_MIN, audit, clean_text
from .outbox import schedule_waiting


def hash_password(password: str) -> str:
    """scrypt (memory-hard), Werkzeug's default."""
    return generate_password_hash(password, method="scrypt")


def create_user(email: str, name: str, password: str, *, role: Role, actor: User | None,
                locale: str = "es", timezone: str = "Europe/Madrid") -> User:
    """Add a staff account; refuses a duplicate e-mail or a short password."""
    email = clean_text(email, _("Correo electrónico"), 254).lower()
    if "@" not in email:
        raise DomainError(_("«%(email)s» no es una dirección de correo válida.", email=email))
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError(_("Ya existe un usuario con el correo %(email)s.", email=email))
    if len(password or "") < PASSWORD_MIN:
        raise DomainError(_("La contraseña debe tener al menos %(n)d caracteres.", n=PASSWORD_MIN))
    user = User(email=email, name=name.strip() or email, role=role, locale=locale,
                timezone=timezone, password_hash=hash_password(password),
                availability=Availability.OFFLINE)
    db.session.add(user)
    db.session.flush()
    audit(user, actor, "create", field="role", new=role.name.lower())
    return user


def set_locale(user: User, locale: str) -> None:
    """Remember the user's panel language."""
    if locale not in current_app.config["HELPDESK_LOCALES"]:
        raise DomainError(_("Idioma no disponible: %(locale)s", locale=locale))
    if user.locale != locale:
        audit(user, user, "update", field="locale", old=user.locale, new=locale)
        user.locale = locale
        db.session.flush()


def set_availability(user: User, availability: Availability, *, actor: User) -> None:
    """Set an agent's availability (themselves, or a supervisor for them)."""
    if actor.id != user.id and actor.role < Role.SUPERVISOR:
        raise DomainError(_("Solo un supervisor puede cambiar la disponibilidad de otra persona."))
    if user.availability is not availability:
        audit(user, actor, "update", field="availability", old=user.availability,
              new=availability)
        user.availability = availability
        db.session.flush()
        if availability is Availability.AVAILABLE:
            for team in user.teams:
                schedule_waiting(team.id)


def mark_notifications_read(user: User, now: datetime | None = None) -> int:
    """Mark all of the user's notices as read; how many were unread."""
    now = now or rules.utcnow()
    notices = queries.unread_notifications(user.id, limit=10_000)
    for notice in notices:
        notice.read_at = now
    db.session.flush()
    return len(notices)
