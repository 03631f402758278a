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
from ..models import Availability, Role, Team, User
from ..securitylog import security_event
from .base import PASSWORD_MIN, audit, clean_text
from .outbox import schedule_waiting
from .sessions import revoke_sessions


def hash_password(password: str) -> str:
    """Hash with the HELPDESK_PASSWORD_HASH method: scrypt (memory-hard) unless configured."""
    method = current_app.config["HELPDESK_PASSWORD_HASH"] if current_app else "scrypt"
    return generate_password_hash(password, method=method)


def _clean_email(email: str, *, other_than: int | None = None) -> str:
    """A staff e-mail, lower-cased; refuses a malformed one or one another account has."""
    email = clean_text(email, _("Correo electrónico"), 254).lower()
    if "@" not in email:
        raise DomainError(_("«%(email)s» no es una dirección de correo válida.", email=email))
    taken = select(User.id).where(User.email == email)
    if other_than is not None:
        taken = taken.where(User.id != other_than)
    if db.session.scalar(taken) is not None:
        raise DomainError(_("Ya existe un usuario con el correo %(email)s.", email=email))
    return email


def _check_password(password: str | None) -> str:
    if len(password or "") < PASSWORD_MIN:
        raise DomainError(_("La contraseña debe tener al menos %(n)d caracteres.", n=PASSWORD_MIN))
    return password


def create_user(email: str, name: str, password: str, *, role: Role, actor: User | None,
                locale: str = "es", timezone: str = "Europe/Madrid") -> User:
    """Add a staff account; refuses a duplicate e-mail or a short password."""
    email = _clean_email(email)
    user = User(email=email, name=name.strip() or email, role=role, locale=locale,
                timezone=timezone, password_hash=hash_password(_check_password(password)),
                availability=Availability.OFFLINE)
    db.session.add(user)
    db.session.flush()
    audit(user, actor, "create", field="role", new=role.name.lower())
    return user


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role is not Role.ADMIN:
        raise DomainError(_("Solo un administrador puede editar cuentas del personal."))


def _set(obj, actor: User | None, field: str, value) -> bool:
    """Set one attribute with its audit row; whether it changed."""
    old = getattr(obj, field)
    if old == value:
        return False
    audit(obj, actor, "update", field=field, old=old, new=value)
    setattr(obj, field, value)
    return True


def _set_rows(obj, actor: User | None, field: str, rows) -> tuple[bool, set]:
    """Replace a many-to-many list with its audit row (names): (changed, the rows added)."""
    old, new = set(getattr(obj, field)), set(rows)
    if old == new:
        return False, set()
    audit(obj, actor, "update", field=field, old=_names(old), new=_names(new))
    setattr(obj, field, sorted(new, key=lambda row: row.id))
    return True, new - old


def _names(rows) -> str:
    return ", ".join(sorted(str(row) for row in rows))


def update_user(user: User, *, actor: User | None, name: str, email: str, role: Role,
                active: bool, locale: str, timezone: str) -> None:
    """Correct an account (admins): name, e-mail, role, active, language, time zone. A role
    change or a deactivation ends every session of the user."""
    _require_admin(actor)
    _set(user, actor, "name", clean_text(name, _("Nombre"), 120))
    _set(user, actor, "email", _clean_email(email, other_than=user.id))
    old_role = user.role
    role_changed = _set(user, actor, "role", role)
    if role_changed:
        security_event("role_changed", actor_id=actor.id if actor else None, target_id=user.id,
                       target_email=user.email, old=old_role.name, new=role.name)
    deactivated = _set(user, actor, "active", bool(active)) and not user.active
    _set(user, actor, "locale", locale)
    _set(user, actor, "timezone", timezone)
    db.session.flush()
    if deactivated or role_changed:  # a session signed in under the old rights ends
        revoke_sessions(user, reason="deactivated" if deactivated else "role", actor=actor)


def set_password(user: User, password: str, *, actor: User | None) -> None:
    """A new password (admins, for anyone): hashed; the audit row says only that it changed.
    Every session of the user ends (the view gives an admin changing their own a fresh one)."""
    _require_admin(actor)
    user.password_hash = hash_password(_check_password(password))
    audit(user, actor, "update", field="password")
    security_event("password_changed", actor_id=actor.id if actor else None,
                   target_id=user.id, target_email=user.email)
    db.session.flush()
    revoke_sessions(user, reason="password", actor=actor)


def update_agent_profile(user: User, *, actor: User | None, teams, supervised_teams, skills,
                         capacity: int, availability: Availability) -> None:
    """What assignment reads of a person (admins): teams, supervised teams, skills, capacity,
    availability. When that can give them room for waiting tickets — available now, and newly
    so, or more capacity, another team or other skills — each of their teams gets an
    assignment pass after commit, exactly as the home page's availability switch does."""
    _require_admin(actor)
    if capacity < 0:
        raise DomainError(_("La capacidad no puede ser negativa."))
    _changed, joined = _set_rows(user, actor, "teams", teams)
    _set_rows(user, actor, "supervised_teams", supervised_teams)
    skills_changed, _added = _set_rows(user, actor, "skills", skills)
    more_room = capacity > user.capacity
    _set(user, actor, "capacity", capacity)
    came_in = _set(user, actor, "availability", availability) \
        and availability is Availability.AVAILABLE
    db.session.flush()
    if user.active and user.availability is Availability.AVAILABLE and (
            came_in or more_room or joined or skills_changed):
        _room_opened(user)


def _room_opened(user: User) -> None:
    """The person may take waiting tickets now: an assignment pass for each of their teams."""
    for team in user.teams:
        schedule_waiting(team.id)


def set_team_members(team: Team, *, members, supervisors, actor: User | None) -> None:
    """Who works the team's queue and who supervises it (supervisors and admins). An
    available member who joins may take its waiting tickets: the team gets a pass."""
    if actor is not None and actor.role < Role.SUPERVISOR:
        raise DomainError(_("Solo un supervisor puede cambiar los miembros de un equipo."))
    _changed, joined = _set_rows(team, actor, "members", members)
    _set_rows(team, actor, "supervisors", supervisors)
    db.session.flush()
    if any(person.active and person.availability is Availability.AVAILABLE
           for person in joined):
        schedule_waiting(team.id)


def set_locale(user: User, locale: str) -> None:
    """Remember the user's panel language."""
    if locale not in current_app.config["HELPDESK_LOCALES"]:
        raise DomainError(_("Idioma no disponible: %(locale)s", locale=locale))
    if user.locale != locale:
        audit(user, user, "update", field="locale", old=user.locale, new=locale)
        user.locale = locale
        db.session.flush()


def may_set_availability(actor: User, user: User) -> bool:
    """Whether `actor` may set `user`'s availability: `rules.may_set_availability`, asked by the
    home page's roster and by `set_availability` alike."""
    return rules.may_set_availability(
        actor.role, is_self=actor.id == user.id,
        supervised_team_ids=[team.id for team in actor.supervised_teams],
        member_team_ids=[team.id for team in user.teams])


def set_availability(user: User, availability: Availability, *, actor: User) -> None:
    """Set an agent's availability (themselves, a supervisor of one of their teams, an admin)."""
    if not may_set_availability(actor, user):
        raise DomainError(_("Solo puedes cambiar la disponibilidad de los miembros de los "
                            "equipos que supervisas."))
    if user.availability is not availability:
        audit(user, actor, "update", field="availability", old=user.availability,
              new=availability)
        user.availability = availability
        db.session.flush()
        if availability is Availability.AVAILABLE:
            _room_opened(user)


def mark_notifications_read(user: User, now: datetime | None = None) -> int:
    """Mark all of the user's notices as read; how many were unread."""
    now = now or rules.utcnow()
    notices = queries.unread_notifications(user.id, limit=10_000)
    for notice in notices:
        notice.read_at = now
    db.session.flush()
    return len(notices)
