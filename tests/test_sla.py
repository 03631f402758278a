"""SLAs: deadlines from policies and calendars, state right after each change, the sweep,
the pause while waiting for the customer, breach notices exactly once."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import String, cast, func, literal, select, text

from helpdesk import jobs, rules, workflows
from helpdesk.extensions import db, get_queue
from helpdesk.models import (
    AuditEntry,
    BusinessCalendar,
    Customer,
    Holiday,
    Notification,
    Priority,
    Role,
    SlaPolicy,
    SlaState,
    Team,
    Ticket,
    TicketStatus,
    User,
)


def create(app, customer_id, *, priority=Priority.NORMAL, now=None, team_id=None):
    with app.app_context(), workflows.atomic():
        ticket = workflows.create_ticket(db.session.get(Customer, customer_id), "Sin imagen",
                                         "Pantalla negra", actor=None, priority=priority,
                                         now=now)
        ticket.team_id = team_id
        return ticket.id


def row(app, ticket_id):
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        db.session.expunge(ticket)
        return ticket


@pytest.mark.parametrize(("priority", "hours"), [(Priority.URGENT, 1), (Priority.HIGH, 4),
                                                 (Priority.NORMAL, 24), (Priority.LOW, 48)])
def test_guide_targets_without_policies(app, make_customer, priority, hours):
    created = rules.utcnow()
    ticket = row(app, create(app, make_customer(), priority=priority, now=created))
    assert ticket.first_response_due_at - ticket.created_at == timedelta(hours=hours)
    assert ticket.sla_due_at == ticket.first_response_due_at
    assert ticket.sla_state is SlaState.OK


def test_policy_with_a_calendar_counts_business_time(app, make_customer):
    with app.app_context(), workflows.atomic():
        calendar = BusinessCalendar(name="Madrid", timezone="Europe/Madrid",
                                    hours={str(d): [["09:00", "18:00"]] for d in range(5)})
        calendar.holidays.append(Holiday(day=date(2026, 12, 8), name="Inmaculada"))
        db.session.add(SlaPolicy(priority=Priority.HIGH, first_response_minutes=240,
                                 resolution_minutes=18 * 60, calendar=calendar))
    friday_17h = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # 17:00 in Madrid
    ticket = row(app, create(app, make_customer(), priority=Priority.HIGH, now=friday_17h))
    assert ticket.first_response_due_at == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # Mon 12:00
    # 1 h on Friday, 9 h on Monday, Tuesday is a holiday, 8 h on Wednesday: 17:00 in Madrid
    assert ticket.resolution_due_at == datetime(2026, 12, 9, 16, 0, tzinfo=UTC)


def test_state_is_right_immediately_after_a_change(app, make_customer, make_user):
    agent = make_user(Role.AGENT)
    created = rules.utcnow() - timedelta(hours=3, minutes=30)  # high: 4 h → 30 min left
    ticket_id = create(app, make_customer(), priority=Priority.HIGH, now=created)
    assert row(app, ticket_id).sla_state is SlaState.APPROACHING
    with app.app_context(), workflows.atomic():
        workflows.change_priority(db.session.get(Ticket, ticket_id), Priority.URGENT,
                                  actor=db.session.get(User, agent))
    ticket = row(app, ticket_id)
    assert ticket.sla_state is SlaState.BREACHED
    assert ticket.first_response_due_at == ticket.created_at + timedelta(hours=1)


def test_sweep_through_the_worker(app, make_customer, run_jobs):
    fresh = create(app, make_customer())
    late = create(app, make_customer(), priority=Priority.URGENT,
                  now=rules.utcnow() - timedelta(hours=2))
    soon = create(app, make_customer(), priority=Priority.URGENT,
                  now=rules.utcnow() - timedelta(minutes=50))
    with app.app_context(), workflows.atomic():  # as if nobody had looked since creation
        db.session.execute(Ticket.__table__.update().values(sla_state="ok"))
    with app.app_context():
        get_queue("sla").enqueue(jobs.sweep_sla_states)
    run_jobs("sla")
    assert [row(app, i).sla_state for i in (fresh, soon, late)] == [
        SlaState.OK, SlaState.APPROACHING, SlaState.BREACHED]


def test_first_breach_notifies_assignee_and_supervisors_once(app, make_customer, make_user,
                                                             make_team):
    team = make_team("Técnico")
    agent = make_user(Role.AGENT, teams=[team])
    boss = make_user(Role.SUPERVISOR)
    with app.app_context(), workflows.atomic():
        team_row = db.session.get(Team, team)
        team_row.supervisors.append(db.session.get(User, boss))
    ticket_id = create(app, make_customer(), priority=Priority.URGENT, team_id=team)
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, ticket_id)
        workflows.assign_ticket(ticket, db.session.get(User, agent), actor=None, reason="t")
    later = rules.utcnow() + timedelta(hours=2)
    for _ in range(2):
        with app.app_context(), workflows.atomic():
            workflows.sweep_sla_states(later)
    with app.app_context():
        notified = sorted(db.session.scalars(select(Notification.user_id)))
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sla_breach"))
    assert notified == sorted([agent, boss]) and audits == 1


def test_a_late_sweep_never_moves_a_state_back(app, make_customer, make_user):
    """Two workers' sweeps can commit out of order: the one whose clock read earlier must not
    take a breached ticket back to approaching, or the next sweep would breach it again."""
    agent = make_user(Role.AGENT)
    created = rules.utcnow()
    ticket_id = create(app, make_customer(), priority=Priority.URGENT, now=created)
    with app.app_context(), workflows.atomic():
        workflows.assign_ticket(db.session.get(Ticket, ticket_id), db.session.get(User, agent),
                                actor=None, reason="t")
    moments = [created + timedelta(minutes=61), created + timedelta(minutes=50),
               created + timedelta(minutes=62)]  # breached, approaching again?, breached
    changed = []
    for moment in moments:
        with app.app_context(), workflows.atomic():
            changed.append(workflows.sweep_sla_states(moment))
    with app.app_context():
        notices = db.session.scalar(select(func.count()).select_from(Notification))
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sla_breach"))
    assert changed == [1, 0, 0]
    assert row(app, ticket_id).sla_state is SlaState.BREACHED
    assert (notices, audits) == (1, 1)


def test_a_change_after_a_sweep_rewrites_the_state_the_session_still_holds(app,
                                                                           make_customer):
    """A page loads an urgent ticket (ok); the sweep breaches it in the database behind the
    session's back; the page then lowers the priority, so the deadline is two days away. The
    recomputed state (ok) equals what the session holds, and must still be written: the
    forward-only sweep would never take it back."""
    created = rules.utcnow() - timedelta(minutes=61)
    ticket_id = create(app, make_customer(), priority=Priority.URGENT, now=created)
    with app.app_context(), workflows.atomic():
        db.session.execute(Ticket.__table__.update().values(sla_state="ok"))
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.sla_state is SlaState.OK
        assert workflows.sweep_sla_states(rules.utcnow()) == 1  # a Core UPDATE: the
        workflows.change_priority(ticket, Priority.LOW, actor=None)  # session saw nothing
    ticket = row(app, ticket_id)
    assert ticket.sla_due_at > rules.utcnow() + timedelta(hours=40)
    assert ticket.sla_state is SlaState.OK


def test_resolution_clock_pauses_while_waiting_for_the_customer(app, make_customer, make_user):
    with app.app_context(), workflows.atomic():
        db.session.add(SlaPolicy(priority=Priority.NORMAL, first_response_minutes=24 * 60,
                                 resolution_minutes=48 * 60))
    agent = make_user(Role.AGENT)
    created = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    ticket_id = create(app, make_customer(), now=created)
    with app.app_context(), workflows.atomic():
        workflows.add_reply(db.session.get(Ticket, ticket_id), "¿Qué televisor tienes?",
                            actor=db.session.get(User, agent), now=created + timedelta(hours=1))
    paused = row(app, ticket_id)
    assert paused.status is TicketStatus.PENDING and paused.sla_due_at is None
    with app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, ticket_id), "Un Samsung",
                                       now=created + timedelta(hours=11))
    resumed = row(app, ticket_id)
    assert resumed.status is TicketStatus.OPEN
    assert resumed.resolution_due_at == created + timedelta(hours=48 + 10)  # waited 10 h
    assert resumed.sla_due_at == resumed.resolution_due_at


@pytest.mark.postgres_only
def test_two_sweeps_at_once_notify_once(app, race, make_customer, make_user, make_team):
    team = make_team("Cuenta")
    agent = make_user(Role.AGENT, teams=[team])
    ids = [create(app, make_customer(), priority=Priority.URGENT, team_id=team)
           for _ in range(20)]
    with app.app_context(), workflows.atomic():
        for ticket_id in ids:
            db.session.get(Ticket, ticket_id).assignee_id = agent
    later = rules.utcnow() + timedelta(hours=2)
    race(4, lambda: workflows.sweep_sla_states(later))
    with app.app_context():
        notices = db.session.execute(select(Notification.user_id, Notification.count)).all()
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sla_breach"))
    assert notices == [(agent, 20)] and audits == 20  # one digest, each breach audited once


def test_breach_notices_show_in_the_panel_until_read(app, make_customer, make_user, login_as):
    agent = make_user(Role.AGENT)
    ticket_id = create(app, make_customer(), priority=Priority.URGENT)
    with app.app_context(), workflows.atomic():
        workflows.assign_ticket(db.session.get(Ticket, ticket_id),
                                db.session.get(User, agent), actor=None, reason="t")
        workflows.sweep_sla_states(rules.utcnow() + timedelta(hours=2))
    client = login_as(agent)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="notices-count">1<' in page
    assert f"El ticket #{ticket_id} superó su plazo SLA." in page
    client.post("/admin/notifications/read")
    page = client.get("/admin/").get_data(as_text=True)
    assert "notices-count" not in page and "superó su plazo" not in page


def test_reprioritising_from_the_ticket_page_moves_the_deadline(app, make_customer, make_user,
                                                                login_as):
    agent = make_user(Role.AGENT)
    ticket_id = create(app, make_customer())
    before = row(app, ticket_id)
    response = login_as(agent).post(f"/admin/tickets/{ticket_id}/priority", data={
        "priority": "urgent", "version": str(before.version)}, page=f"/admin/tickets/{ticket_id}/")
    assert response.status_code == 302
    after = row(app, ticket_id)
    assert after.priority is Priority.URGENT
    assert after.sla_due_at == after.created_at + timedelta(hours=1)


def test_supervisors_keep_business_calendars(app, make_user, login_as):
    client = login_as(make_user(Role.SUPERVISOR))
    response = client.post("/admin/calendars/new/", data={
        "name": "Oficina Madrid", "timezone": "Europe/Madrid",
        "hours_text": "lun-vie 09:00-14:00, 15:00-18:00",
        "holidays-0-day": "2026-12-08", "holidays-0-name": "Inmaculada"})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    with app.app_context():
        calendar = db.session.scalar(select(BusinessCalendar))
        assert calendar.hours["4"] == [["09:00", "14:00"], ["15:00", "18:00"]]
        assert [(h.day, h.name) for h in calendar.holidays] == [(date(2026, 12, 8),
                                                                 "Inmaculada")]
    page = client.post("/admin/calendars/new/", data={
        "name": "Mal", "timezone": "Mars/Olympus", "hours_text": "lunes 9-18"}).get_data(
        as_text=True)
    assert "Zona horaria desconocida" in page and "Horario no válido" in page
    assert login_as(make_user(Role.AGENT)).get("/admin/calendars/").status_code == 403


def test_a_sweep_after_an_outage_breaches_tens_of_thousands_at_once(app, make_customer,
                                                                    make_user, make_team):
    """More breaches than a driver takes bound parameters in one statement (65,535)."""
    team = make_team("Cuenta")
    agent, boss = make_user(Role.AGENT, teams=[team]), make_user(Role.SUPERVISOR)
    customer = make_customer()
    with app.app_context(), workflows.atomic():
        team_row = db.session.get(Team, team)
        team_row.supervisors.append(db.session.get(User, boss))
        past = rules.utcnow() - timedelta(hours=5)
        # The rows are this test's setup, not what it tests: the database makes them from a
        # counter (sent from Python, 40,000 rows took over a minute to compile and send), and on
        # PostgreSQL without the search index's per-row trigger. The sweep runs with triggers on.
        fixed = {"status": TicketStatus.OPEN, "priority": Priority.URGENT, "channel": "web",
                 "language": "es", "customer_id": customer, "team_id": team,
                 "assignee_id": agent, "sla_state": SlaState.OK, "escalation_level": 0,
                 "version": 1, "created_at": past, "updated_at": past, "sla_due_at": past,
                 "sla_warn_at": past, "sla_paused_minutes": 0}
        table = Ticket.__table__
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
        n = select(literal(1).label("n")).cte("n", recursive=True)
        n = n.union_all(select(n.c.n + 1).where(n.c.n < 40_000))
        db.session.execute(table.insert().from_select(
            ["subject", *fixed],
            select(literal("T") + cast(n.c.n, String),
                   *(literal(value, table.c[name].type) for name, value in fixed.items()))))
    with app.app_context(), workflows.atomic():
        assert workflows.sweep_sla_states(rules.utcnow()) == 40_000
    with app.app_context():
        notices = db.session.execute(select(Notification.user_id, Notification.kind,
                                            Notification.team_id, Notification.count,
                                            Notification.ticket_id)).all()
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sla_breach"))
    # One digest each for the agent and the supervisor, not 80,000 notices; every breach audited.
    assert sorted(notices) == sorted([(agent, "sla_breach_digest", team, 40_000, None),
                                      (boss, "sla_breach_digest", team, 40_000, None)])
    assert audits == 40_000


def test_past_the_threshold_a_person_gets_one_digest_per_team(app, make_customer, make_user,
                                                             make_team, login_as):
    """Five breaches of a team: five notices each; six: one digest each, linked to the queue
    filtered to the team's breached tickets."""
    few, many = make_team("Cuenta"), make_team("Facturación")
    agent, boss = make_user(Role.AGENT, teams=[few, many]), make_user(Role.SUPERVISOR)
    with app.app_context(), workflows.atomic():
        for team in (db.session.get(Team, few), db.session.get(Team, many)):
            team.supervisors.append(db.session.get(User, boss))
    customer = make_customer()
    ids = {team: [create(app, customer, priority=Priority.URGENT, team_id=team)
                  for _ in range(rules.BREACH_DIGEST_AFTER + (team == many))]
           for team in (few, many)}
    with app.app_context(), workflows.atomic():
        for ticket_id in ids[few] + ids[many]:
            db.session.get(Ticket, ticket_id).assignee_id = agent
    with app.app_context(), workflows.atomic():
        workflows.sweep_sla_states(rules.utcnow() + timedelta(hours=2))
    with app.app_context():
        rows = db.session.execute(select(Notification.user_id, Notification.ticket_id,
                                         Notification.team_id, Notification.count)).all()
    for user in (agent, boss):
        mine = [r for r in rows if r.user_id == user]
        assert sorted(r.ticket_id for r in mine if r.team_id == few) == sorted(ids[few])
        assert [(r.ticket_id, r.count) for r in mine if r.team_id == many] == [
            (None, rules.BREACH_DIGEST_AFTER + 1)]
    client = login_as(boss)
    page = client.get("/admin/").get_data(as_text=True)
    assert f'data-testid="notices-count">{rules.BREACH_DIGEST_AFTER + 1}<' in page
    assert "6 tickets de Facturación superaron su plazo SLA a la vez." in page
    queue = client.get(f"/admin/tickets/sla-breached/?team={many}", follow_redirects=True)
    listed = queue.get_data(as_text=True)
    assert queue.status_code == 200
    assert all(f"#{ticket_id}<" in listed for ticket_id in ids[many])
    assert not any(f"#{ticket_id}<" in listed for ticket_id in ids[few])
