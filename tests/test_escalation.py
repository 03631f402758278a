"""Escalation: *Escalar* through the real form (CSRF on), the refusals, who may, the SLA carried
over, the receiver's banner, *Escalados* and its filter, de-escalation, the SLA policy's
automatic escalation through the sweep job, notices and e-mail."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

import pytest
from sqlalchemy import func, select

from helpdesk import jobs, rules, workflows
from helpdesk.extensions import db, get_queue
from helpdesk.models import (
    AuditEntry,
    Availability,
    Escalation,
    EscalationReason,
    JobIntent,
    Message,
    MessageKind,
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
from tests.closing import resolve
from tests.pages import flashes, form_fields, parse
from tests.test_ticket_work import smtp_server  # noqa: F401  (a fixture: a real SMTP sink)

CONTEXT = "Probados cierre de sesión, caché y otra red; el error DRM-77 sigue en la Smart TV."


@pytest.fixture
def floor(app, make_team, make_user, make_ticket):
    """Cuenta (Ana) escalates to Técnico (Teo, supervised by Sergio); an admin; two reasons."""
    cuenta, tecnico, archivo = make_team("Cuenta"), make_team("Técnico"), make_team("Archivo")
    people = {
        "ana": make_user(Role.AGENT, teams=[cuenta], name="Ana"),
        "teo": make_user(Role.AGENT, teams=[tecnico], name="Teo"),
        "eva": make_user(Role.AGENT, teams=[tecnico], name="Eva",
                         availability=Availability.OFFLINE),
        "sergio": make_user(Role.SUPERVISOR, name="Sergio", availability=Availability.AWAY),
        "sofia": make_user(Role.SUPERVISOR, name="Sofía", teams=[cuenta]),
        "admin": make_user(Role.ADMIN, name="Alba"),
    }
    ticket = make_ticket("La serie no carga", "Pantalla negra con DRM-77.")
    with app.app_context(), workflows.atomic():
        db.session.get(Team, tecnico).supervisors = [db.session.get(User, people["sergio"])]
        db.session.get(Team, cuenta).supervisors = [db.session.get(User, people["sofia"])]
        db.session.get(Team, archivo).active = False
        tech = EscalationReason(name="Problema técnico avanzado",
                                name_en="Advanced technical problem")
        old = EscalationReason(name="Motivo retirado", active=False)
        db.session.add_all([tech, old])
        row = db.session.get(Ticket, ticket)
        row.team_id = cuenta
        workflows.assign_ticket(row, db.session.get(User, people["ana"]), actor=None,
                                reason="test")
        db.session.flush()
        reasons = {"tech": tech.id, "old": old.id}
    return {"cuenta": cuenta, "tecnico": tecnico, "archivo": archivo, "ticket": ticket,
            **reasons, **people}


def page_url(ticket_id: int) -> str:
    return f"/admin/tickets/{ticket_id}/escalate"


def version(app, ticket_id: int) -> str:
    with app.app_context():
        return str(db.session.get(Ticket, ticket_id).version)


def escalate(app, client, floor, **overrides):
    """Open *Escalar* from the ticket page as a browser would, then submit it."""
    ticket = overrides.pop("ticket", floor["ticket"])
    assert client.get(page_url(ticket)).status_code == 200
    data = {"version": version(app, ticket), "reason": str(floor["tech"]),
            "target": f"team-{floor['tecnico']}", "context": CONTEXT, "priority": "",
            **overrides}
    return client.post(page_url(ticket), data=data)


def state(app, ticket_id: int) -> tuple:
    with app.app_context():
        t = db.session.get(Ticket, ticket_id)
        return (t.team_id, t.assignee_id, t.status, t.escalation_level, t.priority, t.version,
                db.session.scalar(select(func.count()).select_from(Escalation)))


def test_agent_escalates_to_a_team_through_the_form(app, floor, login_as, run_jobs):
    ana = login_as(floor["ana"])
    ticket_page = ana.get(f"/admin/tickets/{floor['ticket']}/").get_data(as_text=True)
    assert 'data-testid="escalate"' in ticket_page
    form = parse(ana.get(page_url(floor["ticket"])).get_data(as_text=True)).testid(
        "escalate-form")
    assert form_fields(form)["csrf_token"]
    response = escalate(app, ana, floor)
    assert response.status_code == 302
    # Ana no longer sees a ticket of Técnico's: she lands on the queue.
    assert response.headers["Location"].endswith("/admin/tickets/")
    team, assignee, status, level, *_rest, count = state(app, floor["ticket"])
    assert (team, assignee, status, level, count) == (floor["tecnico"], floor["teo"],
                                                      TicketStatus.OPEN, 1, 1)
    with app.app_context():
        esc = db.session.scalar(select(Escalation))
        assert (esc.reason_id, esc.from_team_id, esc.from_user_id, esc.to_team_id,
                esc.to_user_id, esc.actor_id, esc.level, esc.context) == (
            floor["tech"], floor["cuenta"], floor["ana"], floor["tecnico"], None, floor["ana"],
            1, CONTEXT)
        assert esc.sla_state is SlaState.OK and esc.sla_due_at is not None
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "escalate"))
        assert (entry.actor_id, entry.old_value, entry.new_value, entry.reason) == (
            floor["ana"], "0", "1", "Problema técnico avanzado")
        events = [m.event for m in db.session.scalars(select(Message).where(
            Message.kind == MessageKind.EVENT).order_by(Message.id))]
        assert {"event": "escalate", "to": "Técnico", "team": "Técnico",
                "reason": "Problema técnico avanzado", "level": "1"} in events
        notices = db.session.execute(select(Notification.user_id, Notification.kind)).all()
        assert notices == [(floor["teo"], "escalation")]
        assert db.session.scalar(select(func.count()).select_from(JobIntent).where(
            JobIntent.func == "mail_escalation")) == 0  # no MAIL_SERVER: no e-mail
    run_jobs()
    teo_page = login_as(floor["teo"]).get(f"/admin/tickets/{floor['ticket']}/")
    text = teo_page.get_data(as_text=True)
    assert "Escalado a Técnico: Problema técnico avanzado" in text  # the thread's event
    home = login_as(floor["teo"]).get("/admin/").get_data(as_text=True)
    assert f"El ticket #{floor['ticket']} se escaló a ti." in home


def test_escalating_to_a_supervisor_assigns_them_and_raises_priority(app, floor, login_as):
    response = escalate(app, login_as(floor["ana"]), floor,
                        target=f"user-{floor['sergio']}-{floor['tecnico']}", priority="urgent")
    assert response.status_code == 302
    team, assignee, status, level, priority, *_ = state(app, floor["ticket"])
    assert (team, assignee, level, priority) == (floor["tecnico"], floor["sergio"], 1,
                                                 Priority.URGENT)
    with app.app_context():
        esc = db.session.scalar(select(Escalation))
        assert (esc.to_user_id, esc.raised_priority) == (floor["sergio"], Priority.URGENT)
        assert db.session.scalars(select(Notification.user_id)).all() == [floor["sergio"]]


def test_nobody_available_waits_unassigned_in_new(app, floor, login_as):
    with app.app_context(), workflows.atomic():
        db.session.get(User, floor["teo"]).availability = Availability.OFFLINE
    assert escalate(app, login_as(floor["ana"]), floor).status_code == 302
    team, assignee, status, level, *_ = state(app, floor["ticket"])
    assert (team, assignee, status, level) == (floor["tecnico"], None, TicketStatus.NEW, 1)
    with app.app_context():  # the team's supervisors hear of it
        assert db.session.scalars(select(Notification.user_id)).all() == [floor["sergio"]]


def test_the_sla_clock_is_never_reset(app, floor, login_as):
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, floor["ticket"])
        ticket.created_at = rules.utcnow() - timedelta(hours=20)  # normal: 24 h, 4 h left
        ticket.sla_paused_minutes = 95.0
        workflows.apply_targets(ticket)
    with app.app_context():
        t = db.session.get(Ticket, floor["ticket"])
        before = (t.first_response_due_at, t.resolution_due_at, t.sla_due_at, t.sla_warn_at,
                  t.sla_paused_minutes, t.sla_state, t.created_at)
    assert before[5] is SlaState.APPROACHING
    assert escalate(app, login_as(floor["ana"]), floor).status_code == 302
    with app.app_context():
        t = db.session.get(Ticket, floor["ticket"])
        after = (t.first_response_due_at, t.resolution_due_at, t.sla_due_at, t.sla_warn_at,
                 t.sla_paused_minutes, t.sla_state, t.created_at)
        esc = db.session.scalar(select(Escalation))
        assert (esc.sla_state, esc.sla_due_at, esc.sla_paused_minutes) == (
            SlaState.APPROACHING, before[2], 95.0)
    assert after == before


@pytest.mark.parametrize(("case", "status", "message"), [
    ("inactive_team", 400, "El equipo Archivo no está activo"),
    ("not_a_supervisor", 400, "Teo no es supervisor del equipo Técnico"),
    ("same_team", 400, "El ticket ya está en el equipo Cuenta"),
    ("inactive_reason", 400, "El motivo «Motivo retirado» ya no está activo"),
    ("unknown_reason", 400, "La opción elegida ya no existe"),
    ("short_context", 422, "El contexto debe tener entre 20 y 4000 caracteres"),
    ("long_context", 422, "El contexto debe tener entre 20 y 4000 caracteres"),
    ("lower_priority", 400, "la prioridad solo puede subir"),
    ("stale", 409, "otra persona cambió este ticket"),
    ("resolved", 400, "Un ticket resuelto no se puede escalar"),
])
def test_refusals_say_what_is_wrong_and_change_nothing(app, floor, login_as, case, status,
                                                       message):
    data = {
        "inactive_team": {"target": f"team-{floor['archivo']}"},
        "not_a_supervisor": {"target": f"user-{floor['teo']}-{floor['tecnico']}"},
        "same_team": {"target": f"team-{floor['cuenta']}"},
        "inactive_reason": {"reason": str(floor["old"])},
        "unknown_reason": {"reason": "999999"},
        "short_context": {"context": "Ayuda, por favor."},
        "long_context": {"context": "x" * 4001},
        "lower_priority": {"priority": "low"},
    }.get(case, {})
    client = login_as(floor["ana"])
    client.get(page_url(floor["ticket"]))
    if case == "resolved":
        with app.app_context(), workflows.atomic():
            resolve(db.session.get(Ticket, floor["ticket"]),
                    actor=db.session.get(User, floor["ana"]))
    if case == "stale":
        data["version"] = str(int(version(app, floor["ticket"])) - 1)
        with app.app_context(), workflows.atomic():
            workflows.add_note(db.session.get(Ticket, floor["ticket"]), "Mirando el DRM",
                               actor=db.session.get(User, floor["ana"]))
    before = state(app, floor["ticket"])
    response = client.post(page_url(floor["ticket"]), data={
        "version": version(app, floor["ticket"]), "reason": str(floor["tech"]),
        "target": f"team-{floor['tecnico']}", "context": CONTEXT, "priority": "", **data})
    assert response.status_code == status
    assert message.lower() in flashes(parse(response.get_data(as_text=True))).lower()
    assert state(app, floor["ticket"]) == before
    if status != 409:
        assert 'data-testid="escalate-form"' in response.get_data(as_text=True)


def test_an_agent_outside_the_tickets_teams_is_refused(app, floor, login_as, make_ticket):
    """An unrouted ticket is visible to every agent, but only its team's agents escalate it;
    another team's ticket is not even found."""
    unrouted = make_ticket("Sin equipo")
    teo = login_as(floor["teo"])
    assert teo.get(page_url(unrouted)).status_code == 403
    before = state(app, unrouted)
    response = teo.post(page_url(unrouted), token_from="/admin/", data={
        "version": version(app, unrouted), "reason": str(floor["tech"]),
        "target": f"team-{floor['cuenta']}", "context": CONTEXT})
    assert response.status_code == 403
    assert "Solo puedes escalar tickets de tus equipos" in response.get_data(as_text=True)
    assert state(app, unrouted) == before
    assert teo.get(page_url(floor["ticket"])).status_code == 404  # Cuenta's: not his
    assert 'data-testid="escalate"' not in teo.get(
        f"/admin/tickets/{unrouted}/").get_data(as_text=True)


@pytest.mark.parametrize(("who", "status"), [("ana", 200), ("teo", 404), ("sofia", 200),
                                             ("sergio", 200), ("admin", 200)])
def test_who_may_open_escalar(floor, login_as, who, status):
    assert login_as(floor[who]).get(page_url(floor["ticket"])).status_code == status


def test_per_team_limits_apply_to_agents_not_supervisors(app, floor, login_as, make_team):
    soporte = make_team("Contenido")
    with app.app_context(), workflows.atomic():
        db.session.get(Team, floor["cuenta"]).escalation_targets = [
            db.session.get(Team, soporte)]
    before = state(app, floor["ticket"])
    response = escalate(app, login_as(floor["ana"]), floor)
    assert response.status_code == 400
    assert "Los tickets de Cuenta no se pueden escalar a Técnico" in response.get_data(
        as_text=True)
    assert state(app, floor["ticket"]) == before
    assert escalate(app, login_as(floor["sofia"]), floor).status_code == 302
    assert state(app, floor["ticket"])[0] == floor["tecnico"]


def test_banner_for_the_receiver_until_they_reply(app, floor, login_as):
    escalate(app, login_as(floor["ana"]), floor)
    teo = login_as(floor["teo"])
    page = parse(teo.get(f"/admin/tickets/{floor['ticket']}/").get_data(as_text=True))
    banner = page.testid("escalation-banner")
    assert "Ana" in banner.text and "Problema técnico avanzado" in banner.text
    assert CONTEXT in banner.text
    assert not parse(login_as(floor["sofia"]).get(f"/admin/tickets/{floor['ticket']}/")
                     .get_data(as_text=True)).select(data_testid="escalation-banner")
    response = teo.post(f"/admin/tickets/{floor['ticket']}/reply", data={
        "version": version(app, floor["ticket"]), "body": "Lo revisamos ahora mismo.",
        "status": "open"})
    assert response.status_code == 302
    page = parse(teo.get(f"/admin/tickets/{floor['ticket']}/").get_data(as_text=True))
    assert not page.select(data_testid="escalation-banner")
    assert "Problema técnico avanzado" in page.testid("escalation-history").text


def test_banner_for_the_team_until_someone_takes_it(app, floor, login_as):
    with app.app_context(), workflows.atomic():
        db.session.get(User, floor["teo"]).availability = Availability.OFFLINE
    escalate(app, login_as(floor["ana"]), floor)
    eva = login_as(floor["eva"])
    assert parse(eva.get(f"/admin/tickets/{floor['ticket']}/").get_data(as_text=True)).select(
        data_testid="escalation-banner")
    assert eva.post(f"/admin/tickets/{floor['ticket']}/take", data={
        "version": version(app, floor["ticket"])}).status_code == 302
    assert not parse(eva.get(f"/admin/tickets/{floor['ticket']}/").get_data(
        as_text=True)).select(data_testid="escalation-banner")


def test_escalados_view_count_badge_and_reason_filter(app, floor, login_as, make_ticket):
    other = make_ticket("Otra cosa")
    escalate(app, login_as(floor["ana"]), floor)
    sergio = login_as(floor["sergio"])
    queue = parse(sergio.get("/admin/tickets/").get_data(as_text=True))
    assert queue.testid("count-escalated").text == "1"
    url = queue.testid("view-escalated").attrs["href"]
    listed = parse(sergio.get(url).get_data(as_text=True))
    rows = listed.select("td", cls="col-id")
    assert [r.text for r in rows] == [f"#{floor['ticket']}"]
    assert listed.testid("escalation-level").text == "N1"
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views
                    if getattr(v, "endpoint", None) == "tickets")
        from helpdesk.admin import escalation as admin_escalation
        from helpdesk.admin import queue as admin_queue

        by_reason = admin_queue.filter_args(view, [(admin_escalation.ESCALATION_REASON,
                                                    str(floor["tech"]))])
        by_old = admin_queue.filter_args(view, [(admin_escalation.ESCALATION_REASON,
                                                 str(floor["old"]))])
    ids = [r.text for r in parse(sergio.get("/admin/tickets/", query_string=by_reason)
                                 .get_data(as_text=True)).select("td", cls="col-id")]
    assert ids == [f"#{floor['ticket']}"] and f"#{other}" not in ids
    assert not parse(sergio.get("/admin/tickets/", query_string=by_old).get_data(
        as_text=True)).select("td", cls="col-id")


def test_queue_row_offers_escalar_where_allowed(app, floor, login_as, make_ticket):
    unrouted = make_ticket("Sin equipo")
    page = parse(login_as(floor["ana"]).get("/admin/tickets/").get_data(as_text=True))
    link = page.testid(f"escalate-row-{floor['ticket']}")
    assert link.attrs["href"].endswith(page_url(floor["ticket"]))
    assert not page.select(data_testid=f"escalate-row-{unrouted}")


def test_supervisor_deescalates_back_to_the_team_it_came_from(app, floor, login_as):
    escalate(app, login_as(floor["ana"]), floor)
    assert login_as(floor["teo"]).get(
        f"/admin/tickets/{floor['ticket']}/deescalate").status_code == 403
    sergio = login_as(floor["sergio"])
    page = sergio.get(f"/admin/tickets/{floor['ticket']}/").get_data(as_text=True)
    assert 'data-testid="deescalate"' in page
    url = f"/admin/tickets/{floor['ticket']}/deescalate"
    assert sergio.get(url).status_code == 200
    assert sergio.post(url, data={"version": version(app, floor["ticket"]),
                                  "note": ""}).status_code == 422
    response = sergio.post(url, data={"version": version(app, floor["ticket"]),
                                      "note": "Es un fallo de la app; sigue el paso 3 de la FAQ."})
    assert response.status_code == 302
    team, assignee, status, level, *_ = state(app, floor["ticket"])
    assert (team, assignee, status, level) == (floor["cuenta"], floor["ana"], TicketStatus.OPEN,
                                               0)
    with app.app_context():
        esc = db.session.scalar(select(Escalation))
        assert (esc.deescalated_by_id, esc.deescalation_note) == (
            floor["sergio"], "Es un fallo de la app; sigue el paso 3 de la FAQ.")
        assert (floor["ana"], "deescalation") in db.session.execute(
            select(Notification.user_id, Notification.kind)).all()
    ana_page = login_as(floor["ana"]).get(f"/admin/tickets/{floor['ticket']}/")
    assert "Sergio devolvió el ticket al equipo Cuenta" in ana_page.get_data(as_text=True)
    before = state(app, floor["ticket"])
    again = sergio.post(url, data={"version": version(app, floor["ticket"]), "note": "otra vez"})
    assert again.status_code == 400  # nothing to send back: said so, nothing changed
    assert "no está escalado" in flashes(parse(again.get_data(as_text=True)))
    assert state(app, floor["ticket"]) == before


def test_sla_policy_escalates_a_first_response_breach_once(app, floor, run_jobs):
    with app.app_context(), workflows.atomic():
        db.session.add(SlaPolicy(priority=Priority.NORMAL, first_response_minutes=60,
                                 escalate_on_first_breach=True))
        ticket = db.session.get(Ticket, floor["ticket"])
        ticket.team_id = floor["tecnico"]
        ticket.created_at = rules.utcnow() - timedelta(hours=2)
        workflows.apply_targets(ticket)
    for _sweep in range(2):
        with app.app_context():
            get_queue("sla").enqueue(jobs.sweep_sla_states)
        run_jobs("sla")
    with app.app_context():
        rows = db.session.scalars(select(Escalation)).all()
        assert len(rows) == 1
        esc = rows[0]
        assert (esc.actor_id, esc.to_team_id, esc.to_user_id, esc.reason.code,
                esc.sla_state, esc.auto_key) == (None, floor["tecnico"], None, "sla_breach",
                                                 SlaState.BREACHED,
                                                 f"auto:sla:{floor['ticket']}:{floor['tecnico']}")
        ticket = db.session.get(Ticket, floor["ticket"])
        assert (ticket.escalation_level, ticket.assignee_id) == (1, floor["ana"])
        assert db.session.scalars(select(Notification.user_id).where(
            Notification.kind == "escalation")).all() == [floor["sergio"]]


def test_escalation_is_mailed_when_mail_is_configured(app, floor, login_as, run_jobs,
                                                      smtp_server):  # noqa: F811
    with app.app_context(), workflows.atomic():
        db.session.get(User, floor["teo"]).locale = "en"
        teo_email = db.session.get(User, floor["teo"]).email
    escalate(app, login_as(floor["ana"]), floor)
    run_jobs()
    assert [rcpt for rcpt, _content in smtp_server.messages] == [[teo_email]]
    mail = email.message_from_bytes(smtp_server.messages[0][1], policy=policy.default)
    assert mail["Subject"] == f"Escalated to you: #{floor['ticket']} La serie no carga"
    assert "Advanced technical problem" in mail.get_content() and CONTEXT in mail.get_content()
    run_jobs()
    assert len(smtp_server.messages) == 1


def test_rules_for_escalation():
    assert rules.escalate_refusal(Role.AGENT, [1], actor_id=5, team_id=2, assignee_id=5,
                                  status=TicketStatus.OPEN) is None  # their own ticket
    assert rules.escalate_refusal(Role.AGENT, [1], actor_id=5, team_id=2, assignee_id=None,
                                  status=TicketStatus.NEW) == rules.NOT_YOUR_TEAM
    assert rules.escalate_refusal(Role.SUPERVISOR, [], actor_id=5, team_id=2, assignee_id=None,
                                  status=TicketStatus.RESOLVED) == rules.RESOLVED
    common = {"from_team_id": 1, "to_team_active": True, "to_user_supervises": False}
    assert rules.escalation_target_refusal(Role.AGENT, to_team_id=1, to_user_id=None,
                                           **common) == rules.SAME_TEAM
    assert rules.escalation_target_refusal(None, to_team_id=1, to_user_id=None, automatic=True,
                                           **common) is None
    assert rules.escalation_target_refusal(Role.AGENT, to_team_id=2, to_user_id=None,
                                           allowed_team_ids=[3], **common) == \
        rules.TARGET_NOT_ALLOWED
    assert rules.escalation_target_refusal(Role.SUPERVISOR, to_team_id=2, to_user_id=None,
                                           allowed_team_ids=[3], **common) is None
    assert rules.raised_priorities(Priority.NORMAL) == [Priority.URGENT, Priority.HIGH]
    assert rules.raised_priorities(Priority.URGENT) == []


@pytest.mark.postgres_only
def test_two_sweeps_at_once_escalate_a_breach_once(app, floor, race):
    with app.app_context(), workflows.atomic():
        db.session.add(SlaPolicy(priority=Priority.NORMAL, first_response_minutes=60,
                                 escalate_on_first_breach=True))
        ticket = db.session.get(Ticket, floor["ticket"])
        ticket.created_at = rules.utcnow() - timedelta(hours=2)
        workflows.apply_targets(ticket)
    now = rules.utcnow()
    race(4, lambda: workflows.escalate_first_breaches(now))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Escalation)) == 1
        assert db.session.get(Ticket, floor["ticket"]).escalation_level == 1
        assert db.session.scalar(select(func.count()).select_from(EscalationReason).where(
            EscalationReason.code == "sla_breach")) == 1


def test_re_escalating_moves_the_banner_to_the_new_receiver(app, floor, login_as):
    escalate(app, login_as(floor["ana"]), floor)
    teo = login_as(floor["teo"])
    assert escalate(app, teo, floor, target=f"user-{floor['sergio']}-{floor['tecnico']}",
                    context="No es la app: los registros del CDN muestran cortes en su zona."
                    ).status_code == 302
    assert not parse(teo.get(f"/admin/tickets/{floor['ticket']}/").get_data(
        as_text=True)).select(data_testid="escalation-banner")
    banner = parse(login_as(floor["sergio"]).get(f"/admin/tickets/{floor['ticket']}/")
                   .get_data(as_text=True)).testid("escalation-banner")
    assert "Teo" in banner.text and "nivel 2" in banner.text
    assert state(app, floor["ticket"])[1:4:2] == (floor["sergio"], 2)
