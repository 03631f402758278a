"""Configuración: routing rules, SLA policies, teams — edited by supervisors."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from .. import rules
from ..models import Channel, Priority, RoutingRule, SlaPolicy, Strategy, Team
from .base import ENUM_FORMATTERS, SUPERVISORS, StaffModelView, enum_field, required

COMMON_LABELS = {
    "name": _l("Nombre"), "description": _l("Descripción"), "active": _l("Activo"),
    "enabled": _l("Activa"), "position": _l("Orden"), "category": _l("Categoría"),
    "priority": _l("Prioridad"), "channel": _l("Canal"), "plan": _l("Plan"),
    "country": _l("País"), "language": _l("Idioma"), "keywords": _l("Palabras clave"),
    "team": _l("Equipo"), "priority_override": _l("Cambiar prioridad a"),
    "strategy": _l("Estrategia de asignación"), "email": _l("Correo electrónico"),
    "members": _l("Agentes"), "supervisors": _l("Supervisores"),
    "first_response_minutes": _l("Primera respuesta (minutos)"),
    "resolution_minutes": _l("Resolución (minutos)"), "calendar": _l("Horario laboral"),
    "created_at": _l("Creado"), "updated_at": _l("Actualizado"),
}


def _keywords_are_text(form, field):
    if field.data and not rules.parse_keywords(field.data):
        raise ValidationError(str(_l("Escribe palabras clave separadas por comas.")))


class RoutingRuleView(StaffModelView):
    """Enrutamiento: ordered rules; the first that matches routes the ticket."""

    read_roles = write_roles = SUPERVISORS
    column_list = ("position", "name", "enabled", "category", "priority", "channel", "plan",
                   "country", "language", "keywords", "team", "priority_override", "strategy")
    column_labels = COMMON_LABELS
    column_default_sort = ("position", False)
    column_sortable_list = ("position", "name", "enabled")
    column_searchable_list = ("name", "keywords")
    column_formatters = dict(ENUM_FORMATTERS)
    form_columns = ("name", "position", "enabled", "category", "priority", "channel", "plan",
                    "country", "language", "keywords", "team", "priority_override", "strategy")
    form_overrides = {"priority": enum_field(Priority, optional=True),
                      "channel": enum_field(Channel, optional=True),
                      "priority_override": enum_field(Priority, optional=True),
                      "strategy": enum_field(Strategy, optional=True)}
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=120)]},
        "team": {"validators": [required(_l("Elige el equipo de destino."))]},
        "position": {"validators": [InputRequired(), NumberRange(min=0, max=100000)]},
        "keywords": {"validators": [Optional(), Length(max=2000), _keywords_are_text]},
        "country": {"validators": [Optional(), Length(min=2, max=2)]},
    }


class SlaPolicyView(StaffModelView):
    """SLA: first-response and resolution targets per priority."""

    read_roles = write_roles = SUPERVISORS
    column_list = ("priority", "first_response_minutes", "resolution_minutes", "calendar")
    column_labels = COMMON_LABELS
    column_formatters = dict(ENUM_FORMATTERS)
    form_columns = ("priority", "first_response_minutes", "resolution_minutes", "calendar")
    form_overrides = {"priority": enum_field(Priority)}
    form_args = {
        "first_response_minutes": {"validators": [InputRequired(),
                                                  NumberRange(min=1, max=60 * 24 * 30)]},
        "resolution_minutes": {"validators": [Optional(), NumberRange(min=1, max=60 * 24 * 90)]},
    }


class TeamView(StaffModelView):
    """Equipos: who works which queue, its supervisors and assignment strategy."""

    read_roles = write_roles = SUPERVISORS
    allow_delete = False
    column_list = ("name", "email", "strategy", "active")
    column_labels = COMMON_LABELS
    column_formatters = dict(ENUM_FORMATTERS)
    column_searchable_list = ("name",)
    form_columns = ("name", "description", "email", "strategy", "active", "members",
                    "supervisors")
    form_overrides = {"strategy": enum_field(Strategy)}
    form_args = {"name": {"validators": [InputRequired(), Length(max=80)]}}


def routing_views(category: str) -> list:
    """The supervisor-edited configuration views."""
    return [
        RoutingRuleView(RoutingRule, name=_l("Enrutamiento"), category=category,
                        endpoint="routing"),
        SlaPolicyView(SlaPolicy, name=_l("SLA"), category=category, endpoint="sla"),
        TeamView(Team, name=_l("Equipos"), category=category, endpoint="teams"),
    ]
