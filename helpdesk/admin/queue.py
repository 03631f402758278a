"""The queue's saved views (tabs with counts), its custom filters and SLA column."""

from __future__ import annotations

from flask import url_for
from flask_admin.contrib.sqla import filters
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import not_, or_

from .. import queries, rules
from ..models import SlaState, Ticket, TicketStatus
from .escalation import ESCALATED

UNRESOLVED = ",".join(s.value for s in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING))


class FilterMine(filters.BaseSQLAFilter):
    """Assigned to the person looking (yes / no)."""

    def apply(self, query, value, alias=None):
        if value == "1":
            return query.filter(Ticket.assignee_id == current_user.id)
        return query.filter(or_(Ticket.assignee_id != current_user.id,
                                Ticket.assignee_id.is_(None)))

    def operation(self):
        return _l("es")


class FilterMyTeams(filters.BaseSQLAFilter):
    """In one of the viewer's teams (yes / no)."""

    def apply(self, query, value, alias=None):
        mine = queries.in_teams(current_user)
        if value == "1":
            return query.filter(mine)
        return query.filter(or_(not_(mine), Ticket.team_id.is_(None)))

    def operation(self):
        return _l("es")


YES_NO = lambda: [("1", _("sí")), ("0", _("no"))]  # noqa: E731

STATUS = filters.FilterEqual(Ticket.status, _l("Estado"),
                             options=lambda: [(m.value, m.label) for m in TicketStatus])
STATUS_IN = filters.FilterInList(Ticket.status, _l("Estado"),
                                 options=lambda: [(m.value, m.label) for m in TicketStatus])
MINE = FilterMine(Ticket.assignee_id, _l("Mis tickets"), options=YES_NO)
UNASSIGNED = filters.FilterEmpty(Ticket.assignee_id, _l("Asignado a"))
MY_TEAMS = FilterMyTeams(Ticket.team_id, _l("Mis equipos"), options=YES_NO)

#: (key, label, [(filter, value), …]) — the tabs above the queue, in the guide's order.
SAVED_VIEWS = (
    ("new", _l("Nuevo"), ((STATUS, "new"),)),
    ("open", _l("Abierto"), ((STATUS, "open"),)),
    ("pending", _l("Pendiente"), ((STATUS, "pending"),)),
    ("resolved", _l("Resuelto"), ((STATUS, "resolved"),)),
    ("mine", _l("Mis tickets"), ((MINE, "1"), (STATUS_IN, UNRESOLVED))),
    ("unassigned", _l("Sin asignar"), ((UNASSIGNED, "1"), (STATUS_IN, UNRESOLVED))),
    ("team", _l("Mi equipo"), ((MY_TEAMS, "1"), (STATUS_IN, UNRESOLVED))),
    ("escalated", _l("Escalados"), ((ESCALATED, "1"), (STATUS_IN, UNRESOLVED))),
)


def filter_args(view, spec) -> dict[str, str]:
    """The list's URL arguments that apply these (filter, value) pairs of `view`."""
    args = {}
    for position, (flt, value) in enumerate(spec):
        index = view._filters.index(flt)
        args[f"flt{position}_{view.get_filter_arg(index, flt)}"] = value
    return args


def saved_view_tabs(view, counts: dict[str, int]) -> list[dict]:
    """Each tab's label, count (capped: `more` says there are more), URL (built from the view's
    own filters) and its filter arguments."""
    tabs = []
    for key, label, spec in SAVED_VIEWS:
        args = filter_args(view, spec)
        count = counts.get(key, 0)
        tabs.append({"key": key, "label": label, "count": min(count, queries.COUNT_CAP),
                     "more": count > queries.COUNT_CAP, "url": url_for(".index_view", **args),
                     "args": args})
    return tabs


def _relative(delta) -> str:
    return format_timedelta(abs(delta), granularity="minute", threshold=1.0)


def sla_cell(view, context, model, name):
    """Time to the running deadline, coloured by the SLA state the sweep keeps."""
    left = rules.due_in(rules.utcnow(), model.sla_due_at)
    if left is None:
        return ""
    state = model.sla_state if left.total_seconds() > 0 else SlaState.BREACHED
    text = (_("en %(time)s", time=_relative(left)) if left.total_seconds() > 0
            else _("hace %(time)s", time=_relative(left)))
    return Markup('<span class="badge hd-sla hd-sla-{}" title="{}">{}</span>').format(
        state.value, state.label, text)


def age_cell(view, context, model, name):
    """How long ago the ticket came in."""
    return _relative(rules.utcnow() - model.created_at)
