"""Configuración > Agentes: staff accounts, roles, teams, availability and capacity."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from .. import sessions, workflows
from ..models import Availability, Role, User
from .base import ADMINS, ENUM_FORMATTERS, StaffModelView, enum_field

LOCALES = [("es", "Español"), ("en", "English")]


class AgentView(StaffModelView):
    """Agentes (admins only): create accounts, set roles, teams, skills and capacity."""

    read_roles = write_roles = ADMINS
    allow_delete = False
    column_list = ("name", "email", "role", "teams", "availability", "capacity", "active")
    column_labels = {
        "name": _l("Nombre"), "email": _l("Correo electrónico"), "role": _l("Rol"),
        "teams": _l("Equipos"), "supervised_teams": _l("Supervisa"),
        "skills": _l("Categorías que atiende"), "availability": _l("Disponibilidad"),
        "capacity": _l("Capacidad (tickets abiertos)"), "active": _l("Activo"),
        "locale": _l("Idioma"), "timezone": _l("Zona horaria"), "password": _l("Contraseña"),
        "last_assigned_at": _l("Última asignación"), "created_at": _l("Creado"),
        "updated_at": _l("Actualizado"),
    }
    column_details_exclude_list = ("password_hash",)
    column_formatters = {**ENUM_FORMATTERS, "locale": lambda v, c, m, n: dict(LOCALES).get(
        m.locale, m.locale)}
    column_searchable_list = ("name", "email")
    column_filters = ("active", "teams")
    form_columns = ("name", "email", "password", "role", "active", "teams", "supervised_teams",
                    "skills", "availability", "capacity", "locale", "timezone")
    form_extra_fields = {
        "password": PasswordField(_l("Contraseña"), validators=[Optional(), Length(
            min=workflows.PASSWORD_MIN, max=200)], description=_l(
                "Obligatoria al crear; en blanco al editar para no cambiarla.")),
    }
    form_overrides = {"role": enum_field(Role), "availability": enum_field(Availability)}
    form_choices = {"locale": LOCALES}
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=120)]},
        "email": {"validators": [InputRequired(), Email(), Length(max=254)]},
        "capacity": {"validators": [InputRequired(), NumberRange(min=0, max=500)]},
    }

    def create_model(self, form):
        return self._save(form, None)

    def update_model(self, form, model):
        return bool(self._save(form, model))

    def _save(self, form, user: User | None):
        """Every field through the domain layer: accounts, passwords and what assignment reads
        (so a newly available agent gets waiting tickets, as from the home page)."""
        is_created = user is None
        try:
            with workflows.atomic():
                if is_created:
                    user = workflows.create_user(form.email.data, form.name.data,
                                                 form.password.data or "", role=form.role.data,
                                                 actor=current_user)
                elif form.password.data:
                    workflows.set_password(user, form.password.data, actor=current_user)
                workflows.update_user(
                    user, actor=current_user, name=form.name.data, email=form.email.data,
                    role=form.role.data, active=form.active.data, locale=form.locale.data,
                    timezone=form.timezone.data)
                workflows.update_agent_profile(
                    user, actor=current_user, teams=form.teams.data,
                    supervised_teams=form.supervised_teams.data, skills=form.skills.data,
                    capacity=form.capacity.data, availability=form.availability.data)
        except Exception as exc:
            self.handle_view_exception(exc)
            return False
        if user.id == current_user.id:  # their own password or role: this browser stays in
            sessions.keep_signed_in(user)
        self.after_model_change(form, user, is_created)
        return user


def people_views(category: str) -> list:
    """Agentes."""
    return [AgentView(User, name=_l("Agentes"), category=category, endpoint="agents")]
