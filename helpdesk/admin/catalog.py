"""Configuración: categories, escalation reasons, resolution categories, templates, customers."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from .. import accounts, queries, rules, templating, workflows
from ..extensions import db
from ..models import (
    Category,
    Customer,
    EscalationReason,
    Macro,
    Priority,
    ResolutionCategory,
    ResponseTemplate,
    Ticket,
    TicketStatus,
)
from .base import (
    ADMINS,
    ALL_STAFF,
    ENUM_FORMATTERS,
    SUPERVISORS,
    StaffModelView,
    enum_field,
    matches,
)

LABELS = {
    "name": _l("Nombre"), "code": _l("Código"), "description": _l("Descripción"),
    "active": _l("Activo"), "default_team": _l("Equipo por defecto"),
    "category": _l("Categoría"), "locale": _l("Idioma"), "body": _l("Texto"),
    "times_used": _l("Usos"), "email": _l("Correo electrónico"), "phone": _l("Teléfono"),
    "country": _l("País"), "plan": _l("Plan"), "subscription_state": _l("Suscripción"),
    "billing_state": _l("Facturación"), "devices": _l("Dispositivos"),
    "member_since": _l("Cliente desde"), "created_at": _l("Creado"),
    "updated_at": _l("Actualizado"), "name_en": _l("Nombre en inglés"),
}
LOCALE_CHOICES = [("es", "Español"), ("en", "English")]
#: The account codes the Bayit+ systems send, as the form offers them (labels in words).
SUBSCRIPTION_CODES, BILLING_CODES = accounts.SUBSCRIPTION_CODES, accounts.BILLING_CODES


def _code_choices(codes) -> list[tuple[str, object]]:
    return [(code, accounts.STATE_LABELS[code]) for code in codes]


def _in_words(view, context, model, name):
    """Column formatter: an account code, country or language as words, never `al_dia`."""
    value = getattr(model, name)
    if not value:
        return ""
    if name == "country":
        return accounts.country_name(value)
    if name == "locale":
        return dict(LOCALE_CHOICES).get(value, value)
    return accounts.state_label(value)


WORD_FORMATTERS = {name: _in_words for name in ("country", "locale", "subscription_state",
                                                 "billing_state")}


class CategoryView(StaffModelView):
    """Categorías: what tickets are about, and the team each goes to by default."""

    read_roles, write_roles = SUPERVISORS, ADMINS
    allow_delete = False
    column_list = ("code", "name", "default_team", "active")
    column_labels = LABELS
    column_searchable_list = ("code", "name")
    form_columns = ("code", "name", "description", "default_team", "active")
    form_args = {
        "code": {"validators": [InputRequired(), Length(max=40),
                                matches(r"^[a-z0-9_-]+$", _l(
                                    "Solo minúsculas, números, guiones y guiones bajos."))]},
        "name": {"validators": [InputRequired(), Length(max=80)]},
    }


class EscalationReasonView(StaffModelView):
    """Motivos de escalamiento, edited by supervisors."""

    read_roles = write_roles = SUPERVISORS
    allow_delete = False
    column_list = ("name", "name_en", "description", "active")
    column_labels = LABELS
    form_columns = ("name", "name_en", "description", "active")
    form_args = {"name": {"validators": [InputRequired(), Length(max=80)]},
                 "name_en": {"validators": [Optional(), Length(max=80)]}}


class ResolutionCategoryView(StaffModelView):
    """Categorías de resolución, chosen in *Resolver* and maintained by supervisors; one may
    fit a single ticket category (blank: every ticket)."""

    read_roles = write_roles = SUPERVISORS
    allow_delete = False
    column_list = ("name", "category", "description", "active")
    column_labels = LABELS
    form_columns = ("name", "category", "description", "active")
    form_args = {"name": {"validators": [InputRequired(), Length(max=80)]},
                 "category": {"blank_text": "—"}}


def _within_sandbox_limits(form, field):
    """A response template is checked when saved, as the reply preview would check it."""
    try:
        templating.check(field.data or "")
    except templating.TemplateProblem as exc:
        raise ValidationError(str(exc)) from None


class ResponseTemplateView(StaffModelView):
    """Plantillas de respuesta: everyone reads them, admins maintain them."""

    read_roles, write_roles = ALL_STAFF, ADMINS
    column_list = ("name", "category", "locale", "active", "times_used")
    column_labels = LABELS
    column_formatters = WORD_FORMATTERS
    column_filters = ("category", "locale", "active")
    column_searchable_list = ("name", "body")
    form_columns = ("name", "category", "locale", "body", "active")
    form_choices = {"locale": LOCALE_CHOICES}
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=120)]},
        "body": {"validators": [InputRequired(), _within_sandbox_limits]},
    }
    form_widget_args = {"body": {"rows": 12}}
    create_template = "helpdesk/template_create.html"
    edit_template = "helpdesk/template_edit.html"

    @expose("/preview/", methods=("POST",))
    def preview_view(self):
        """The text as a customer would get it, rendered against a sample ticket (the number
        given, else the newest ticket, else sample values): JSON; 422 with the same message
        an agent would get (and a save would refuse with) when it cannot be rendered."""
        if not self.may_write():
            abort(403)
        ticket, number = None, (request.form.get("ticket") or "").strip()
        if number:
            ticket_id = rules.parse_id(number)
            ticket = queries.visible_ticket(ticket_id, current_user) if ticket_id else None
            if ticket is None:
                return jsonify(ok=False, error=_("El ticket %(n)s no existe o no tienes acceso "
                                                 "a él.", n=number[:12])), 422
        else:
            ticket = db.session.scalar(select(Ticket).order_by(Ticket.id.desc()).limit(1))
        try:
            text = request.form.get("body", "")
            rendered = templating.render(text, templating.placeholder_context(
                ticket, current_user)) if ticket else templating.check_render(text)
        except templating.TemplateProblem as exc:
            return jsonify(ok=False, error=str(exc)), 422
        return jsonify(ok=True, text=rendered, ticket=ticket.number if ticket else None)


def _macro_status(form, field):
    """A macro leaves a ticket Abierto or Pendiente (*Resolver* resolves)."""
    if field.data is not None and field.data not in rules.REPLY_STATUSES:
        raise ValidationError(str(_l("Una macro puede dejar el ticket Abierto o Pendiente; "
                                     "para resolver usa «Resolver».")))


class MacroView(StaffModelView):
    """Macros: a named one-click action (a template sent in the ticket's language, a status,
    a priority, a category). Everyone reads them; admins maintain them."""

    read_roles, write_roles = ALL_STAFF, ADMINS
    allow_delete = False
    column_list = ("name", "template", "status", "priority", "category", "active", "times_used")
    column_labels = {**LABELS, "template": _l("Plantilla"), "status": _l("Estado"),
                     "priority": _l("Prioridad")}
    column_formatters = dict(ENUM_FORMATTERS)
    column_searchable_list = ("name",)
    form_columns = ("name", "template", "status", "priority", "category", "active")
    form_overrides = {"status": enum_field(TicketStatus, optional=True),
                      "priority": enum_field(Priority, optional=True)}
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=120)]},
        "template": {"blank_text": "—"},
        "category": {"blank_text": "—"},
        "status": {"validators": [_macro_status]},
    }

    def validate_form(self, form):
        """A macro must do something: a template, a status, a priority or a category."""
        if not super().validate_form(form):
            return False
        if any(getattr(form, name).data for name in ("template", "status", "priority",
                                                     "category")):
            return True
        form.name.errors = [*form.name.errors, str(_l(
            "Elige al menos una acción: plantilla, estado, prioridad o categoría."))]
        return False


class CustomerView(StaffModelView):
    """Clientes: the Bayit+ accounts behind the tickets. Everyone reads them; supervisors and
    admins edit them (`rules.may_edit_customers`), the e-mail through its workflow."""

    read_roles, write_roles = ALL_STAFF, SUPERVISORS
    allow_delete = False
    workflow_fields = ("email",)

    column_list = ("name", "email", "country", "plan", "subscription_state", "billing_state",
                   "member_since")
    column_labels = LABELS
    column_formatters = WORD_FORMATTERS
    column_searchable_list = ("name", "email")
    column_filters = ("country", "plan", "subscription_state", "billing_state")
    column_sortable_list = ("name", "email", "country", "plan", "member_since")
    form_columns = ("name", "email", "phone", "locale", "country", "plan",
                    "subscription_state", "billing_state", "member_since")
    form_choices = {"locale": LOCALE_CHOICES,
                    "subscription_state": _code_choices(SUBSCRIPTION_CODES),
                    "billing_state": _code_choices(BILLING_CODES)}
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=120)]},
        "email": {"validators": [InputRequired(), Email(), Length(max=254)]},
        "country": {"validators": [Optional(), Length(min=2, max=2)]},
    }

    def may_write(self) -> bool:
        return current_user.is_authenticated and rules.may_edit_customers(current_user.role)

    def on_model_change(self, form, model, is_created):
        if is_created:  # a new customer's first address: no one to tell, nothing queued
            model.email = (form.workflow_data.get("email") or "").strip()
        super().on_model_change(form, model, is_created)

    def apply_workflow_fields(self, model, data, is_created):
        if not is_created:
            workflows.change_customer_email(model, data["email"], actor=current_user)


def template_views(category: str) -> list:
    """Plantillas, kept apart because the menu puts it second."""
    return [ResponseTemplateView(ResponseTemplate, name=_l("Plantillas"), category=category,
                                 endpoint="templates"),
            MacroView(Macro, name=_l("Macros"), category=category, endpoint="macros")]


def catalog_views(category: str) -> list:
    """Reference data in menu order (after Agentes)."""
    return [
        CategoryView(Category, name=_l("Categorías"), category=category, endpoint="categories"),
        EscalationReasonView(EscalationReason, name=_l("Motivos de escalamiento"),
                             category=category, endpoint="escalation_reasons"),
        ResolutionCategoryView(ResolutionCategory, name=_l("Categorías de resolución"),
                               category=category, endpoint="resolution_categories"),
        CustomerView(Customer, name=_l("Clientes"), category=category, endpoint="customers"),
    ]
