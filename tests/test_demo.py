"""The demo dataset: logins, teams, SLA arithmetic, threads, determinism, the CLI, sequences.

These tests build their own apps on fresh databases (never the suite's shared one): the demo
only loads into an empty database, and seeding is what is under test.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash

from app import create_app
from helpdesk import demo, queries, rules, workflows
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.models import (
    AccountEvent,
    AuditEntry,
    Availability,
    BusinessCalendar,
    Category,
    Customer,
    EscalationReason,
    Message,
    MessageKind,
    Priority,
    ResolutionCategory,
    ResponseTemplate,
    Role,
    RoutingRule,
    SatisfactionRating,
    Setting,
    SlaPolicy,
    SlaState,
    Team,
    Ticket,
    TicketStatus,
    User,
    team_members,
)

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
TICKETS = 300
TEAMS = {"Cuenta", "Facturación", "Técnico", "Contenido"}


def build_app(uri: str, instance):
    """An app of its own on `uri`, migrated from empty; no context is left open."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "REDIS_URL": "",
                      "HELPDESK_INSTANCE": str(instance), "SECRET_KEY": "demo-test",
                      "HELPDESK_PASSWORD_HASH": "pbkdf2:sha256:1"})
    with app.app_context():
        flask_migrate.upgrade()
    return app


def dispose(app) -> None:
    """Close the app's pooled connections (a PostgreSQL database can then be dropped)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def scratch_postgres(url: str):
    """Create a throwaway database on DATABASE_URL's server; yield its URI; drop it."""
    import psycopg

    server = make_url(url).set(drivername="postgresql")
    conninfo = server.render_as_string(hide_password=False)
    name = f"demo_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """One SQLite database seeded with TICKETS tickets at a fixed clock, for the read tests."""
    tmp = tmp_path_factory.mktemp("demo")
    app = build_app(f"sqlite:///{tmp / 'demo.sqlite'}", tmp)
    with app.app_context():
        demo.seed(tickets=TICKETS, seed=7, now=NOW)
    yield app
    dispose(app)


@pytest.fixture
def fresh_demo_app(tmp_path):
    """A migrated, empty SQLite database of this test's own."""
    app = build_app(f"sqlite:///{tmp_path / 'fresh.sqlite'}", tmp_path)
    yield app
    dispose(app)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres_only)])
def backend_demo_app(request, tmp_path):
    """A migrated, empty database on SQLite, and on PostgreSQL when DATABASE_URL names one."""
    if request.param == "sqlite":
        app = build_app(f"sqlite:///{tmp_path / 'seq.sqlite'}", tmp_path)
        yield app
        dispose(app)
        return
    with scratch_postgres(os.environ["DATABASE_URL"]) as uri:
        app = build_app(uri, tmp_path)
        yield app
        dispose(app)


# --- People and reference data ------------------------------------------------------------------


def test_demo_logins_work_with_password_demo(demo_app):
    with demo_app.app_context():
        users = {u.email: u for u in db.session.scalars(select(User))}
        for email in demo.DEMO_LOGINS:
            assert users[email].active
            assert check_password_hash(users[email].password_hash, "demo")
        assert users["admin@demo.bayit"].role is Role.ADMIN
        assert users["admin@demo.bayit"].name == "Ana Administradora"
        supervisor = users["supervisor@demo.bayit"]
        assert supervisor.role is Role.SUPERVISOR
        for email in ("agente1@demo.bayit", "agente2@demo.bayit"):
            assert users[email].role is Role.AGENT and users[email].teams


def test_about_twenty_agents_spread_over_the_four_teams(demo_app):
    with demo_app.app_context():
        agents = db.session.scalars(select(User).where(User.role == Role.AGENT)).all()
        assert 18 <= len(agents) <= 22
        assert all(8 <= a.capacity <= 25 for a in agents)
        assert {a.locale for a in agents} == {"es", "en"}
        teams = db.session.scalars(select(Team)).all()
        assert {t.name for t in teams} == TEAMS
        assert all(len(t.members) >= 3 for t in teams)


def test_reference_rows(demo_app):
    with demo_app.app_context():
        teams = {t.name: t.id for t in db.session.scalars(select(Team))}
        categories = {c.code: c for c in db.session.scalars(select(Category))}
        assert categories["acceso"].default_team_id == teams["Cuenta"]
        assert categories["facturacion"].default_team_id == teams["Facturación"]
        assert categories["reproduccion"].default_team_id == teams["Técnico"]
        assert categories["contenido"].default_team_id == teams["Contenido"]
        policies = {p.priority: p for p in db.session.scalars(select(SlaPolicy))}
        assert {p: policies[p].first_response_minutes for p in Priority} == {
            Priority.URGENT: 60, Priority.HIGH: 240, Priority.NORMAL: 1440, Priority.LOW: 2880}
        assert all(p.calendar_id is None for p in policies.values())
        calendar = db.session.scalar(select(BusinessCalendar))
        assert calendar.timezone == "Europe/Madrid" and calendar.hours["0"] == [["09:00", "18:00"]]
        assert "5" not in calendar.hours and calendar.holidays
        assert db.session.scalar(select(func.count()).select_from(ResolutionCategory)) == 6
        assert db.session.scalar(select(func.count()).select_from(EscalationReason)) == 6
        assert db.session.scalar(select(func.count()).select_from(RoutingRule)) >= 3
        assert db.session.get(Setting, "routing.default_team_id").value == teams["Cuenta"]


def test_templates_exist_in_spanish_and_english(demo_app):
    with demo_app.app_context():
        templates = db.session.scalars(select(ResponseTemplate)).all()
        assert sorted(t.locale for t in templates) == ["en"] * 4 + ["es"] * 4
        names = {t.name for t in templates}
        assert {"Restablecimiento de Contraseña", "Password reset", "Consulta de Facturación",
                "Billing enquiry", "Soporte Técnico", "Technical support",
                "Solicitud de Contenido", "Content request"} == names
        for template in templates:
            assert template.category_id is not None
            for placeholder in ("{{ cliente.nombre }}", "{{ ticket.numero }}",
                                "{{ agente.nombre }}"):
                assert placeholder in template.body


def test_seed_reference_is_idempotent(demo_app):
    tables = (Team, Category, SlaPolicy, ResponseTemplate, RoutingRule, ResolutionCategory)
    with demo_app.app_context():
        before = [db.session.scalar(select(func.count()).select_from(t)) for t in tables]
        ids = demo.seed_reference(now=NOW)
        after = [db.session.scalar(select(func.count()).select_from(t)) for t in tables]
    assert before == after
    assert set(ids["teams"]) == TEAMS and "acceso" in ids["categories"]


# --- Tickets ------------------------------------------------------------------------------------


def test_every_status_and_priority_is_present(demo_app):
    with demo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == TICKETS
        statuses = set(db.session.scalars(select(Ticket.status).distinct()))
        priorities = set(db.session.scalars(select(Ticket.priority).distinct()))
    assert statuses == set(TicketStatus)
    assert priorities == set(Priority)


def test_assignees_are_members_of_the_ticket_team(demo_app):
    membership = (team_members.c.team_id == Ticket.team_id) & (
        team_members.c.user_id == Ticket.assignee_id)
    with demo_app.app_context():
        strays = db.session.scalar(
            select(func.count()).select_from(Ticket)
            .outerjoin(team_members, membership)
            .where(Ticket.status != TicketStatus.NEW, team_members.c.user_id.is_(None))
        )
        unassigned_new = db.session.scalar(select(func.count()).where(
            Ticket.status == TicketStatus.NEW, Ticket.assignee_id.is_(None)))
        new = db.session.scalar(select(func.count()).where(Ticket.status == TicketStatus.NEW))
        assert db.session.scalar(select(func.count()).where(Ticket.team_id.is_(None))) == 0
    assert strays == 0
    assert unassigned_new == new > 0


def test_due_dates_follow_the_sla_policy(demo_app):
    with demo_app.app_context():
        policies = {p.priority: p for p in db.session.scalars(select(SlaPolicy))}
        for ticket in db.session.scalars(select(Ticket)):
            policy = policies[ticket.priority]
            assert ticket.first_response_due_at - ticket.created_at == timedelta(
                minutes=policy.first_response_minutes)
            assert ticket.resolution_due_at - ticket.created_at == timedelta(
                minutes=policy.resolution_minutes)


def test_datetimes_come_back_aware_utc_and_in_the_past(demo_app):
    with demo_app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.status == TicketStatus.RESOLVED)
                                   .limit(1))
        message = db.session.scalar(select(Message).limit(1))
        for value in (ticket.created_at, ticket.first_response_at, ticket.resolved_at,
                      message.created_at):
            assert value.tzinfo is UTC
        oldest = db.session.scalar(select(func.min(Ticket.created_at)))
        newest = db.session.scalar(select(func.max(Message.created_at)))
    assert NOW - timedelta(days=91) <= oldest and newest <= NOW


def test_threads_fit_the_status(demo_app):
    with demo_app.app_context():
        stmt = select(Ticket).options(selectinload(Ticket.messages))
        for ticket in db.session.scalars(stmt):
            check_thread(ticket)


def check_thread(ticket: Ticket) -> None:
    """The thread a ticket of this status would really have."""
    first, last = ticket.messages[0], ticket.messages[-1]
    assert first.kind is MessageKind.CUSTOMER and first.created_at == ticket.created_at
    assert first.customer_id == ticket.customer_id
    times = [m.created_at for m in ticket.messages]
    assert times == sorted(times)
    assert ticket.sla_state is rules.sla_state_at(NOW, ticket.sla_warn_at, ticket.sla_due_at)
    if ticket.status is TicketStatus.NEW:
        assert ticket.first_response_at is None and len(ticket.messages) == 1
        assert ticket.sla_due_at == ticket.first_response_due_at
        return
    if ticket.status is TicketStatus.PENDING:
        assert ticket.sla_due_at is None and ticket.sla_paused_at is not None  # clock paused
    replies = [m for m in ticket.messages if m.kind is MessageKind.REPLY]
    assert replies and all(m.author_id == ticket.assignee_id for m in replies)
    assert replies[0].created_at == ticket.first_response_at
    events = [m.event for m in ticket.messages if m.kind is MessageKind.EVENT]
    assert events[:2] == [{"event": "assign", "to": ticket.assignee.name},
                          {"event": "status", "old": "new", "new": "open"}]
    if ticket.status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
        said = [m for m in ticket.messages if m.kind is not MessageKind.EVENT]
        assert said[-1].kind is MessageKind.REPLY and said[-1].created_at == last.created_at
        assert last.event == {"event": "status", "old": "open", "new": ticket.status.value}
    if ticket.status is TicketStatus.RESOLVED:
        assert ticket.resolved_at == last.created_at
        assert ticket.resolution_category_id and ticket.closing_notes


def test_customers_ratings_and_account_history(demo_app):
    with demo_app.app_context():
        customers = db.session.scalar(select(func.count()).select_from(Customer))
        events = db.session.scalar(select(func.count()).select_from(AccountEvent))
        resolved = db.session.scalar(select(func.count()).where(
            Ticket.status == TicketStatus.RESOLVED))
        ratings = db.session.scalars(select(SatisfactionRating.score)).all()
        customer = db.session.scalar(select(Customer).limit(1))
        assert customer.plan in ("Básico", "Estándar", "Premium", "Familiar")
        assert customer.devices and customer.member_since and customer.country
    assert customers == 75 and customers <= events <= 4 * customers
    assert 0.4 * resolved <= len(ratings) <= 0.8 * resolved
    assert sum(score >= 4 for score in ratings) > len(ratings) / 2


def test_same_seed_same_data(tmp_path):
    def snapshot(seed: int, where) -> list:
        where.mkdir()
        app = build_app(f"sqlite:///{where / 'db.sqlite'}", where)
        try:
            with app.app_context():
                demo.seed(tickets=120, seed=seed, now=NOW)
                tickets = db.session.execute(select(
                    Ticket.id, Ticket.subject, Ticket.status, Ticket.priority, Ticket.channel,
                    Ticket.customer_id, Ticket.assignee_id, Ticket.created_at,
                    Ticket.first_response_at).order_by(Ticket.id)).all()
                messages = db.session.execute(select(Message.id, Message.ticket_id, Message.kind,
                                                     Message.body).order_by(Message.id)).all()
                emails = db.session.scalars(select(Customer.email).order_by(Customer.id)).all()
                return [tickets, messages, emails]
        finally:
            dispose(app)

    assert snapshot(5, tmp_path / "a") == snapshot(5, tmp_path / "b")
    assert snapshot(5, tmp_path / "c") != snapshot(6, tmp_path / "d")


def test_seed_refuses_a_database_with_data(demo_app):
    with demo_app.app_context(), pytest.raises(DomainError):
        demo.seed(tickets=1)


# --- The command and the sequences --------------------------------------------------------------


def test_demo_command_loads_once_then_refuses(fresh_demo_app):
    runner = fresh_demo_app.test_cli_runner()
    with fresh_demo_app.app_context():
        assert not demo.has_data()
    result = runner.invoke(args=["helpdesk", "demo", "--tickets", "200"])
    assert result.exit_code == 0, result.output
    assert "200 tickets" in result.stdout
    assert all(login in result.stdout for login in demo.DEMO_LOGINS)
    again = runner.invoke(args=["helpdesk", "demo", "--tickets", "200"])
    assert again.exit_code == 1
    assert again.stderr.startswith("Error: ") and again.stderr.strip().count("\n") == 0
    quiet = runner.invoke(args=["helpdesk", "demo", "--if-empty"])
    assert quiet.exit_code == 0 and "nothing loaded" in quiet.stdout
    with fresh_demo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 200


def test_inserts_after_seeding_get_fresh_ids(backend_demo_app):
    """PostgreSQL: explicit ids leave the sequences behind unless seed() resets them."""
    with backend_demo_app.app_context():
        demo.seed(tickets=150, seed=3)
        db.session.remove()
    with backend_demo_app.app_context():
        top = {m.__tablename__: db.session.scalar(select(func.max(m.id)))
               for m in demo.BULK_TABLES}
        customer = Customer(email="nuevo@example.com", name="Cliente Nuevo", devices=[])
        db.session.add(customer)
        db.session.flush()
        db.session.add(AccountEvent(customer_id=customer.id, kind="alta", description="Alta"))
        category = db.session.scalar(select(Category).where(Category.code == "acceso"))
        ticket = workflows.create_ticket(customer, "No puedo entrar", "Me dice que no existo.",
                                         actor=None, category=category)
        db.session.add(SatisfactionRating(ticket_id=ticket.id, score=5))
        db.session.flush()  # the INSERTs run here: a stale sequence fails with IntegrityError
        assert customer.id == top["customers"] + 1
        assert ticket.id == top["tickets"] + 1
        assert ticket.messages[0].id == top["messages"] + 1
        assert ticket.created_at.tzinfo is UTC
        statuses = set(db.session.scalars(select(Ticket.status).distinct()))
        db.session.rollback()  # committing would hand the routing job to Redis
    assert statuses == set(TicketStatus)


@pytest.mark.parametrize("tickets", [300, 3000])
def test_demo_agents_have_room_for_new_tickets(fresh_demo_app, tickets):
    """Agents start below capacity, so a ticket created in the demo is assigned at once."""
    with fresh_demo_app.app_context():
        demo.seed(tickets=tickets, seed=3)
        loads = [a for team_id in db.session.scalars(select(Team.id))
                 for a in queries.team_agent_loads(team_id)]
        assert all(a.open_tickets < a.capacity for a in loads)
        customer = db.session.scalar(select(Customer).limit(1))
        category = db.session.scalar(select(Category).where(Category.code == "acceso"))
        with workflows.atomic():
            ticket = workflows.create_ticket(customer, "No puedo entrar", "Me pide la clave.",
                                             actor=None, category=category)
            assert workflows.route_ticket(ticket.id) is not None


# --- The demo shows the guide working -----------------------------------------------------------


def available_agents():
    return db.session.scalars(select(User).where(
        User.role == Role.AGENT, User.availability == Availability.AVAILABLE)).all()


def test_available_agents_have_room_even_after_the_waiting_pass(demo_app):
    """`make run`'s worker assigns the waiting tickets at once; everyone still has room after,
    so the next ticket is assigned automatically and *Tomar* works."""
    with demo_app.app_context():
        agents = available_agents()
        assert len(agents) >= 12
        assert all(a.open_tickets < a.capacity for a in agents)
        assert db.session.scalar(select(func.count()).where(Ticket.status == TicketStatus.NEW))
        assigned = workflows.sweep_waiting(NOW)  # what the cron's waiting pass does
        db.session.flush()
        waiting = db.session.scalar(select(func.count()).where(
            Ticket.status == TicketStatus.NEW, Ticket.assignee_id.is_(None)))
        loads = {a.email: (a.open_tickets, a.capacity) for a in available_agents()}
        db.session.rollback()  # the module's database stays as seeded
    assert assigned > 0 and waiting == 0
    assert all(open_ < capacity for open_, capacity in loads.values()), loads


def test_the_supervisor_supervises_every_team_and_sees_its_queue(demo_app):
    """*Mi equipo* lists the tickets of the teams one belongs to; breaches and escalations
    reach the teams' supervisors. The demo supervisor is both, and away for routing."""
    with demo_app.app_context():
        supervisor = db.session.scalar(select(User).where(User.role == Role.SUPERVISOR))
        assert {t.name for t in supervisor.supervised_teams} == TEAMS
        assert {t.name for t in supervisor.teams} == TEAMS
        assert supervisor.availability is not Availability.AVAILABLE
        my_team = db.session.scalar(select(func.count()).where(
            queries.in_teams(supervisor), Ticket.status != TicketStatus.RESOLVED))
        unresolved = db.session.scalar(select(func.count()).where(
            Ticket.status != TicketStatus.RESOLVED))
        theirs = db.session.scalar(select(func.count()).where(
            Ticket.assignee_id == supervisor.id))
        bosses = queries.supervisors_by_team(set(db.session.scalars(select(Team.id))))
    assert my_team == unresolved > 0
    assert theirs == 0  # the history is the agents'
    assert all(supervisor.id in set(ids) for ids in bosses.values())


def test_open_tickets_are_recent_and_mostly_on_time(demo_app):
    """The queue's colours mean something: most running clocks are ok, some *Próximo a
    vencer*, a few *Vencido*; only resolved history is old."""
    running = (TicketStatus.NEW, TicketStatus.OPEN)
    with demo_app.app_context():
        states = dict(db.session.execute(
            select(Ticket.sla_state, func.count()).where(Ticket.status.in_(running))
            .group_by(Ticket.sla_state)).all())
        oldest_open = db.session.scalar(select(func.min(Ticket.created_at)).where(
            Ticket.status != TicketStatus.RESOLVED))
        longest = db.session.scalar(select(func.max(SlaPolicy.resolution_minutes)))
    total = sum(states.values())
    assert states[SlaState.OK] > 0.6 * total
    assert 0.05 * total <= states[SlaState.APPROACHING] < states[SlaState.OK]
    assert 0 < states[SlaState.BREACHED] <= 0.2 * total
    assert NOW - oldest_open <= 1.8 * timedelta(minutes=longest)


def test_open_ticket_counters_need_no_recount(demo_app):
    """The triggers keep `users.open_tickets` during the bulk insert: `recount` finds nothing."""
    result = demo_app.test_cli_runner().invoke(args=["helpdesk", "recount"])
    assert result.exit_code == 0, result.output
    assert "recount: 0 counter(s) repaired" in result.stdout
    with demo_app.app_context():
        assert queries.open_ticket_drift() == []


def trail(ticket: Ticket, entries) -> list[tuple]:
    """Audit rows as comparable shapes: the assignee's id becomes '<assignee>'."""
    def value(v):
        return "<assignee>" if v == str(ticket.assignee_id) else v

    return [(e.action, e.field, e.actor_id, value(e.old_value), value(e.new_value), e.reason,
             e.ticket_version) for e in entries]


def events(ticket: Ticket) -> list[dict]:
    """The thread's system events, the assignee's name as '<assignee>'."""
    return [{k: "<assignee>" if v == ticket.assignee.name else v for k, v in m.event.items()}
            for m in ticket.messages if m.kind is MessageKind.EVENT]


def test_a_demo_ticket_reads_like_one_the_workflows_made(app, run_jobs):
    """The same request through `create_ticket` and the real worker leaves the same audit rows
    (routing `rule:<id>`/`default`, assignment `auto:<strategy>:<why>`) and the same events as
    the demo wrote: the demo does not drift from the product."""
    with app.app_context():
        demo.seed(tickets=40, seed=2)
        demo_id = db.session.scalar(
            select(AuditEntry.ticket_id).where(AuditEntry.action == "assign")
            .order_by(AuditEntry.id).limit(1))
        ticket = db.session.get(Ticket, demo_id)
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == demo_id)
                                     .order_by(AuditEntry.id)).all()
        routed = next(i for i, e in enumerate(entries) if e.action == "status") + 1
        expected, expected_events = trail(ticket, entries[:routed]), events(ticket)[:2]
        original = next((e.old_value for e in entries if e.field == "priority"), ticket.priority)
        with workflows.atomic():
            made = workflows.create_ticket(
                ticket.customer, ticket.subject, ticket.messages[0].body, actor=None,
                category=ticket.category, priority=Priority(original), channel=ticket.channel)
        made_id, team_id = made.id, ticket.team_id
    run_jobs()
    with app.app_context():
        made = db.session.get(Ticket, made_id)
        assert made.status is TicketStatus.OPEN and made.team_id == team_id
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == made_id)
                                     .order_by(AuditEntry.id)).all()
        assert trail(made, entries) == expected
        assert events(made) == expected_events
    route_reason, assign_reason = expected[1][5], expected[-1][5]
    assert assign_reason.startswith("auto:") and assign_reason.split(":", 2)[2] == route_reason
