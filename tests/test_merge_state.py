"""What a merge leaves behind: the survivor's clock and first response follow the merged thread
(docs/merge.md), a merged ticket gets no resolution round, and it reads "Fusionado en #N"
wherever a status is shown — queue (filterable), ticket page, the customer's other tickets,
linked tickets."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from helpdesk import rules, workflows
from helpdesk.admin import queue
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    LinkKind,
    Message,
    MessageKind,
    ResolutionRound,
    Ticket,
    TicketStatus,
    User,
)
from tests.pages import flashes, parse
from tests.test_merge import desk as desk_fixture
from tests.test_merge import post_merge

desk = desk_fixture  # the same fixture: Cuenta's two tickets of Lucía, a supervisor


def _reply_on_first(app, desk, minutes: int) -> object:
    """Ana answers the older ticket `minutes` after it came in; returns when."""
    with app.app_context(), workflows.atomic():
        first = db.session.get(Ticket, desk["first"])
        at = first.created_at + timedelta(minutes=minutes)
        workflows.add_reply(first, "Te he enviado un enlace nuevo.",
                            actor=db.session.get(User, desk["ana"]), now=at)
        return at


def test_the_survivor_takes_the_earliest_request_and_first_reply(app, desk, login_as):
    first, second = desk["first"], desk["second"]
    replied = _reply_on_first(app, desk, minutes=20)
    with app.app_context():
        started = db.session.get(Ticket, first).created_at
        before = db.session.get(Ticket, second)
        assert before.first_response_at is None and before.sla_due_at == \
            before.first_response_due_at  # unanswered: counting down to the first response
        old_created = before.created_at

    response = post_merge(login_as(desk["sofia"]), first, f"#{second}", survivor=second)
    assert response.status_code == 302, flashes(parse(response))

    with app.app_context():
        survivor = db.session.get(Ticket, second)
        assert survivor.created_at == started < old_created
        assert survivor.first_response_at == replied
        # Answered now: the running deadline is the resolution's, from the earliest request.
        assert survivor.sla_due_at == survivor.resolution_due_at
        assert survivor.first_response_due_at > started
        # What the reports read (the thread's first staff reply) agrees with the ticket.
        first_reply = db.session.scalar(select(func.min(Message.created_at)).where(
            Message.ticket_id == second, Message.kind == MessageKind.REPLY,
            Message.author_id.is_not(None)))
        assert first_reply == survivor.first_response_at >= survivor.created_at
        assert min(m.created_at for m in survivor.messages) >= survivor.created_at
        audits = {(a.field, a.new_value) for a in db.session.scalars(select(AuditEntry).where(
            AuditEntry.ticket_id == second, AuditEntry.action == "merge"))}
        assert audits == {("merged_from", f"#{first}"),
                          ("created_at", started.isoformat()),
                          ("first_response_at", replied.isoformat())}
        # A merge is not a resolution: the merged ticket is closed without a round.
        merged = db.session.get(Ticket, first)
        assert merged.status is TicketStatus.RESOLVED and merged.resolved_at is not None
        assert db.session.scalar(select(func.count()).select_from(ResolutionRound)) == 0


def test_a_later_survivor_keeps_its_own_earlier_facts(app, desk, login_as):
    """The older ticket survives and was answered first: nothing of its clock moves."""
    first, second = desk["first"], desk["second"]
    replied = _reply_on_first(app, desk, minutes=10)
    with app.app_context():
        before = db.session.get(Ticket, first)
        facts = (before.created_at, before.first_response_at, before.resolution_due_at)
    response = post_merge(login_as(desk["ana"]), first, f"#{second}", survivor=first)
    assert response.status_code == 302
    with app.app_context():
        after = db.session.get(Ticket, first)
        assert (after.created_at, after.first_response_at, after.resolution_due_at) == facts
        assert after.first_response_at == replied
        assert db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "merge",
            AuditEntry.field.in_(("created_at", "first_response_at")))) is None


def test_rules_merged_clock():
    t = rules.utcnow()
    assert rules.merged_clock([(t, None), (t - timedelta(hours=1), None)]) == (
        t - timedelta(hours=1), None)
    assert rules.merged_clock([(t, t + timedelta(hours=3)),
                               (t + timedelta(hours=1), t + timedelta(hours=2))]) == (
        t, t + timedelta(hours=2))


def _merged_filter(app, value: str) -> dict[str, str]:
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "tickets")
    return queue.filter_args(view, [(queue.MERGED, value)])


def test_a_merged_ticket_reads_merged_everywhere(app, desk, login_as):
    first, second = desk["first"], desk["second"]
    sofia = login_as(desk["sofia"])
    with app.app_context(), workflows.atomic():  # a third ticket linked to the duplicate
        third = workflows.create_ticket(db.session.get(Ticket, first).customer, "Otra cosa",
                                        "Una pregunta distinta.", actor=None)
        workflows.link_tickets(third, db.session.get(Ticket, second), LinkKind.RELATED,
                               actor=db.session.get(User, desk["sofia"]))
        third = third.id
    assert post_merge(sofia, first, f"#{second}", survivor=first).status_code == 302
    label = f"Fusionado en #{first}"

    page = parse(sofia.get("/admin/tickets/"))
    assert page.testid(f"merged-{second}").text == label
    assert not page.select("span", data_testid=f"merged-{first}")
    merged_only = parse(sofia.get("/admin/tickets/", query_string=_merged_filter(app, "1")))
    assert [e.text for e in merged_only.select("span", cls="hd-status-merged")] == [label]
    assert _row_ids(merged_only) == [second]
    not_merged = parse(sofia.get("/admin/tickets/", query_string=_merged_filter(app, "0")))
    assert sorted(_row_ids(not_merged)) == sorted([first, third])

    ticket_page = parse(sofia.get(f"/admin/tickets/{second}/"))
    assert ticket_page.testid("ticket-status").text == label
    survivor_page = parse(sofia.get(f"/admin/tickets/{first}/"))
    assert label in survivor_page.testid(f"history-{second}").text
    assert survivor_page.testid("ticket-status").text != label
    third_page = parse(sofia.get(f"/admin/tickets/{third}/"))
    assert label in third_page.testid("linked-tickets").text
    assert label in third_page.testid(f"history-{second}").text
    dialog = parse(sofia.get(f"/admin/tickets/bulk/priority?ids={second},{third}"))
    assert label in dialog.testid("bulk-tickets").text


def _row_ids(page) -> list[int]:
    """The ticket ids of the queue's rows (their row checkboxes)."""
    return [int(e.attrs["value"]) for e in page.select("input", cls="action-checkbox")]


def test_a_merged_ticket_is_answered_in_its_survivor(app, desk, login_as):
    """No reply form, no status change on a merged ticket; a forged one is refused."""
    first, second = desk["first"], desk["second"]
    sofia = login_as(desk["sofia"])
    assert post_merge(sofia, first, f"#{second}", survivor=first).status_code == 302
    page = parse(sofia.get(f"/admin/tickets/{second}/"))
    assert not page.select("form", id="hd-reply-form")
    assert not page.select("select", data_testid="status-select")
    assert f"Abrir #{first}" in page.testid("merged-actions").text
    with app.app_context():
        version = db.session.get(Ticket, second).version
    for url, data in ((f"/admin/tickets/{second}/reply", {"body": "Hola", "status": "pending"}),
                      (f"/admin/tickets/{second}/status", {"status": "open"})):
        response = sofia.post(url, data={**data, "version": version},
                              token_from=f"/admin/tickets/{second}/")
        assert response.status_code == 400, (url, response.status_code)
        assert f"Este ticket está fusionado en #{first}" in flashes(parse(response))
    with app.app_context():
        merged = db.session.get(Ticket, second)
        assert merged.status is TicketStatus.RESOLVED and merged.version == version
        assert not [m for m in merged.messages if m.kind is MessageKind.REPLY]
