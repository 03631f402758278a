"""Configuración: routing rules, SLA policies, teams — edited by supervisors."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.model.template import macro
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from .. import accounts, queries, rules, workflows
from ..errors import DomainError
from ..extensions import db
from ..models import (
    BusinessCalendar,
    Category,
    Channel,
    Holiday,
    Priority,
    RoutingRule,
    SlaPolicy,
    Strategy,
    Team,
    Ticket,
    User,
)
from .base import ENUM_FORMATTERS, SUPERVISORS, StaffModelView, enum_field, required
from .inline import InlineConverter
from .routing_pickers import (
    BILLING_CODES,
    LANGUAGE_CHOICES,
    SUBSCRIPTION_CODES,
    PickerField,
    RoutingProbeForm,
    country_choices,
    state_choices,
)

COMMON_LABELS = {
    "name": _l("Nombre"), "description": _l("Descripción"), "active": _l("Activo"),
    "enabled": _l("Activa"), "position": _l("Orden"), "category": _l("Categoría"),
    "priority": _l("Prioridad"), "channel": _l("Canal"), "plan": _l("Plan"),
    "country": _l("País"), "language": _l("Idioma"), "keywords": _l("Palabras clave"),
    "subscription_state": _l("Suscripción"), "billing_state": _l("Facturación"),
    "team": _l("Equipo"), "priority_override": _l("Cambiar prioridad a"),
    "strategy": _l("Estrategia de asignación"), "email": _l("Correo electrónico"),
    "members": _l("Agentes"), "supervisors": _l("Supervisores"),
    "first_response_minutes": _l("Primera respuesta (minutos)"),
    "resolution_minutes": _l("Resolución (minutos)"), "calendar": _l("Horario laboral"),
    "warn_minutes": _l("Próximo a vencer desde (minutos antes)"),
    "created_at": _l("Creado"), "updated_at": _l("Actualizado"),
    "escalate_on_first_breach": _l("Escalar a los supervisores si vence la 1ª respuesta"),
    "escalation_targets": _l("Sus agentes pueden escalar a (vacío: cualquier equipo activo)"),
}


def _keywords_are_text(form, field):
    if field.data and not rules.parse_keywords(field.data):
        raise ValidationError(str(_l("Escribe palabras clave separadas por comas.")))


MISS_LABELS = {
    "category": _l("la categoría no coincide"), "priority": _l("la prioridad no coincide"),
    "channel": _l("el canal no coincide"), "plan": _l("el plan no coincide"),
    "country": _l("el país no coincide"), "language": _l("el idioma no coincide"),
    "keywords": _l("ninguna palabra clave aparece en el texto"),
    "subscription_state": _l("el estado de la suscripción no coincide"),
    "billing_state": _l("el estado de la facturación no coincide"),
}


class RoutingTestMixin:
    """Probar (test a sample ticket) and the reorder buttons of the routing rules."""

    @expose("/<int:rule_id>/move/<int(signed=True):direction>", methods=("POST",))
    def move_view(self, rule_id: int, direction: int):
        """Move a rule up or down."""
        rule = db.session.get(RoutingRule, rule_id) if rules.parse_id(rule_id) else None
        if rule is None or direction not in (-1, 1):
            abort(404)
        with workflows.atomic():
            workflows.move_rule(rule, direction, actor=current_user)
        return redirect(url_for(".index_view"))

    @expose("/test", methods=("GET",))
    def test_view(self):
        """Which rule a sample (or existing) ticket matches, and why earlier ones did not."""
        form = RoutingProbeForm(request.args).fill()
        form.category.choices = [("", "—")] + [
            (str(c.id), c.name) for c in db.session.scalars(select(Category).order_by(
                Category.name))]
        form.priority.choices = [(p.value, p.label) for p in Priority]
        form.channel.choices = [(c.value, c.label) for c in Channel]
        if not request.args:  # a sample ticket starts as the usual one, not Urgente
            form.priority.data = Priority.NORMAL.value
        result = None
        if request.args and form.validate():
            try:
                result = _explain(_facts_from(form))
            except DomainError as exc:
                flash(str(exc), "error")
        return self.render("helpdesk/routing_test.html", form=form, result=result)

    @expose("/default-team", methods=("POST",))
    def default_team_view(self):
        """Choose the team that catches tickets no rule places."""
        value = request.form.get("team", "")
        team_id = rules.parse_id(value)
        team = db.session.get(Team, team_id) if team_id else None
        if value and team is None:
            flash(_("La opción elegida ya no existe."), "error")
        else:
            with workflows.atomic():
                workflows.set_default_team(team, actor=current_user)
            flash(_("Equipo por defecto guardado."), "success")
        return redirect(url_for(".index_view"))

    def render(self, template, **kwargs):
        if template == self.list_template:
            kwargs["teams"] = db.session.scalars(select(Team).order_by(Team.name)).all()
            kwargs["default_team_id"] = queries.get_setting("routing.default_team_id")
        return super().render(template, **kwargs)

    @action("enable", _l("Activar"))
    def action_enable(self, ids):
        """Enable the selected rules."""
        self._set_enabled(ids, True)

    @action("disable", _l("Desactivar"))
    def action_disable(self, ids):
        """Disable the selected rules."""
        self._set_enabled(ids, False)

    def _set_enabled(self, ids, enabled: bool):
        rows = list(db.session.scalars(select(RoutingRule).where(
            RoutingRule.id.in_([int(i) for i in ids]))))
        with workflows.atomic():
            workflows.set_rules_enabled(rows, enabled, actor=current_user)
        flash(ngettext("%(num)d regla actualizada.", "%(num)d reglas actualizadas.",
                       len(rows)), "success")


def _facts_from(form) -> rules.TicketFacts:
    number = (form.ticket.data or "").strip().lstrip("#")
    if number:
        ticket_id = rules.parse_id(number)
        ticket = db.session.get(Ticket, ticket_id) if ticket_id else None
        if ticket is None:
            raise DomainError(_("El ticket #%(id)s no existe.", id=number))
        return workflows.ticket_facts(ticket)
    return rules.TicketFacts(
        category_id=rules.parse_id(form.category.data),
        priority=_choice(Priority, form.priority.data, Priority.NORMAL),
        channel=_choice(Channel, form.channel.data, Channel.WEB).value,
        plan=form.plan.data, country=form.country.data,
        language=form.language.data if form.language.data in ("es", "en") else "es",
        subscription_state=form.subscription_state.data, billing_state=form.billing_state.data,
        text=form.text.data or "")


def _choice(enum, value, default):
    try:
        return enum(value)
    except ValueError:
        return default


def _explain(facts: rules.TicketFacts) -> dict:
    """The decision and, per enabled rule in order, whether it matched or why not."""
    specs = queries.routing_rule_specs()
    category = db.session.get(Category, facts.category_id) if facts.category_id else None
    decision = rules.route(facts, specs, queries.fallback_team_id(category))
    misses = dict(decision.misses)
    rows = []
    for spec in specs:
        if spec.id in misses:
            rows.append((spec, "miss", MISS_LABELS[misses[spec.id]]))
        elif spec.id == decision.rule_id:
            rows.append((spec, "match", _("coincide: esta regla decide")))
        else:
            rows.append((spec, "skipped", _("no se evalúa: ya coincidió una anterior")))
    team = db.session.get(Team, decision.team_id) if decision.team_id else None
    strategy = decision.strategy or (team.strategy if team else None)
    agent = None
    if team is not None and strategy is not None:
        ranked = rules.rank_agents(queries.team_agent_loads(team.id), strategy, facts.category_id)
        agent = db.session.get(User, ranked[0]) if ranked else None
    return {"decision": decision, "rows": rows, "team": team, "strategy": strategy,
            "agent": agent}


def day_names() -> tuple[str, ...]:
    """Short weekday names, Monday first, in the viewer's language ("lun", "mon"), as the
    calendar's hours are written and read (rules.parse_hours takes both languages)."""
    names = get_locale().days["format"]["abbreviated"]
    return tuple(str(names[day]).rstrip(".").lower() for day in range(7))


def conditions_text(rule: RoutingRule) -> str:
    """Every condition of a rule in words, in the viewer's language ("Canal: Teléfono ·
    Facturación: Pago pendiente"); a rule without any matches every ticket."""
    words = (
        ("category", rule.category.name if rule.category else None),
        ("priority", rule.priority.label if rule.priority else None),
        ("channel", rule.channel.label if rule.channel else None),
        ("plan", rule.plan),
        ("country", accounts.country_name(rule.country) if rule.country else None),
        ("language", dict(LANGUAGE_CHOICES).get(rule.language, rule.language)),
        ("subscription_state", rule.subscription_state
         and accounts.state_label(rule.subscription_state)),
        ("billing_state", rule.billing_state and accounts.state_label(rule.billing_state)),
        ("keywords", ", ".join(rules.parse_keywords(rule.keywords)) or None),
    )
    parts = [f"{COMMON_LABELS[name]}: {value}" for name, value in words if value]
    return " · ".join(parts) or _("cualquier ticket")


class RoutingRuleView(RoutingTestMixin, StaffModelView):
    """Enrutamiento: ordered rules; the first that matches routes the ticket."""

    list_template = "helpdesk/routing_list.html"
    read_roles = write_roles = SUPERVISORS
    # The conditions read as one sentence: thirteen columns ran past the page's right edge.
    column_list = ("position", "name", "enabled", "conditions", "team", "priority_override",
                   "strategy")
    column_labels = {**COMMON_LABELS, "conditions": _l("Condiciones")}
    column_default_sort = ("position", False)
    column_sortable_list = ("position", "name", "enabled")
    column_searchable_list = ("name", "keywords")
    # the position with its ▲ ▼ buttons: the move_buttons macro of helpdesk/macros.html
    column_formatters = {**ENUM_FORMATTERS, "position": macro("move_buttons"),
                         "conditions": lambda v, c, m, n: conditions_text(m)}
    form_columns = ("name", "position", "enabled", "category", "priority", "channel", "plan",
                    "country", "language", "subscription_state", "billing_state", "keywords",
                    "team", "priority_override", "strategy")
    form_overrides = {"priority": enum_field(Priority, optional=True),
                      "channel": enum_field(Channel, optional=True),
                      "priority_override": enum_field(Priority, optional=True),
                      "strategy": enum_field(Strategy, optional=True),
                      "country": PickerField, "plan": PickerField, "language": PickerField,
                      "subscription_state": PickerField, "billing_state": PickerField}
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=120)]},
        "category": {"blank_text": "—"},
        "team": {"validators": [required(_l("Elige el equipo de destino."))]},
        "position": {"validators": [InputRequired(), NumberRange(min=0, max=100000)]},
        "keywords": {"validators": [Optional(), Length(max=2000), _keywords_are_text]},
        "country": {"message": _l("Elige el país de la lista."), "upper": True},
        "plan": {"message": _l("Elige un plan de la lista.")},
        "language": {"message": _l("Elige un idioma de la lista.")},
        "subscription_state": {"message": _l("Elige un estado de la lista.")},
        "billing_state": {"message": _l("Elige un estado de la lista.")},
    }

    def _pickers(self, form, obj=None):
        """Fill the pickers: countries in the viewer's language, the plans customers have
        (plus the rule's own, if no customer has it any more), the two languages, the account
        states in words."""
        plans = queries.known_plans()
        if obj is not None and obj.plan and obj.plan not in plans:
            plans.append(obj.plan)
        form.country.choices = country_choices()
        form.plan.choices = [(plan, plan) for plan in plans]
        form.language.choices = list(LANGUAGE_CHOICES)
        form.subscription_state.choices = state_choices(SUBSCRIPTION_CODES)
        form.billing_state.choices = state_choices(BILLING_CODES)
        return form

    def create_form(self, obj=None):
        return self._pickers(super().create_form(obj), obj)

    def edit_form(self, obj=None):
        return self._pickers(super().edit_form(obj), obj)


class SlaPolicyView(StaffModelView):
    """SLA: first-response and resolution targets per priority."""

    read_roles = write_roles = SUPERVISORS
    column_list = ("priority", "first_response_minutes", "resolution_minutes", "warn_minutes",
                   "calendar", "escalate_on_first_breach")
    column_labels = COMMON_LABELS
    column_formatters = dict(ENUM_FORMATTERS)
    form_columns = ("priority", "first_response_minutes", "resolution_minutes", "warn_minutes",
                    "calendar", "escalate_on_first_breach")
    form_overrides = {"priority": enum_field(Priority)}
    form_args = {
        "first_response_minutes": {"validators": [InputRequired(),
                                                  NumberRange(min=1, max=60 * 24 * 30)]},
        "resolution_minutes": {"validators": [Optional(), NumberRange(min=1, max=60 * 24 * 90)]},
        "warn_minutes": {"validators": [Optional(), NumberRange(min=0, max=60 * 24 * 30)],
                         "description": _l("Un plazo se resalta cuando le queda una cuarta "
                                           "parte o estos minutos, lo que llegue antes. 0: "
                                           "solo la cuarta parte.")},
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
                    "supervisors", "escalation_targets")
    form_overrides = {"strategy": enum_field(Strategy)}
    form_args = {"name": {"validators": [InputRequired(), Length(max=80)]}}
    workflow_fields = ("members", "supervisors")

    def apply_workflow_fields(self, model, data, is_created):
        workflows.set_team_members(model, members=data["members"],
                                   supervisors=data["supervisors"], actor=current_user)


def _valid_timezone(form, field):
    try:
        ZoneInfo(field.data or "")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(str(_l("Zona horaria desconocida (p. ej. Europe/Madrid)."))) from None


def _valid_hours(form, field):
    try:
        parsed = rules.parse_hours(field.data or "")
    except ValueError as exc:
        raise ValidationError(_("Horario no válido: %(detail)s", detail=str(exc))) from None
    if not parsed:
        raise ValidationError(str(_l("Indica al menos un día con horario.")))


class CalendarView(StaffModelView):
    """Horarios laborales: when SLA time counts (time zone, weekly hours, holidays)."""

    read_roles = write_roles = SUPERVISORS
    allow_delete = False
    column_list = ("name", "timezone", "hours")
    column_labels = {**COMMON_LABELS, "timezone": _l("Zona horaria"),
                     "hours": _l("Horario semanal"), "hours_text": _l("Horario semanal"),
                     "holidays": _l("Festivos"), "day": _l("Día")}
    column_formatters = {"hours": lambda v, c, m, n: rules.format_hours(m.hours, day_names())}
    form_columns = ("name", "timezone", "hours_text", "holidays")
    form_extra_fields = {"hours_text": TextAreaField(
        _l("Horario semanal"), validators=[_valid_hours],
        description=_l("Una línea por tramo de días, p. ej. «lun-vie 09:00-14:00, 15:00-18:00»."))}
    form_args = {"name": {"validators": [InputRequired(), Length(max=80)]},
                 "timezone": {"validators": [InputRequired(), _valid_timezone]}}
    inline_model_form_converter = InlineConverter  # its Add button without inline onclick
    inline_models = ((Holiday, {"form_columns": ("id", "day", "name"),
                                "column_labels": {"day": _l("Día"), "name": _l("Nombre")}}),)

    def on_form_prefill(self, form, id):
        form.hours_text.data = rules.format_hours(self.get_one(id).hours, day_names())

    def on_model_change(self, form, model, is_created):
        model.hours = rules.parse_hours(form.hours_text.data)
        super().on_model_change(form, model, is_created)


def routing_views(category: str) -> list:
    """The supervisor-edited configuration views."""
    return [
        RoutingRuleView(RoutingRule, name=_l("Enrutamiento"), category=category,
                        endpoint="routing"),
        SlaPolicyView(SlaPolicy, name=_l("SLA"), category=category, endpoint="sla"),
        CalendarView(BusinessCalendar, name=_l("Horarios laborales"), category=category,
                     endpoint="calendars"),
        TeamView(Team, name=_l("Equipos"), category=category, endpoint="teams"),
    ]

