"""Soporte > Informes: response, resolution, satisfaction and productivity figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_admin import AdminIndexView, expose
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from .. import queries, rules, workflows
from ..errors import DomainError
from ..extensions import db
from ..models import Availability, Category, Channel, Priority, Role, Team, TicketStatus, User
from ..redirects import safe_next
from ..reporting import cache, charts, csvout, metrics, refresh, sections
from ..reporting.runs import job_progress, refresh_now
from .base import ALL_STAFF, StaffPage, StaffView


def _duration(seconds) -> str:
    if seconds is None:
        return "—"
    return format_timedelta(timedelta(seconds=float(seconds)), threshold=1.0,
                            granularity="minute")


def _share(value) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _int_arg(args, name: str, errors: list):
    raw = args.get(name, "").strip()
    if not raw:
        return None
    value = rules.parse_id(raw)
    if value is None:
        errors.append(_("Filtro no válido: %(name)s.", name=name))
    return value


def _enum_arg(args, name: str, enum, errors: list):
    raw = args.get(name, "").strip()
    if not raw:
        return None
    if raw not in {m.value for m in enum}:
        errors.append(_("Filtro no válido: %(name)s.", name=name))
        return None
    return raw


#: How each panel language writes a day in the Informes date fields: plain text fields, so the
#: browser's own locale (mm/dd/yyyy in an English Chromium) never decides. ISO is always read.
DAY_FORMATS = {"es": "%d/%m/%Y", "en": "%Y-%m-%d"}
ISO_DAY = "%Y-%m-%d"


def day_format() -> str:
    """The viewer's panel language's day format (strftime)."""
    return DAY_FORMATS.get(str(get_locale() or "").split("_")[0], ISO_DAY)


def day_input(day: date) -> str:
    """A day as the date fields show it, in the panel language's format."""
    return day.strftime(day_format())


def day_hint() -> str:
    """The date fields' format, in words of the viewer's language (dd/mm/aaaa, yyyy-mm-dd)."""
    words = {"%d": _("dd"), "%m": _("mm"), "%Y": _("aaaa")}
    hint = day_format()
    for code, word in words.items():
        hint = hint.replace(code, word)
    return hint


def _parse_date(raw: str):
    raw = raw.strip()
    for fmt in dict.fromkeys((ISO_DAY, day_format())):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def parse_filters(args, user) -> metrics.Filters:
    """The page's filters from the query string; what is not valid is named and dropped."""
    errors: list = []
    try:
        tz = ZoneInfo(user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    today = rules.utcnow().astimezone(tz).date()
    period = args.get("period", metrics.DEFAULT_PERIOD)
    if period not in metrics.PERIODS:
        errors.append(_("Periodo desconocido."))
        period = metrics.DEFAULT_PERIOD
    first, last = metrics.period_days(period, today)
    if period == "custom":
        start, end = _parse_date(args.get("from", "")), _parse_date(args.get("to", ""))
        if start is None or end is None or start > end \
                or (end - start).days >= metrics.MAX_DAYS:
            errors.append(_("Fechas no válidas: indique desde y hasta como %(hint)s "
                            "(como mucho un año).", hint=day_hint()))
            period = metrics.DEFAULT_PERIOD
            first, last = metrics.period_days(period, today)
        else:
            first, last = start, end
    values = {name: _int_arg(args, name, errors) for name in ("team", "category", "agent")}
    return metrics.Filters(
        period=period, first=first, last=last, tz=tz, team_id=values["team"],
        category_id=values["category"], agent_id=values["agent"],
        priority=_enum_arg(args, "priority", Priority, errors),
        channel=_enum_arg(args, "channel", Channel, errors), errors=tuple(errors))


def scoped(f: metrics.Filters, user) -> metrics.Filters:
    """An agent's filters: only their teams, only their own agent rows; 403 past that."""
    if user.role >= Role.SUPERVISOR:
        return f
    teams = tuple(t.id for t in user.teams)
    if f.agent_id not in (None, user.id) or (f.team_id is not None and f.team_id not in teams):
        abort(403)
    return replace(f, teams=teams, only_agent=user.id)


#: Export name -> (headers, rows builder) over the figures the page computed.
def _tables(fig) -> dict:
    def dur(s):
        return [s["count"], _seconds(s["avg"]), _seconds(s["median"]), _seconds(s["p90"])]
    stats = (_("Tickets"), _("Media (s)"), _("Mediana (s)"), _("P90 (s)"))
    csat = (_("Valoraciones"), _("CSAT"), _("Media"))
    return {
        "response": ((_("Prioridad"), _("Tickets"), _("Respondidos"), _("Media (s)"),
                      _("Mediana (s)"), _("P90 (s)"), _("SLA cumplido")),
                     [[Priority(r["key"]).label, r["tickets"], *dur(r), _ratio(r["sla"])]
                      for r in fig["response"]["by_priority"]]),
        "response_team": ((_("Equipo"), *stats),
                          [[r["key"], *dur(r)] for r in fig["response"]["by_team"]]),
        "channels": ((_("Canal"), _("Tickets"), _("Respondidos"), _("Mediana (s)")),
                     [[Channel(r["key"]).label, r["tickets"], r["count"],
                       _seconds(r["median"])] for r in fig["response"]["by_channel"]]),
        "resolution": ((_("Categoría"), *stats),
                       [[r["key"], *dur(r)] for r in fig["resolution"]["by_category"]]),
        "csat_agent": ((_("Agente"), *csat), [[r["key"], r["count"], _ratio(r["csat"]),
                                               _ratio(r["avg"])]
                                              for r in fig["satisfaction"]["by_agent"]]),
        "csat_team": ((_("Equipo"), *csat), [[r["key"], r["count"], _ratio(r["csat"]),
                                              _ratio(r["avg"])]
                                             for r in fig["satisfaction"]["by_team"]]),
        "agents": ((_("Agente"), _("Asignados"), _("Respuestas"), _("Notas"), _("Resueltos"),
                    _("Mediana 1.ª respuesta (s)"), _("Mediana resolución (s)"),
                    _("SLA cumplido"), _("CSAT"), _("Abiertos"), _("Capacidad")),
                   [[r["name"], r["assigned"], r["replies"], r["notes"], r["resolved"],
                     _seconds(r["first_response"]), _seconds(r["resolution"]), _ratio(r["sla"]),
                     _ratio(r["csat"]), r["open"], r["capacity"]] for r in fig["agents"]]),
        "backlog": ((_("Día"), *(TicketStatus(s).label for s in sections.BACKLOG_STATES)),
                    [[r["day"].isoformat(), *(r[s] for s in sections.BACKLOG_STATES)]
                     for r in fig["backlog"]]),
        "escalations": ((_("Motivo"), _("Escalados")),
                        [list(r) for r in fig["escalations"]["by_reason"]]),
    }


def _when(iso: str | None):
    try:
        return datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None


def _seconds(value):
    return "" if value is None else round(value)


def _ratio(value):
    return "" if value is None else round(value, 4)


class ReportsView(StaffPage):
    """Informes: supervisors and admins see everything; agents their own row and teams."""

    read_roles = ALL_STAFF

    def _figures(self, f):
        return sections.figures(f) | {"status_labels": {s.value: s.label for s in TicketStatus}}

    @expose("/")
    def index(self):
        f = scoped(parse_filters(request.args, current_user), current_user)
        for error in f.errors:
            flash(error, "error")
        fig = self._figures(f)
        state = refresh.load_state()
        return self.render(
            "helpdesk/reports.html", filters=f, args=request.args, choices=self._choices(),
            refreshed_at=_when(state.get("refreshed_at")), periods=metrics.PERIODS,
            priorities=list(Priority), channels=list(Channel),
            may_refresh=current_user.role >= Role.SUPERVISOR,
            day_input=day_input, day_hint=day_hint(), figures_html=self._figures_html(f, fig))

    def _figures_html(self, f, fig) -> Markup:
        """The figures' tables and charts, rendered once per generation of the report tables,
        filters, query string (the export links), language and agents' open load."""
        def render():
            return Markup(render_template(
                "helpdesk/reports_figures.html", f=fig, args=request.args, duration=_duration,
                share=_share, labels={m.value: m.label for m in (*Priority, *Channel)},
                charts=charts.for_page(fig, f)))

        load = tuple((row["id"], row["open"], row["capacity"]) for row in fig["agents"])
        what = ("page", replace(f, errors=()), sorted(request.args.items(multi=True)),
                str(get_locale()), load)
        return cache.cached(what, render)

    def _choices(self):
        teams = db.session.execute(select(Team.id, Team.name).order_by(Team.name)).all()
        if current_user.role < Role.SUPERVISOR:
            mine = {t.id for t in current_user.teams}
            teams = [t for t in teams if t.id in mine]
        agents = db.session.execute(select(User.id, User.name).where(User.active.is_(True))
                                    .order_by(User.name)).all() \
            if current_user.role >= Role.SUPERVISOR else [(current_user.id, current_user.name)]
        categories = db.session.execute(select(Category.id, Category.name)
                                        .order_by(Category.name)).all()
        return {"teams": teams, "agents": agents, "categories": categories}

    @expose("/export/<table>.csv")
    def export_view(self, table):
        """One table of the page as CSV, with the page's filters."""
        f = scoped(parse_filters(request.args, current_user), current_user)
        if f.errors:
            return Response("\n".join(f.errors), status=400, mimetype="text/plain")
        tables = _tables(self._figures(f))
        if table not in tables:
            abort(404)
        headers, rows = tables[table]
        filename = f"informe-{table}-{f.first.isoformat()}-{f.last.isoformat()}.csv"
        return Response(csvout.to_csv(headers, rows), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @expose("/refresh", methods=("POST",))
    def refresh_view(self):
        """Actualizar ahora (supervisors): enqueue the refresh; the page follows its progress."""
        if current_user.role < Role.SUPERVISOR:
            abort(403)
        job_id = refresh_now()
        return redirect(url_for(".index", job=job_id, **request.args.to_dict()))

    @expose("/progress/<job>")
    def progress_view(self, job):
        """The refresh job's state as JSON: queued, started, finished or failed, and counts."""
        if current_user.role < Role.SUPERVISOR:
            abort(403)
        return jsonify(job_progress(job))


class HomeView(StaffView, AdminIndexView):
    """The landing page after login: ticket counts per status."""

    read_roles = ALL_STAFF

    @expose("/")
    def index(self):
        capped = queries.queue_counts(current_user)  # what the queue's tabs show: cheap at 1M
        counts = {status: capped[status.value] for status in TicketStatus}
        mine = capped["mine"]
        team = [(person, n) for person, n in queries.team_roster(current_user)
                if workflows.may_set_availability(current_user, person)] \
            if current_user.role >= Role.SUPERVISOR else []
        return self.render("helpdesk/index.html", counts=counts, mine=mine, roster=team,
                           availabilities=list(Availability),
                           notices=queries.unread_notifications(current_user.id),
                           cap=queries.COUNT_CAP)

    @expose("/notifications/read", methods=("POST",))
    def notifications_read_view(self):
        """Mark every notice as read."""
        with workflows.atomic():
            workflows.mark_notifications_read(current_user)
        return redirect(url_for(".index"))

    @expose("/availability", methods=("POST",))
    def availability_view(self):
        """Set availability: your own, or (supervisors) a team member's."""
        target = rules.parse_id(request.form.get("user_id")) or current_user.id
        try:
            value = Availability(request.form.get("availability", ""))
        except ValueError:
            flash(_("Disponibilidad desconocida."), "error")
            return redirect(url_for(".index"))
        user = db.session.get(User, target)
        if user is None:
            abort(404)
        try:
            with workflows.atomic():
                workflows.set_availability(user, value, actor=current_user)
        except DomainError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index")), 403
        flash(_("%(name)s: %(state)s", name=user.name, state=value.label), "success")
        return redirect(safe_next(request.form.get("next"), url_for(".index")))


def report_views(category: str) -> list:
    """Informes."""
    return [ReportsView(name=_l("Informes"), category=category, endpoint="reports")]
