"""The queue's saved views (tabs with counts), its custom filters and SLA column."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from flask import g, request, url_for
from flask_admin.contrib.sqla import filters
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, literal, not_, or_, select

from .. import phrases, queries, rules
from ..extensions import db
from ..models import SlaState, Ticket, TicketStatus
from ..queries import links as link_queries
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


class FilterMerged(filters.BaseSQLAFilter):
    """Merged into another ticket (yes / no): merged tickets are stored as Resuelto."""

    def apply(self, query, value, alias=None):
        merged = link_queries.is_merged()
        return query.filter(merged if value == "1" else not_(merged))

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
MERGED = FilterMerged(Ticket.id, _l("Fusionado"), options=YES_NO)

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
    given = list(request.args.values())
    for key, label, spec in SAVED_VIEWS:
        args = filter_args(view, spec)
        count = counts.get(key, 0)
        tabs.append({"key": key, "label": label, "count": min(count, queries.COUNT_CAP),
                     "more": count > queries.COUNT_CAP, "url": url_for(".index_view", **args),
                     "args": args, "active": bool(args) and all(
                         k in request.args and v in given for k, v in args.items())})
    return tabs


#: Babel's units for format_timedelta, largest first (what "4 días" is made of).
_UNITS = (("year", 31_536_000), ("month", 2_592_000), ("week", 604_800), ("day", 86_400),
          ("hour", 3_600), ("minute", 60))


def _shown(seconds: float) -> tuple[str, int]:
    """The (unit, number) format_timedelta(granularity="minute", threshold=1.0) shows for
    this many seconds: the same rounding as Babel's, so equal keys read the same."""
    for unit, size in _UNITS:
        value = seconds / size
        if value >= 1.0 or unit == "minute":
            if unit == "minute" and value > 0:
                value = max(1, value)
            return unit, int(round(value))
    raise AssertionError("unreachable")


def _memo(kind: str, key, make):
    """A text the queue repeats on many rows, made once per request."""
    cache = g.setdefault("hd_queue_texts", {})
    if (kind, key) not in cache:
        cache[kind, key] = make()
    return cache[kind, key]


#: Texts that depend only on the viewer's language and a small key (an enum's label, "3 días",
#: an SLA badge), kept by the process: the catalogues and Babel give the same text each time.
_LASTING: dict = {}
_LASTING_MAX = 20_000


def _lasting(kind: str, key, make):
    """A text made once per language and key for the life of the process."""
    whole = (_memo("locale", None, lambda: str(get_locale())), kind, key)
    text = _LASTING.get(whole)
    if text is None:
        if len(_LASTING) >= _LASTING_MAX:
            _LASTING.clear()
        text = _LASTING[whole] = make()
    return text


def _relative(delta) -> str:
    return _lasting("delta", _shown(abs(delta.total_seconds())), lambda: format_timedelta(
        abs(delta), granularity="minute", threshold=1.0))


def label(member) -> str:
    """An enum member's label in the viewer's language, translated once per language."""
    return _lasting("label", member, lambda: str(member.label))


def enum_cell(view, context, model, name):
    """Column formatter: an enum's label (escaped by Flask-Admin), translated once a page."""
    value = getattr(model, name)
    return "" if value is None else label(value)


def status_cell(view, context, model, name):
    """The status label; a merged ticket reads "Fusionado en #N" (`phrases.status_text`), its
    survivor found for the page's resolved rows in one statement."""
    merged = _memo("merged", None, lambda: link_queries.merged_into(
        [row.id for row in context.get("data") or () if row.status is TicketStatus.RESOLVED]))
    target = merged.get(model.id)
    if target is None:
        return label(model.status)
    return Markup('<span class="badge hd-status hd-status-merged" data-testid="merged-{}">{}'
                  '</span>').format(model.id, phrases.status_text(model.status, target))


def sla_cell(view, context, model, name):
    """Time to the running deadline, coloured by the SLA state the sweep keeps."""
    left = rules.due_in(_now(), model.sla_due_at)
    if left is None:
        return ""
    ahead = left.total_seconds() > 0
    state = model.sla_state if ahead else SlaState.BREACHED

    def make():
        text = (_("en %(time)s", time=_relative(left)) if ahead
                else _("hace %(time)s", time=_relative(left)))
        return Markup('<span class="badge hd-sla hd-sla-{}" title="{}">{}</span>').format(
            state.value, label(state), text)

    return _lasting("sla", (state, ahead, _shown(abs(left.total_seconds()))), make)


def age_cell(view, context, model, name):
    """How long ago the ticket came in."""
    return _relative(_now() - model.created_at)


def viewer():
    """The signed-in user object itself (not the proxy), for rules asked once per row."""
    if "hd_viewer" not in g:
        g.hd_viewer = current_user._get_current_object()
    return g.hd_viewer


def queue_base() -> str:
    """"/admin/tickets/": every ticket page is under it (`work_view`), built once a request."""
    if "hd_queue_base" not in g:
        g.hd_queue_base = url_for(".index_view")
    return g.hd_queue_base


def _now():
    """One clock for the whole page."""
    return _memo("now", None, rules.utcnow)


# --- Saved views of one's own ------------------------------------------------------------------

#: The list arguments a saved view keeps (never the page).
KEPT_ARG = re.compile(r"^(flt\d{1,2}_\w{1,40}|search|sort|desc)$")


def list_args(args) -> list[tuple[str, str]]:
    """The kept arguments of a list URL, in a stable order (what a saved view stores and what
    makes a tab the current one)."""
    return sorted((k, v) for k, v in args.items(multi=False) if KEPT_ARG.match(k) and v != "")


def clean_query(view, args) -> str | None:
    """The URL query a saved view keeps, if every argument is one the list honours: known
    filters with acceptable values, a search, a sortable column; else None."""
    kept = list_args(args)
    for key, value in kept:
        if key.startswith("flt"):
            name = key[3:].split("_", 1)[1]
            entry = (view._filter_args or {}).get(name)
            if entry is None or not view._filter_value_ok(entry[1], value):
                return None
        elif key == "sort" and not (value.isdigit() and int(value) < len(view._list_columns)):
            return None
        elif key == "desc" and value != "1":
            return None
        elif key == "search" and len(value) > 200:
            return None
    return urlencode(kept)


def parse_query(view, query: str) -> tuple[str | None, list]:
    """(search, filters) of a stored query, in the form `get_list` takes them."""
    pairs = dict(parse_qsl(query))
    filters = []
    for key, value in pairs.items():
        if key.startswith("flt") and "_" in key:
            position, name = key[3:].split("_", 1)
            entry = (view._filter_args or {}).get(name)
            if entry is not None and view._filter_value_ok(entry[1], value):
                filters.append((int(position), (entry[0], str(entry[1].name), value)))
    return pairs.get("search") or None, [f for _p, f in sorted(filters, key=lambda f: f[0])]


def listed(view, search: str | None, filters) -> object:
    """The ids of the tickets the list shows for (search, filters), as a statement: the view's
    own scope, search and filters applied by its own code."""
    query = select(Ticket.id).where(queries.visible_to(current_user))
    if search:
        query, _c, _j, _cj = view._apply_search(query, None, {}, {}, search)
    if filters:
        query, _c, _j, _cj = view._apply_filters(query, None, {}, {}, filters)
    return query


def capped(statement, cap: int = queries.COUNT_CAP):
    """count(*) over at most cap + 1 rows of `statement`, as a scalar subquery. The statement's
    FROM is kept: a supervisor's unfiltered list has no condition naming `tickets`, and without
    it the count was of `SELECT 1`, always 1."""
    rows = (statement.with_only_columns(literal(1), maintain_column_froms=True)
            .limit(cap + 1).subquery())
    return select(func.count()).select_from(rows).scalar_subquery()


def count_all(view, current: tuple[str | None, list], saved: list,
              current_cap: int) -> tuple[int, list[int]]:
    """In one statement: the current list's count (capped at `current_cap`: the pager needs
    only a few pages ahead) and each saved view's (capped as the tabs are)."""
    parts = [capped(listed(view, *current), current_cap)] + [
        capped(listed(view, *parse_query(view, s.query))) for s in saved]
    row = db.session.execute(select(*parts)).one()
    return row[0], list(row[1:])


def saved_tabs(views: list, counts: list[int], current: list[tuple[str, str]]) -> list[dict]:
    """Each saved view as a tab: name, capped count, URL, whether shared, whether current."""
    tabs = []
    for saved, count in zip(views, counts, strict=True):
        tabs.append({"id": saved.id, "name": saved.name, "count": min(count, queries.COUNT_CAP),
                     "more": count > queries.COUNT_CAP, "shared": saved.team_id is not None,
                     "own": saved.owner_id == current_user.id,
                     "url": url_for(".index_view") + ("?" + saved.query if saved.query else ""),
                     "active": list_args_from_query(saved.query) == current})
    return tabs


def list_args_from_query(query: str) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in parse_qsl(query) if KEPT_ARG.match(k) and v != "")
