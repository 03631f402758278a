"""Informes (issue 14): report facts filled by jobs, figures equal to plain SQL over the raw
rows, incremental refresh = rebuild, roles, CSV, charts, both languages."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from helpdesk import rules, workflows
from helpdesk.extensions import db, get_redis
from helpdesk.models import (
    Category,
    ReportRating,
    ReportResponseDay,
    ReportRound,
    ReportTicket,
    Role,
    Ticket,
    TicketStatus,
    User,
)
from helpdesk.reporting import cache, csvout, metrics, refresh, sections, sketch

from .reports_data import MADRID_END, MADRID_START, UTC_END, UTC_START, seed

FIRST, LAST = date(2026, 10, 20), date(2026, 10, 31)
QS = "period=custom&from=2026-10-20&to=2026-10-31"


@pytest.fixture
def world(app, make_team, make_category, make_user):
    teams = [make_team("Soporte N1"), make_team("Soporte N2")]
    categories = [make_category("informes-a"), make_category("informes-b")]
    agents = [make_user(Role.AGENT, teams=[teams[0]], name="Ana Informes"),
              make_user(Role.AGENT, teams=[teams[1]], name="Beto Informes")]
    supervisor = make_user(Role.SUPERVISOR, name="Sara Supervisora")
    with app.app_context(), workflows.atomic():
        cases = seed(teams, categories, agents)
    return {"teams": teams, "categories": categories, "agents": agents,
            "supervisor": supervisor, "cases": cases}


def _rebuild(app):
    with app.app_context():
        assert refresh.rebuild(None, rules.utcnow()) is not None


def _filters(tz="Europe/Madrid", **kw):
    return metrics.Filters(period="custom", first=FIRST, last=LAST, tz=ZoneInfo(tz), **kw)


# --- plain SQL over the raw rows ------------------------------------------------------------


def _epoch(col: str) -> str:
    if db.engine.dialect.name == "sqlite":
        return f"(julianday({col}) * 86400.0)"
    return f"EXTRACT(EPOCH FROM {col})"


def _p(dt: datetime):
    return dt.astimezone(UTC).replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else dt


def _sql(stmt: str, **params):
    params = {k: _p(v) if isinstance(v, datetime) else v for k, v in params.items()}
    return db.session.execute(text(stmt), params).all()


FIRST_REPLY = """(SELECT MIN(m.created_at) FROM messages m WHERE m.ticket_id = t.id
                  AND m.kind = 'reply' AND m.author_id IS NOT NULL)"""


def _nearest_rank(values_sql: str, n: int, p: float, **params):
    if n == 0:
        return None
    k = max(1, math.ceil(p * n)) - 1
    return _sql(f"SELECT d FROM ({values_sql}) x ORDER BY d LIMIT 1 OFFSET {k}", **params)[0][0]


def sql_response(start, end, team=None):
    """Per priority: tickets, answered, avg/median/p90 seconds, SLA met/judged."""
    where = "t.created_at >= :s AND t.created_at < :e" + (" AND t.team_id = :team" if team
                                                         else "")
    base = f"""SELECT t.priority AS priority, t.first_response_due_at AS due,
               {FIRST_REPLY} AS first_at, t.created_at AS created_at FROM tickets t
               WHERE {where}"""
    rows = _sql(f"""SELECT priority, COUNT(*), COUNT(first_at),
                    AVG({_epoch('first_at')} - {_epoch('created_at')}),
                    SUM(CASE WHEN first_at IS NOT NULL AND due IS NOT NULL AND first_at <= due
                        THEN 1 ELSE 0 END),
                    SUM(CASE WHEN first_at IS NOT NULL AND due IS NOT NULL THEN 1 ELSE 0 END)
                    FROM ({base}) f GROUP BY priority ORDER BY priority""",
                s=start, e=end, team=team)
    out = {}
    for priority, tickets, answered, avg, met, judged in rows:
        values = (f"SELECT {_epoch('first_at')} - {_epoch('created_at')} AS d FROM ({base}) f "
                  f"WHERE priority = :pr AND first_at IS NOT NULL")
        out[priority] = {
            "tickets": tickets, "count": answered, "avg": avg,
            "median": _nearest_rank(values, answered, 0.5, s=start, e=end, team=team,
                                    pr=priority),
            "p90": _nearest_rank(values, answered, 0.9, s=start, e=end, team=team, pr=priority),
            "sla": met / judged if judged else None}
    return out


def sql_resolution(start, end):
    rows = _sql("""SELECT category_id, COUNT(*), AVG(resolution_seconds) FROM resolution_rounds
                   WHERE resolved_at >= :s AND resolved_at < :e GROUP BY category_id""",
                s=start, e=end)
    out = {}
    for category, n, avg in rows:
        values = ("SELECT resolution_seconds AS d FROM resolution_rounds WHERE resolved_at >= :s"
                  " AND resolved_at < :e AND category_id = :c")
        out[category] = {"count": n, "avg": float(avg),
                         "median": _nearest_rank(values, n, 0.5, s=start, e=end, c=category),
                         "p90": _nearest_rank(values, n, 0.9, s=start, e=end, c=category)}
    return out


PERCENTILES = ("median", "p90")


def _same(f, name, value):
    """What a figure must equal: exactly, but a percentile read from the cubes' sketches only
    within the sketch's relative error (and 1 s under one second)."""
    value = float(value) if value is not None and not isinstance(value, bool) else value
    if name in PERCENTILES and value is not None and metrics.cubes_apply(f):
        return pytest.approx(value, rel=sketch.ALPHA, abs=1.0)
    return pytest.approx(value, abs=1e-3)


def _figures(f):
    return {"response": metrics.response(f), "resolution": metrics.resolution(f),
            "satisfaction": metrics.satisfaction(f), "agents": metrics.productivity(f),
            "escalations": sections.escalations(f)}


@pytest.mark.parametrize(("tz", "start", "end"), [("Europe/Madrid", MADRID_START, MADRID_END),
                                                  ("UTC", UTC_START, UTC_END)])
def test_every_figure_equals_plain_sql(app, world, tz, start, end):
    _rebuild(app)
    with app.app_context():
        f = _filters(tz)
        assert metrics.cubes_apply(f) is (tz == "Europe/Madrid")  # the service's zone
        fig = _figures(f)
        got = {r["key"]: r for r in fig["response"]["by_priority"]}
        want = sql_response(start, end)
        assert set(got) == set(want)
        for key, row in want.items():
            for name, value in row.items():
                assert got[key][name] == _same(f, name, value), (key, name)

        names = dict(db.session.execute(select(Category.id, Category.name)).all())
        got = {r["key"]: r for r in fig["resolution"]["by_category"]}
        want = sql_resolution(start, end)
        assert set(got) == {names[c] for c in want}
        for category, row in want.items():
            for name, value in row.items():
                assert got[names[category]][name] == _same(f, name, value), (category, name)

        [(n, high, avg)] = _sql("""SELECT COUNT(*), SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END),
                                   AVG(score) FROM satisfaction_ratings
                                   WHERE created_at >= :s AND created_at < :e""", s=start, e=end)
        [(sent,)] = _sql("""SELECT COUNT(*) FROM resolution_rounds WHERE survey_sent_at IS NOT
                            NULL AND resolved_at >= :s AND resolved_at < :e""", s=start, e=end)
        sat = fig["satisfaction"]
        assert (sat["count"], sat["sent"]) == (n, sent) and n > 3
        assert sat["csat"] == pytest.approx(high / n) and sat["avg"] == pytest.approx(float(avg))
        assert sat["rate"] == pytest.approx(n / sent)

        [(rounds, reopened, yes, answered)] = _sql(
            """SELECT COUNT(*), SUM(CASE WHEN reopened_at IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN confirmation_answer = 'yes' THEN 1 ELSE 0 END),
               SUM(CASE WHEN confirmation_answer IS NOT NULL THEN 1 ELSE 0 END)
               FROM resolution_rounds WHERE resolved_at >= :s AND resolved_at < :e""",
            s=start, e=end)
        res = fig["resolution"]
        assert (res["rounds"], res["reopened"], res["confirmed"], res["answered"]) == \
            (rounds, reopened, yes, answered)

        activity = dict(((a, k), n) for a, k, n in _sql(
            """SELECT author_id, kind, COUNT(*) FROM messages WHERE author_id IS NOT NULL
               AND kind IN ('reply', 'note') AND created_at >= :s AND created_at < :e
               GROUP BY author_id, kind""", s=start, e=end))
        resolved = dict(_sql("""SELECT agent_id, COUNT(*) FROM resolution_rounds
                                WHERE resolved_at >= :s AND resolved_at < :e GROUP BY agent_id""",
                             s=start, e=end))
        assigned = dict(_sql("""SELECT assignee_id, COUNT(*) FROM tickets WHERE created_at >= :s
                                AND created_at < :e GROUP BY assignee_id""", s=start, e=end))
        rows = {r["id"]: r for r in fig["agents"]}
        for agent in world["agents"]:
            assert (rows[agent]["replies"], rows[agent]["notes"], rows[agent]["resolved"],
                    rows[agent]["assigned"]) == (
                activity.get((agent, "reply"), 0), activity.get((agent, "note"), 0),
                resolved.get(agent, 0), assigned.get(agent, 0))

        [(escalations,)] = _sql("""SELECT COUNT(*) FROM escalations WHERE created_at >= :s
                                   AND created_at < :e""", s=start, e=end)
        assert fig["escalations"]["total"] == escalations > 0


def test_team_filter_equals_plain_sql(app, world):
    _rebuild(app)
    team = world["teams"][1]
    with app.app_context():
        got = {r["key"]: r for r in metrics.response(_filters(team_id=team))["by_priority"]}
        want = sql_response(MADRID_START, MADRID_END, team=team)
        assert set(got) == set(want)
        for key, row in want.items():
            assert got[key]["tickets"] == row["tickets"]
            assert got[key]["median"] == _same(_filters(), "median", row["median"])


def test_cube_frames_keep_their_keys_and_an_empty_period_is_empty(app, world):
    """The cube read (arrays on PostgreSQL, rows on SQLite) gives days as dates, ids as ints
    (None kept), the same totals per grouping; a period with no cube row gives no group."""
    _rebuild(app)
    with app.app_context():
        data = metrics.frame(ReportResponseDay, _filters())
        total = data.group(None)["all"]
        assert total["tickets"] > 0
        for key in ("day", "team_id", "agent_id", "priority", "channel"):
            groups = data.group(key)
            assert sum(v["tickets"] for v in groups.values()) == total["tickets"]
            assert (sum(v["hist"] for v in groups.values()) == total["hist"]).all()
        assert all(isinstance(k, date) and FIRST <= k <= LAST for k in data.group("day"))
        assert all(k is None or type(k) is int for k in data.group("agent_id"))
        empty = metrics.Filters(period="custom", first=date(2001, 1, 1), last=date(2001, 1, 2),
                                tz=ZoneInfo("Europe/Madrid"))
        assert metrics.frame(ReportResponseDay, empty).group("day") == {}
        assert metrics.response(empty)["all"]["rows"] == 0


def test_hard_cases(app, world):
    _rebuild(app)
    cases = world["cases"]
    with app.app_context():
        facts = {t.ticket_id: t for t in db.session.scalars(select(ReportTicket))}
        assert facts[cases["midnight"]].first_response_s == pytest.approx(40 * 60, abs=1e-3)
        assert facts[cases["dst"]].first_response_s == pytest.approx(3600, abs=1e-3)
        assert facts[cases["note_only"]].first_response_s is None
        assert facts[cases["no_reply"]].first_response_s is None
        assert facts[cases["reopened"]].first_response_met is False
        assert facts[cases["changed_team"]].team_id == world["teams"][1]
        rounds = db.session.scalars(select(ReportRound).order_by(ReportRound.round_id)).all()
        mine = [r for r in rounds if r.ticket_id == cases["reopened"]]
        assert [(r.resolution_s, r.reopened) for r in mine] == [(4 * 3600, True),
                                                                (7 * 3600, False)]
        [pending] = [r for r in rounds if r.ticket_id == cases["pending"]]
        assert pending.resolution_s == 3 * 3600
        [moved] = [r for r in rounds if r.ticket_id == cases["changed_team"]]
        assert moved.team_id == world["teams"][0]
        # the edges of the period follow the viewer's time zone
        madrid = {r.ticket_id for r in db.session.scalars(select(ReportTicket).where(
            ReportTicket.created_at >= MADRID_START, ReportTicket.created_at < MADRID_END))}
        assert cases["after_madrid"] not in madrid and cases["before"] not in madrid
        # [20 Oct, 31 Oct] in Madrid: 19 Oct 22:00 UTC (summer time) to 31 Oct 23:00 (winter)
        assert (_filters().start, _filters().end) == (MADRID_START, MADRID_END)
        assert (_filters("UTC").start, _filters("UTC").end) == (UTC_START, UTC_END)
        utc = {r.ticket_id for r in db.session.scalars(select(ReportTicket).where(
            ReportTicket.created_at >= UTC_START, ReportTicket.created_at < UTC_END))}
        assert cases["after_madrid"] in utc and cases["midnight"] in utc & madrid


def test_backlog_is_todays_open_tickets_per_status(app, world, login_as):
    _rebuild(app)
    with app.app_context():
        today = rules.utcnow().astimezone(ZoneInfo("Europe/Madrid")).date()
        f = metrics.Filters(period="today", first=today, last=today,
                            tz=ZoneInfo("Europe/Madrid"))
        [row] = sections.backlog(f)
        want = dict(_sql("""SELECT status, COUNT(*) FROM tickets
                            WHERE status IN ('new', 'open', 'pending') GROUP BY status"""))
        assert {k: row[k] for k in ("new", "open", "pending")} == {
            k: want.get(k, 0) for k in ("new", "open", "pending")}
        assert want.get("open", 0) > 0
    body = login_as(world["supervisor"]).get("/admin/reports/export/backlog.csv?period=today")
    assert body.status_code == 200 and str(want["open"]) in body.get_data(as_text=True)


def _snapshot():
    """Every fact and every cube row (but the cubes' surrogate ids), comparable."""
    out = {}
    for model in (*refresh.FACTS, *refresh.CUBES):
        cols = [c for c in model.__table__.columns if c.name != "id" or model in refresh.FACTS]
        out[model.__tablename__] = sorted(
            (tuple(round(v, 3) if isinstance(v, float) else
                   bytes(v) if isinstance(v, (bytes, memoryview)) else v for v in row)
             for row in db.session.execute(select(*cols)).all()), key=repr)
    return out


def test_incremental_refresh_equals_rebuild(app, world):
    _rebuild(app)
    rng = random.Random(3)
    with app.app_context():
        ids = list(db.session.scalars(select(Ticket.id).order_by(Ticket.id)))
        agents = [db.session.get(User, a) for a in world["agents"]]
        with workflows.atomic():
            for ticket_id in rng.sample(ids, 15):
                ticket = db.session.get(Ticket, ticket_id)
                choice = rng.randrange(4)
                if choice == 0 and ticket.status is not TicketStatus.RESOLVED:
                    workflows.add_reply(ticket, "Hola", actor=agents[0])
                elif choice == 1:
                    workflows.add_note(ticket, "Nota", actor=agents[1])
                elif choice == 2:
                    ticket.team_id = world["teams"][rng.randrange(2)]
                    workflows.touch(ticket, rules.utcnow())
                else:
                    ticket.priority = rng.choice(list(ticket.priority.__class__))
                    workflows.touch(ticket, rules.utcnow())
        assert refresh.refresh(rules.utcnow()) > 0
        incremental = _snapshot()
        assert len(incremental["report_response_day"]) > 20
        with workflows.atomic():
            for model in refresh.FACTS:
                db.session.execute(model.__table__.delete())
        assert refresh.rebuild(None, rules.utcnow()) == len(ids)
        assert _snapshot() == incremental


def test_refresh_finds_changes_through_the_index_only(app, world, monkeypatch):
    _rebuild(app)
    monkeypatch.setattr(refresh, "ID_OVERLAP", 0)  # ratings: only those after the last run
    with app.app_context():
        old = datetime(2026, 1, 1, tzinfo=UTC)
        db.session.execute(Ticket.__table__.update().values(updated_at=old))
        db.session.commit()
        ticket = db.session.get(Ticket, world["cases"]["note_only"])
        with workflows.atomic():
            workflows.add_reply(ticket, "Ya está", actor=db.session.get(User,
                                                                       world["agents"][0]))
        assert refresh.refresh(rules.utcnow()) == 1
        fact = db.session.get(ReportTicket, ticket.id)
        assert fact.first_response_s is not None


def test_a_second_run_at_the_same_time_steps_aside(app, world):
    with app.app_context():
        lock = get_redis().lock(refresh.LOCK, timeout=60)
        assert lock.acquire(blocking=False)
        try:
            assert refresh.refresh(rules.utcnow()) is None
            assert refresh.rebuild(None, rules.utcnow()) is None
        finally:
            lock.release()
        assert db.session.scalar(select(ReportTicket.ticket_id).limit(1)) is None


def test_a_failed_chunk_leaves_the_previous_facts(app, world, monkeypatch):
    _rebuild(app)
    with app.app_context():
        before = _snapshot()
        rows = refresh._ROWS[ReportRating]

        def broken(ids):
            raise RuntimeError("killed halfway")

        monkeypatch.setitem(refresh._ROWS, ReportRating, broken)
        with pytest.raises(RuntimeError):
            refresh.rebuild(None, rules.utcnow())
        monkeypatch.setitem(refresh._ROWS, ReportRating, rows)
        assert _snapshot() == before


# --- the page, roles, CSV -------------------------------------------------------------------


def test_page_reads_the_report_tables(app, world, login_as):
    client = login_as(world["supervisor"])
    page = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert "Los informes aún no se han calculado." in page
    _rebuild(app)
    page = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert "¿Cómo se calcula?" in page and "Datos actualizados" in page
    with app.app_context():
        answered = metrics.response(_filters())["all"]["count"]
    assert f"{answered} respondidos" in page
    assert page.count("<svg") >= 3 and "Beto Informes" in page


def test_bad_filters_say_so_and_change_nothing(app, world, login_as):
    client = login_as(world["supervisor"])
    response = client.get("/admin/reports/?period=custom&from=2026-13-01&to=x&team=abc"
                          "&priority=huge")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Fechas no válidas" in page and "Filtro no válido: team" in page
    assert client.get("/admin/reports/export/agents.csv?team=abc").status_code == 400
    assert client.get("/admin/reports/export/nothing.csv").status_code == 404


def test_agents_see_their_row_and_their_teams_only(app, world, login_as):
    _rebuild(app)
    ana, beto = world["agents"]
    client = login_as(ana)
    page = client.get(f"/admin/reports/?{QS}")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert "Ana Informes" in text_ and "Beto Informes" not in text_
    assert client.get(f"/admin/reports/?{QS}&agent={beto}").status_code == 403
    assert client.get(f"/admin/reports/?{QS}&team={world['teams'][1]}").status_code == 403
    assert client.get(f"/admin/reports/export/agents.csv?{QS}&agent={beto}").status_code == 403
    body = client.get(f"/admin/reports/export/agents.csv?{QS}").get_data(as_text=True)
    assert "Ana Informes" in body and "Beto Informes" not in body
    assert client.post("/admin/reports/refresh", token_from="/admin/").status_code == 403


def test_csv_bom_formula_guard_and_filters(app, world, login_as):
    _rebuild(app)
    with app.app_context(), workflows.atomic():
        db.session.get(Category, world["categories"][1]).name = "=HYPERLINK(\"x\")"
    client = login_as(world["supervisor"])
    response = client.get(f"/admin/reports/export/resolution.csv?{QS}")
    raw = response.get_data()
    assert response.mimetype == "text/csv" and raw.startswith(b"\xef\xbb\xbf")
    body = raw.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "Categoría" in body
    team = world["teams"][0]
    all_rows = client.get(f"/admin/reports/export/agents.csv?{QS}").get_data(as_text=True)
    filtered = client.get(f"/admin/reports/export/response.csv?{QS}&team={team}")
    with app.app_context():
        want = sum(r["tickets"] for r in metrics.response(_filters(team_id=team))["by_priority"])
    got = sum(int(line.split(",")[1]) for line in
              filtered.get_data(as_text=True).lstrip("\ufeff").splitlines()[1:])
    assert got == want and all_rows.count("\r\n") >= 3
    assert csvout.safe_cell("-1") == "'-1" and csvout.safe_cell("\tx") == "'\tx"
    assert csvout.safe_cell(5) == "5"


def test_english_page(app, world, login_as):
    with app.app_context(), workflows.atomic():
        db.session.get(User, world["supervisor"]).locale = "en"
    _rebuild(app)
    page = login_as(world["supervisor"]).get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert "How is it calculated?" in page and "Customer satisfaction" in page
    assert "Ratings" in page  # the chart's axis, in the viewer's language


def test_refresh_now_runs_through_the_worker(app, world, login_as, run_jobs):
    client = login_as(world["supervisor"])
    response = client.post("/admin/reports/refresh", page=f"/admin/reports/?{QS}")
    assert response.status_code == 302 and "job=reports-refresh-now" in response.location
    assert client.get("/admin/reports/progress/reports-refresh-now").json["status"] == \
        "queued"
    run_jobs("reports")
    state = client.get("/admin/reports/progress/reports-refresh-now").json
    assert state["status"] == "finished" and state["done"] == state["total"] > 0
    page = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert "Datos actualizados" in page


def test_rebuild_command(app, world):
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["helpdesk", "reports", "rebuild", "--since", "ayer"])
    assert bad.exit_code == 1 and "not a date" in bad.output
    done = runner.invoke(args=["helpdesk", "reports", "rebuild", "--since", "2026-10-25",
                               "--quiet"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        count = db.session.scalar(select(db.func.count()).select_from(ReportTicket))
        [(want,)] = _sql("SELECT COUNT(*) FROM tickets WHERE updated_at >= :s OR id IN "
                         "(SELECT ticket_id FROM satisfaction_ratings WHERE created_at >= :s)",
                         s=datetime(2026, 10, 24, 22, tzinfo=UTC))
    assert count == want > 0
    full = runner.invoke(args=["helpdesk", "reports", "rebuild", "--quiet"])
    assert full.exit_code == 0 and "tickets rebuilt" in full.output


def test_finalise_yesterday_once_a_day(app, world):
    with app.app_context():
        now = datetime(2026, 10, 26, 0, 30, tzinfo=UTC)  # 01:30 in Madrid
        first = refresh.finalise_yesterday(now, "Europe/Madrid")
        assert first > 0 and refresh.finalise_yesterday(now + timedelta(hours=1),
                                                        "Europe/Madrid") == 0
        assert refresh.load_state()["finalised"] == "2026-10-25"


# --- the quantile sketch ----------------------------------------------------------------------


def test_merged_sketches_are_within_alpha_of_the_exact_percentiles():
    rng = random.Random(11)
    for draw in (lambda: rng.lognormvariate(8, 2), lambda: rng.uniform(0, 5),
                 lambda: rng.choice((0.0, 0.4, 59.0, 3600.0, 86400.0 * 3)),
                 lambda: rng.expovariate(1 / 7200)):
        values = [draw() for _ in range(rng.randrange(1, 3000))]
        parts: dict = {}
        for v in values:  # cells of a cube: each its own sketch, merged afterwards
            parts.setdefault(rng.randrange(40), []).append(v)
        blobs = [sketch.encode(_counts(part).items()) for part in parts.values()]
        [hist] = sketch.merge(["all"] * len(blobs), blobs).values()
        exact = sorted(values)
        for p in (0.5, 0.9, 0.99):
            want = metrics.percentile(exact, p)
            assert sketch.quantile(hist, p) == pytest.approx(want, rel=sketch.ALPHA, abs=1.0)


def _counts(values) -> dict:
    out: dict = {}
    for v in values:
        out[sketch.bucket(v)] = out.get(sketch.bucket(v), 0) + 1
    return out


def test_sql_buckets_and_sketches_equal_pythons(app):
    """The SQL twins (PostgreSQL's int2send/int4send, SQLite's registered functions) give the
    buckets and bytes the Python sketch does, boundaries included."""
    from sqlalchemy import Float, func, literal, union_all

    from helpdesk.queries.reports import sketch_agg, sketch_bucket

    samples = [0.0, 0.5, 0.999, 1.0, 1.0001, sketch.GAMMA, sketch.GAMMA ** 7, 59.0, 60.0,
               3599.5, 86400.0, 1e7, 2e9]
    rows = union_all(*(select(literal(x, Float).label("x")) for x in samples)).subquery()
    with app.app_context():
        got = [db.session.scalar(select(sketch_bucket(literal(x, Float)))) for x in samples]
        for x, b in zip(samples, got, strict=True):
            assert abs(b - sketch.bucket(x)) <= (1 if x >= 1 and sketch.bucket(x) > 1 else 0), x
            if x <= 1e9:  # the sketch's range; longer durations count as its last bucket
                assert sketch.value(b) == pytest.approx(x, rel=sketch.ALPHA, abs=1.0)
            else:
                assert b == sketch.bucket(x) == sketch.SIZE - 1
        inner = select(sketch_bucket(rows.c.x).label("b"), func.count().label("n")) \
            .group_by(sketch_bucket(rows.c.x)).subquery()
        blob = db.session.scalar(select(sketch_agg(inner.c.b, inner.c.n)))
        assert bytes(blob) == sketch.encode(_counts_sql(got).items())


def _counts_sql(buckets) -> dict:
    out: dict = {}
    for b in buckets:
        out[b] = out.get(b, 0) + 1
    return out


# --- business hours ---------------------------------------------------------------------------


def test_first_response_in_business_hours_agrees_with_the_sla(app, world):
    """With a calendar on the Normal policy, first response is business time, computed with
    the SLA's own arithmetic: a reply at the deadline shows exactly the target and counts as
    met; a minute later it is a minute more and missed. Priorities without a calendar keep
    wall-clock time."""
    from helpdesk.models import BusinessCalendar, Message, MessageKind, Priority, SlaPolicy

    from .reports_data import Seeder

    office = {str(d): [["09:00", "14:00"], ["15:00", "18:00"]] for d in range(5)}
    with app.app_context(), workflows.atomic():
        calendar = BusinessCalendar(name="Oficina informes", timezone="Europe/Madrid",
                                    hours=office)
        db.session.add(calendar)
        db.session.flush()
        policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.priority == Priority.NORMAL))
        if policy is None:
            policy = SlaPolicy(priority=Priority.NORMAL, first_response_minutes=120)
            db.session.add(policy)
        policy.calendar_id = calendar.id
        cal = rules.Calendar.from_json("Europe/Madrid", office)
        s = Seeder(world["teams"], world["categories"], world["agents"], suffix="-hours")
        # Friday 23 Oct 17:00 in Madrid; two business hours later is Monday 26 Oct 10:00,
        # across a weekend and the DST change
        created = datetime(2026, 10, 23, 15, 0, tzinfo=UTC)
        due = rules.add_business_time(created, 120, cal)
        assert due == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
        on_time = s.ticket(created, priority=Priority.NORMAL, due_minutes=None)
        late = s.ticket(created, priority=Priority.NORMAL, due_minutes=None)
        wall = s.ticket(created, priority=Priority.HIGH, due_minutes=None)
        for t in (on_time, late):
            t.first_response_due_at = due
        s.message(on_time, due)
        s.message(late, due + timedelta(minutes=1))
        s.message(wall, due)
        ids = {"on_time": on_time.id, "late": late.id, "wall": wall.id}
    _rebuild(app)
    with app.app_context():
        facts = {f.ticket_id: f for f in db.session.scalars(select(ReportTicket))}
        assert facts[ids["on_time"]].first_response_s == pytest.approx(7200)
        assert facts[ids["on_time"]].first_response_met is True
        assert facts[ids["late"]].first_response_s == pytest.approx(7260)
        assert facts[ids["late"]].first_response_met is False
        assert facts[ids["wall"]].first_response_s == pytest.approx(
            (due - created).total_seconds())
        # every Normal ticket: exactly what hours.business_time_between says
        first = {}
        for m in db.session.scalars(select(Message).where(Message.kind == MessageKind.REPLY,
                                                          Message.author_id.is_not(None))):
            first[m.ticket_id] = min(first.get(m.ticket_id, m.created_at), m.created_at)
        normal = db.session.scalars(select(Ticket).where(Ticket.priority == Priority.NORMAL))
        checked = 0
        for t in normal:
            want = None if t.id not in first else \
                rules.business_time_between(t.created_at, first[t.id], cal).total_seconds()
            assert facts[t.id].first_response_s == (
                None if want is None else pytest.approx(want, abs=1e-3)), t.id
            checked += want is not None
        assert checked > 5


# --- the demo -------------------------------------------------------------------------------


def test_the_demo_fills_the_report_tables_at_seed_time(app, login_as):
    from helpdesk import demo
    from helpdesk.models import ReportBacklog, ReportResponseDay

    with app.app_context():
        demo.seed(tickets=400, seed=5)
        assert db.session.scalar(select(db.func.count()).select_from(ReportResponseDay)) > 0
        assert db.session.scalar(select(db.func.count()).select_from(ReportTicket)) == 400
        hours = set(db.session.scalars(select(ReportBacklog.hour).distinct()))
        assert len(hours) >= 85  # a snapshot at the end of each of the last 90 days, and now
        assert refresh.load_state()["zone"] == app.config["HELPDESK_DEFAULT_TIMEZONE"]
        supervisor = db.session.scalar(select(User).where(
            User.email == "supervisor@demo.bayit"))
        today = rules.utcnow().astimezone(ZoneInfo(supervisor.timezone)).date()
        f = metrics.Filters(period="30d", first=today - timedelta(days=29), last=today,
                            tz=ZoneInfo(supervisor.timezone))
        days = sections.backlog(f)
        assert sum(1 for d in days if d["open"]) >= 29  # every day of the chart has a value
        answered = metrics.response(f)["all"]["count"]
    page = login_as(supervisor.id).get("/admin/reports/").get_data(as_text=True)
    assert "Datos actualizados" in page and f"{answered} respondidos" in page


KILLED_REBUILD = """
import os, sys, time
sys.path.insert(0, os.getcwd())
from app import create_app
from helpdesk import rules
from helpdesk.reporting import refresh

app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DB"], "REDIS_URL": os.environ["RQ"]})

def hang(done, total):  # halfway: facts replaced, cubes not yet, nothing committed
    print("halfway", flush=True)
    time.sleep(600)

with app.app_context():
    refresh.rebuild(None, rules.utcnow(), progress=hang)
"""


def test_a_rebuild_killed_halfway_leaves_the_previous_figures(app, world):
    """A real process, SIGKILLed in the middle of its rebuild's transaction: the figures are
    the previous ones, whole; its lock expires by itself."""
    import os
    import signal
    import subprocess
    import sys

    _rebuild(app)
    with app.app_context(), workflows.atomic():
        for ticket in db.session.scalars(select(Ticket)):
            ticket.team_id = world["teams"][1]  # a change the killed rebuild would show
        before = _snapshot()
    env = {**os.environ, "DB": app.config["SQLALCHEMY_DATABASE_URI"],
           "RQ": app.config["REDIS_URL"]}
    child = subprocess.Popen([sys.executable, "-c", KILLED_REBUILD], env=env,
                             stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert child.stdout.readline().strip() == "halfway"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    with app.app_context():
        db.session.remove()
        assert _snapshot() == before
        redis = get_redis()
        assert 0 < redis.ttl(refresh.LOCK) <= refresh.LOCK_TTL  # held, but only for a while
        assert refresh.refresh(rules.utcnow()) is None
        redis.delete(refresh.LOCK)
        db.session.remove()  # end this read transaction: see what the rebuild commits
        _rebuild(app)
        assert _snapshot() != before


def test_charts_are_drawn_once_per_figures_and_language(app, world, login_as):
    from helpdesk.reporting import charts

    _rebuild(app)
    charts._drawn.cache_clear()
    client = login_as(world["supervisor"])
    first = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    drawn = charts._drawn.cache_info()
    assert drawn.misses == 4 and drawn.hits == 0
    assert client.get(f"/admin/reports/?{QS}").get_data(as_text=True).count("<svg") == \
        first.count("<svg") >= 4
    assert charts._drawn.cache_info() == drawn  # the same page again: from the page cache
    with app.app_context():
        cache.changed()  # a refresh: the page is built again, the same figures' charts kept
    assert client.get(f"/admin/reports/?{QS}").get_data(as_text=True).count("<svg") >= 4
    assert charts._drawn.cache_info().hits == 4  # same figures: not drawn again
    other = client.get(f"/admin/reports/?{QS}&team={world['teams'][1]}")
    assert other.status_code == 200 and charts._drawn.cache_info().misses > 4
    with app.app_context(), workflows.atomic():
        db.session.get(User, world["supervisor"]).locale = "en"
    english = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert "Ratings" in english and "Valoraciones" not in english.split("chart-ratings")[1][:3000]


def test_resolution_in_business_hours_net_of_pendiente(app, world):
    """With a calendar, a round's resolution time is the business time of the ticket's status
    spans up to the resolution (the closure workflow's own spans), less Pendiente: the sum
    `rules.net_resolution_seconds` makes, in business time."""
    from helpdesk.models import AuditEntry, BusinessCalendar, Priority, SlaPolicy, TicketStatus
    from helpdesk.queries import closure as closure_queries

    from .reports_data import Seeder

    office = {str(d): [["09:00", "18:00"]] for d in range(5)}
    cal = rules.Calendar.from_json("Europe/Madrid", office)
    created = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)  # Friday 16:00 in Madrid
    steps = [(created + timedelta(hours=1), "open"),
             (datetime(2026, 10, 26, 10, 0, tzinfo=UTC), "pending"),   # Monday 11:00 CET
             (datetime(2026, 10, 27, 9, 30, tzinfo=UTC), "open"),      # Tuesday 10:30
             (datetime(2026, 10, 27, 15, 0, tzinfo=UTC), "resolved")]  # Tuesday 16:00
    resolved_at = steps[-1][0]
    with app.app_context(), workflows.atomic():
        calendar = BusinessCalendar(name="Oficina rondas", timezone="Europe/Madrid",
                                    hours=office)
        db.session.add(calendar)
        db.session.flush()
        policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.priority == Priority.LOW))
        if policy is None:
            policy = SlaPolicy(priority=Priority.LOW, first_response_minutes=240)
            db.session.add(policy)
        policy.calendar_id = calendar.id
        s = Seeder(world["teams"], world["categories"], world["agents"], suffix="-rounds")
        t = s.ticket(created, priority=Priority.LOW, due_minutes=None)
        before = TicketStatus.NEW.value
        for at, status in steps:
            db.session.add(AuditEntry(entity="ticket", entity_id=t.id, ticket_id=t.id,
                                      action="update", field="status", old_value=before,
                                      new_value=status, created_at=at))
            before = status
        wall = rules.net_resolution_seconds(closure_queries.status_spans(t, resolved_at))
        round_ = s.resolve(t, resolved_at, wall)
        spans = closure_queries.status_spans(t, resolved_at)
        want = sum(rules.business_time_between(a, b, cal).total_seconds()
                   for status, a, b in spans
                   if status not in (TicketStatus.PENDING, TicketStatus.RESOLVED))
        round_id = round_.id
    # Friday 16:00–18:00 (2 h) + Monday 09:00–11:00 (2 h) + Tuesday 10:30–16:00 (5.5 h)
    assert want == 9.5 * 3600 and wall > want
    _rebuild(app)
    with app.app_context():
        fact = db.session.scalar(select(ReportRound).where(ReportRound.round_id == round_id))
        assert fact.resolution_s == pytest.approx(want)
        others = db.session.scalars(select(ReportRound).where(ReportRound.priority != "low"))
        for other in others:  # priorities without a calendar: what the workflow recorded
            recorded = db.session.get(closure_queries.ResolutionRound, other.round_id)
            assert other.resolution_s == recorded.resolution_seconds
