"""Soporte > Tickets: the queue as a Flask-Admin list; changes go through workflows."""

from __future__ import annotations

from flask import abort, g, has_app_context, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import filters
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import false, literal, select, union_all
from sqlalchemy.orm import load_only, selectinload
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length

from .. import presence, queries, rules, workflows
from ..extensions import db
from ..models import (
    Category,
    Channel,
    Customer,
    Priority,
    SlaState,
    Team,
    Ticket,
    User,
)
from ..queries import views as view_queries
from ..rules import parse_id
from . import closure, escalation, merge, queue, saved_views
from .base import ALL_STAFF, ENUM_FORMATTERS, StaffModelView, enum_field
from .bulk import BulkMixin
from .queue_rows import queue_rows
from .ticket_work import TicketWorkMixin, may_take


def _options(enum):
    return lambda: [(m.value, m.label) for m in enum]


def _assignee_cell(view, context, model, name):
    """The assignee, or *Tomar* (`take_button`) for an
    unassigned ticket; whether the viewer may take it is decided here."""
    if model.assignee is not None:
        return model.assignee.name
    macro = context.resolve("take_button")  # the details page (the queue: `queue_rows`)
    return macro(model=model, column=name, may_take=may_take(model, queue.viewer()))


class IdEqual(filters.FilterEqual):
    """Equal to one row of a related table, chosen by name. Explicit on purpose: a string
    relation filter would let staff filter on every column of users, password hash included."""

    def clean(self, value):
        return parse_id(value) or 0


#: The ticket columns the queue's rows show and its rules (take, escalate) ask; the others are
#: not read for a list (a row never needs them: see `queue_rows`).
LISTED = (Ticket.id, Ticket.subject, Ticket.status, Ticket.priority, Ticket.customer_id,
          Ticket.team_id, Ticket.assignee_id, Ticket.sla_due_at, Ticket.sla_state,
          Ticket.escalation_level, Ticket.version, Ticket.created_at)

#: How many pages past the current one the pager counts ("página 1 de 5+").
PAGES_AHEAD = 5

#: The tables whose rows the queue's filters offer by name, read together (`_names`).
NAMED = (Category, Team, User)


def _names(model):
    """Filter options: (id, name) of every row, read when the filter menu is drawn — for the
    three named tables in one statement per request."""
    def options():
        if not has_app_context():  # Flask-Admin also asks once while the view is built
            return []
        if "hd_filter_names" not in g:
            rows = db.session.execute(union_all(*(
                select(literal(m.__tablename__).label("kind"), m.id, m.name) for m in NAMED
            )).order_by("kind", "name"))
            names = {m.__tablename__: [] for m in NAMED}
            for kind, row_id, name in rows:
                names[kind].append((str(row_id), name))
            g.hd_filter_names = names
        return g.hd_filter_names[model.__tablename__]
    return options


SLA_FILTER = filters.FilterEqual(Ticket.sla_state, _l("SLA"), options=_options(SlaState))
TEAM_FILTER = IdEqual(Ticket.team_id, _l("Equipo"), options=_names(Team))


def _link(view, context, model, name):
    """Number and subject open the ticket page (escaped: subjects are customer text)."""
    url = f"{queue.queue_base()}{model.id}/"
    text = model.number if name == "id" else model.subject
    link = Markup('<a href="{}">{}</a>').format(url, text)
    viewers = (context.get("viewers") or {}).get(model.id) if name == "id" else None
    if viewers:
        link += Markup(' <span class="fa fa-eye text-info" data-testid="viewers" title="{}">'
                       '</span><span class="sr-only">{}</span>').format(
            ", ".join(viewers), _("Abierto por %(names)s", names=", ".join(viewers)))
    snippet = (context.get("snippets") or {}).get(model.id) if name == "subject" else None
    if snippet:
        link += Markup('<div class="small text-muted hd-snippet" data-testid="snippet">{}</div>'
                       ).format(snippet)
    return link


def _names_rows(flt) -> bool:
    """Whether a filter's options are rows people add and rename (read on every page)."""
    return isinstance(flt, IdEqual) or flt is escalation.ESCALATION_REASON


class TicketView(TicketWorkMixin, BulkMixin, saved_views.SavedViewsMixin,
                 escalation.EscalationMixin, closure.ClosureMixin, merge.MergeMixin,
                 StaffModelView):
    """The ticket queue: filters, search, sorting, paging; create and edit via workflows."""

    read_roles = write_roles = ALL_STAFF
    allow_delete = False
    list_template = "helpdesk/tickets/list.html"
    simple_list_pager = True  # no COUNT(*) over the table per page; the tabs carry counts
    column_auto_select_related = False  # get_query loads the rows' relations instead
    column_list = ("id", "subject", "customer.name", "priority", "status", "team", "assignee",
                   "created_at", "sla_due_at")
    column_labels = {
        "id": _l("Nº"), "subject": _l("Asunto"), "customer": _l("Cliente"),
        "customer.name": _l("Cliente"), "status": _l("Estado"), "priority": _l("Prioridad"),
        "category": _l("Categoría"), "team": _l("Equipo"), "assignee": _l("Asignado a"),
        "channel": _l("Canal"), "sla_state": _l("SLA"), "sla_due_at": _l("Plazo SLA"),
        "first_response_due_at": _l("Vence 1ª respuesta"), "created_at": _l("Antigüedad"),
        "updated_at": _l("Actualizado"), "body": _l("Mensaje"), "language": _l("Idioma"),
        "first_response_at": _l("Primera respuesta"), "resolved_at": _l("Resuelto"),
        "escalation_level": _l("Nivel de escalamiento"), "closing_notes": _l("Notas de cierre"),
        "resolution_category": _l("Categoría de resolución"), "version": _l("Versión"),
        "resolution_due_at": _l("Vence resolución"),
    }
    column_sortable_list = ("id", "subject", "status", "priority", ("team", "team.name"),
                            ("assignee", "assignee.name"), "created_at", "sla_due_at")
    column_default_sort = ("sla_due_at", False)
    column_searchable_list = ("subject",)
    column_filters = (
        queue.STATUS, queue.STATUS_IN,
        filters.FilterEqual(Ticket.priority, _l("Prioridad"), options=_options(Priority)),
        filters.FilterEqual(Ticket.channel, _l("Canal"), options=_options(Channel)),
        SLA_FILTER,
        IdEqual(Ticket.category_id, _l("Categoría"), options=_names(Category)),
        TEAM_FILTER,
        IdEqual(Ticket.assignee_id, _l("Asignado a"), options=_names(User)),
        queue.MINE, queue.UNASSIGNED, queue.MY_TEAMS,
        filters.DateTimeBetweenFilter(Ticket.created_at, _l("Creado")),
        escalation.ESCALATED, escalation.ESCALATION_REASON,
        queue.MERGED,  # new filters go last: saved views keep the earlier indexes
    )
    column_extra_row_actions = [escalation.EscalateRowAction()]  # drawn by `queue_rows`
    column_formatters = {**ENUM_FORMATTERS, "status": queue.status_cell,
                         "priority": queue.enum_cell, "id": _link,
                         "subject": escalation.level_badge(_link),
                         "sla_due_at": queue.sla_cell, "created_at": queue.age_cell,
                         "assignee": _assignee_cell}
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._filter_texts = {}  # language: each filter's (label, operation, fixed options)

    @expose("/")
    def index_view(self):
        """The queue, with the saved-view tabs and their counts above it; a ticket number alone
        in the search box opens that ticket."""
        number = queries.ticket_number(request.args.get("search", ""))
        if number is not None and queries.visible_ticket(number, current_user) is not None:
            return redirect(url_for(".work_view", ticket_id=number))
        self._template_args["tabs"] = queue.saved_view_tabs(
            self, queries.queue_counts(current_user))
        self._template_args["sla_states"] = list(SlaState)
        return super().index_view()

    @expose("/sla-breached/")
    def breached_view(self):
        """Where a breach digest links: the unresolved breached tickets, of one team if given."""
        spec = [(SLA_FILTER, SlaState.BREACHED.value), (queue.STATUS_IN, queue.UNRESOLVED)]
        team_id = parse_id(request.args.get("team"))
        if team_id is not None:
            spec.append((TEAM_FILTER, str(team_id)))
        return redirect(url_for(".index_view", **queue.filter_args(self, spec)))

    @action("reassign", _l("Reasignar"))
    def action_reassign(self, ids):
        """Bulk: open the reassignment form for the selected tickets (supervisors)."""
        if not rules.may_reassign(current_user.role):
            abort(403)
        return redirect(url_for(".reassign_view", ids=",".join(str(i) for i in ids)))

    @action("resolve", _l("Resolver"))
    def action_resolve(self, ids):
        """Bulk: open *Resolver* for the selected tickets (supervisors)."""
        if not rules.may_bulk_resolve(current_user.role):
            abort(403)
        return redirect(url_for(".resolve_bulk_view", ids=",".join(str(i) for i in ids)))

    def is_action_allowed(self, name):
        if name == "reassign" and not rules.may_reassign(current_user.role):
            return False
        if name == "resolve" and not rules.may_bulk_resolve(current_user.role):
            return False
        return super().is_action_allowed(name)

    def _get_filter_groups(self):
        """The filter menu (Flask-Admin's groups): labels, operations and fixed options made
        once per language; the options naming rows (teams, agents, categories, reasons) read
        again each time: people come and go."""
        made = self._filter_texts.get(str(get_locale()))
        if made is None:
            made = self._filter_texts[str(get_locale())] = [
                (str(flt.name), str(flt.operation()), None if _names_rows(flt) else
                 [(k, str(v)) for k, v in flt.get_options(self) or ()] or None)
                for flt in self._filters]
        groups = {}
        for index, (flt, (name, operation, options)) in enumerate(
                zip(self._filters, made, strict=True)):
            if _names_rows(flt):
                options = [(k, str(v)) for k, v in flt.get_options(self) or ()] or None
            groups.setdefault(name, []).append({
                "index": index, "arg": self.get_filter_arg(index, flt),
                "operation": operation, "options": options, "type": flt.data_type})
        return groups

    def search_placeholder(self):
        return _("Nº, asunto, cliente o texto")

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Full-text search (`queries.ticket_search`): the rows join the matches and, unless
        the viewer sorts by a column, come in order of relevance, the newest first among equals
        (a phrase's matches often rank the same)."""
        matches = queries.ticket_search(search)
        g.search_rank = None
        if matches is None:  # punctuation only: nothing can match it
            return query.where(false()), count_query, joins, count_joins
        ranked = matches.ranked
        query = query.join(ranked, ranked.c.ticket_id == Ticket.id)
        g.search_rank = ranked.c.rank
        if count_query is not None:
            count_query = count_query.where(Ticket.id.in_(matches.ids))
        return query, count_query, joins, count_joins

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        rank = g.get("search_rank")
        if sort_column is None and rank is not None:
            return query.order_by(rank, Ticket.id.desc()), joins
        return super()._apply_sorting(query, joins, sort_column, sort_desc)

    def get_list(self, page, sort_column, sort_desc, search, filters, *args, **kwargs):
        """The page's rows; with a search, each row's snippet for the subject column; who has
        each row's ticket open (the eye icon, from Redis)."""
        g.search_rank = None
        _none, rows = super().get_list(page, sort_column, sort_desc, search, filters,
                                       *args, **kwargs)
        ids = [row.id for row in rows]
        self._template_args["snippets"] = queries.search_snippets(ids, search) if search else {}
        self._template_args["viewers"] = presence.viewers_of(ids)
        saved = view_queries.views_for(current_user)
        size = kwargs.get("page_size") or self.page_size
        cap = ((page or 0) + PAGES_AHEAD) * size  # "página 1 de 5+": counted no further than that
        total, counts = queue.count_all(self, (search, filters), saved, cap)
        self._template_args["saved_tabs"] = queue.saved_tabs(saved, counts,
                                                             queue.list_args(request.args))
        self._template_args["list_more"] = total > cap
        return min(total, cap), rows

    def render(self, template, **kwargs):
        """The queue on a tab (built-in or saved) shows the tab, never Flask-Admin's raw filter
        widgets: their arguments ride along as hidden fields of the filter form instead."""
        if template == self.list_template and kwargs.get("active_filters"):
            current = {k: v for k, v in queue.list_args(request.args) if k.startswith("flt")}
            tabs = [tab["args"] for tab in self._template_args.get("tabs", ())] + [
                {k: v for k, v in queue.list_args_from_query(t["url"].partition("?")[2])
                 if k.startswith("flt")} for t in self._template_args.get("saved_tabs", ())]
            if current in tabs:
                kwargs["active_filters"] = []
                kwargs["extra_args"] = {**kwargs.get("extra_args", {}), **current}
        if template == self.list_template:
            kwargs["save_view_form"] = saved_views.save_form(
                queue.clean_query(self, request.args) or "")
            kwargs["queue_rows"] = queue_rows(self, kwargs.get("data") or (),
                                              self._template_args, kwargs["list_columns"])
            kwargs["csrf_token_field"] = Markup(
                '<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())
        return super().render(template, **kwargs)

    def _order_by(self, query, joins, sort_joins, sort_field, sort_desc):
        """Deadline order puts tickets without a running deadline last; ids break ties."""
        if sort_field is not None and sort_field.key == "sla_due_at":
            direction = Ticket.sla_due_at.desc() if sort_desc else Ticket.sla_due_at.asc()
            return query.order_by(Ticket.sla_due_at.is_(None), direction, Ticket.id), joins
        query, joins = super()._order_by(query, joins, sort_joins, sort_field, sort_desc)
        return query.order_by(Ticket.id), joins

    def get_query(self):
        """The tickets the viewer may see, as the list reads them: the columns its rows show and
        its rules ask (`LISTED`), and each page's people in one statement per relation, their
        names only (no query per row, no join over the rows an OFFSET skips)."""
        return super().get_query().where(queries.visible_to(current_user)).options(
            load_only(*LISTED),
            selectinload(Ticket.customer).load_only(Customer.id, Customer.name),
            selectinload(Ticket.team).load_only(Team.id, Team.name),
            selectinload(Ticket.assignee).load_only(User.id, User.name))

    def get_count_query(self):
        return super().get_count_query().where(queries.visible_to(current_user))

    def get_one(self, id):
        """Scoped like the list: an agent cannot reach another team's ticket by ?id=."""
        return queries.visible_ticket(id, current_user)

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

