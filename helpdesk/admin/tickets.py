"""Soporte > Tickets: the queue as a Flask-Admin list; changes go through workflows."""

from __future__ import annotations

from flask import url_for
from flask_admin.contrib.sqla import filters
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length

from .. import queries, workflows
from ..models import Channel, Customer, Priority, SlaState, Ticket, TicketStatus
from .base import ALL_STAFF, ENUM_FORMATTERS, StaffModelView, enum_field
from .ticket_work import TicketWorkMixin


def _options(enum):
    return lambda: [(m.value, m.label) for m in enum]


def _link(view, context, model, name):
    """Number and subject open the ticket page (escaped: subjects are customer text)."""
    url = url_for(".work_view", ticket_id=model.id)
    text = model.number if name == "id" else model.subject
    return Markup('<a href="{}">{}</a>').format(url, text)


class TicketView(TicketWorkMixin, StaffModelView):
    """The ticket queue: filters, search, sorting, paging; create and edit via workflows."""

    read_roles = write_roles = ALL_STAFF
    allow_delete = False
    column_list = ("id", "subject", "customer.email", "status", "priority", "category", "team",
                   "assignee", "channel", "sla_state", "first_response_due_at", "created_at")
    column_labels = {
        "id": _l("Nº"), "subject": _l("Asunto"), "customer": _l("Cliente"),
        "customer.email": _l("Cliente"), "status": _l("Estado"), "priority": _l("Prioridad"),
        "category": _l("Categoría"), "team": _l("Equipo"), "assignee": _l("Asignado a"),
        "channel": _l("Canal"), "sla_state": _l("SLA"),
        "first_response_due_at": _l("Vence 1ª respuesta"), "created_at": _l("Creado"),
        "updated_at": _l("Actualizado"), "body": _l("Mensaje"), "language": _l("Idioma"),
        "first_response_at": _l("Primera respuesta"), "resolved_at": _l("Resuelto"),
        "escalation_level": _l("Nivel de escalamiento"), "closing_notes": _l("Notas de cierre"),
        "resolution_category": _l("Categoría de resolución"), "version": _l("Versión"),
    }
    column_sortable_list = ("id", "subject", "status", "priority", ("category", "category.name"),
                            ("team", "team.name"), ("assignee", "assignee.name"), "channel",
                            "sla_state", "first_response_due_at", "created_at")
    column_default_sort = ("created_at", True)
    column_searchable_list = ("id", "subject", Customer.email)
    column_filters = (
        filters.FilterEqual(Ticket.status, _l("Estado"), options=_options(TicketStatus)),
        filters.FilterEqual(Ticket.priority, _l("Prioridad"), options=_options(Priority)),
        filters.FilterEqual(Ticket.channel, _l("Canal"), options=_options(Channel)),
        filters.FilterEqual(Ticket.sla_state, _l("SLA"), options=_options(SlaState)),
        "category", "team", "assignee",
        filters.DateTimeBetweenFilter(Ticket.created_at, _l("Creado")),
    )
    column_formatters = {**ENUM_FORMATTERS, "id": _link, "subject": _link}
    column_details_list = ("id", "subject", "customer", "status", "priority", "category", "team",
                           "assignee", "channel", "language", "sla_state",
                           "first_response_due_at", "first_response_at", "resolved_at",
                           "escalation_level", "resolution_category", "closing_notes",
                           "created_at", "updated_at", "version")
    form_create_rules = ("customer", "subject", "body", "category", "priority", "channel")
    form_edit_rules = ("subject", "category")
    form_columns = ("customer", "subject", "body", "category", "priority", "channel")
    form_extra_fields = {
        "body": TextAreaField(_l("Mensaje"), validators=[InputRequired(),
                                                         Length(max=workflows.BODY_MAX)]),
    }
    form_args = {
        "subject": {"validators": [InputRequired(), Length(max=workflows.SUBJECT_MAX)]},
        "category": {"blank_text": "—"},
    }
    form_overrides = {"priority": enum_field(Priority), "channel": enum_field(Channel)}
    form_ajax_refs = {"customer": {"fields": ("name", "email"), "page_size": 10,
                                   "placeholder": _l("Busca por nombre o correo")}}

    def get_query(self):
        return super().get_query().where(queries.visible_to(current_user))

    def get_count_query(self):
        return super().get_count_query().where(queries.visible_to(current_user))

    def get_one(self, id):
        """Scoped like the list: an agent cannot reach another team's ticket by ?id=."""
        try:
            return queries.visible_ticket(int(id), current_user)
        except (TypeError, ValueError):
            return None

    def get_edit_form(self):
        form = super().get_edit_form()
        for name in ("customer", "body", "priority", "channel"):
            if hasattr(form, name):
                delattr(form, name)
        return form

    def create_model(self, form):
        try:
            with workflows.atomic():
                ticket = workflows.create_ticket(
                    form.customer.data, form.subject.data, form.body.data, actor=current_user,
                    category=form.category.data, priority=form.priority.data,
                    channel=form.channel.data,
                )
        except Exception as exc:
            self.handle_view_exception(exc)
            return False
        return ticket

    def update_model(self, form, model):
        try:
            with workflows.atomic():
                workflows.update_ticket_details(model, subject=form.subject.data,
                                                category=form.category.data, actor=current_user)
        except Exception as exc:
            self.handle_view_exception(exc)
            return False
        return True


def ticket_views(category: str) -> list:
    """The views of the Soporte menu that list tickets."""
    return [TicketView(Ticket, name=_l("Tickets"), category=category, endpoint="tickets")]

