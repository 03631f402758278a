"""A seeded dataset for the Informes tests: raw rows with the hard cases at chosen instants.

October 2026: Madrid leaves summer time on Sunday the 25th at 01:00 UTC. The period under test
is 20–31 October; for a Madrid viewer that is [19 Oct 22:00 UTC, 31 Oct 23:00 UTC).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from helpdesk.extensions import db
from helpdesk.models import (
    Category,
    Channel,
    Customer,
    Escalation,
    EscalationReason,
    Message,
    MessageKind,
    Priority,
    ResolutionCategory,
    ResolutionRound,
    SatisfactionRating,
    Team,
    Ticket,
    TicketStatus,
    User,
)

MADRID_START = datetime(2026, 10, 19, 22, 0, tzinfo=UTC)
MADRID_END = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
UTC_START = datetime(2026, 10, 20, tzinfo=UTC)
UTC_END = datetime(2026, 11, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class Seeder:
    """Adds raw rows (as the workflows leave them) with explicit timestamps."""

    def __init__(self, teams, categories, agents, suffix=""):
        self.teams, self.categories, self.agents = teams, categories, agents
        self.customer = Customer(email=f"informes{suffix}@example.com", name="Cliente Informes")
        self.kind = ResolutionCategory(name=f"Solucionado (informes{suffix})")
        self.reason = EscalationReason(name=f"Técnico (informes{suffix})")
        db.session.add_all([self.customer, self.kind, self.reason])
        db.session.flush()
        self.rounds = 0

    def ticket(self, created, *, team=0, category=0, agent=0, priority=Priority.NORMAL,
               channel=Channel.EMAIL, due_minutes=240, status=TicketStatus.OPEN) -> Ticket:
        t = Ticket(subject="Informe", customer_id=self.customer.id, status=status,
                   priority=priority, channel=channel, created_at=created, updated_at=created,
                   team_id=self.teams[team], category_id=self.categories[category],
                   assignee_id=self.agents[agent] if agent is not None else None,
                   first_response_due_at=created + timedelta(minutes=due_minutes)
                   if due_minutes else None)
        db.session.add(t)
        db.session.flush()
        return t

    def message(self, t, when, kind=MessageKind.REPLY, agent=0):
        db.session.add(Message(ticket_id=t.id, kind=kind, body="x", created_at=when,
                               author_id=self.agents[agent] if kind != MessageKind.CUSTOMER
                               else None))
        first = t.first_response_at
        if kind == MessageKind.REPLY and (first is None or when < first):
            t.first_response_at = when

    def resolve(self, t, when, seconds, *, agent=0, team=None, reopened=None, survey=True,
                answer=None, score=None, comment=None):
        t.status, t.resolved_at = TicketStatus.RESOLVED, when
        self.rounds += 1
        number = 1 + sum(1 for _ in db.session.query(ResolutionRound)
                         .filter_by(ticket_id=t.id))
        r = ResolutionRound(ticket_id=t.id, number=number, agent_id=self.agents[agent],
                            resolved_by_id=self.agents[agent],
                            team_id=self.teams[team] if team is not None else t.team_id,
                            category_id=t.category_id, resolution_category_id=self.kind.id,
                            closing_notes="ok", resolved_at=when, resolution_seconds=seconds,
                            confirmation_requested=answer is not None,
                            confirmation_answer=answer, reopened_at=reopened,
                            survey_sent_at=when if survey else None)
        db.session.add(r)
        db.session.flush()
        if score is not None:
            db.session.add(SatisfactionRating(
                ticket_id=t.id, round_id=r.id, agent_id=r.agent_id, team_id=r.team_id,
                resolution_category_id=self.kind.id, score=score, comment=comment,
                created_at=when + timedelta(hours=2)))
        if reopened is not None:
            t.status, t.resolved_at = TicketStatus.OPEN, None
        return r

    def escalate(self, t, when, to_team=1, agent=0):
        db.session.add(Escalation(ticket_id=t.id, reason_id=self.reason.id,
                                  from_team_id=t.team_id, from_user_id=self.agents[agent],
                                  to_team_id=self.teams[to_team], context="ctx",
                                  created_at=when))
        t.team_id = self.teams[to_team]
        t.escalation_level = 1


def seed(team_ids, category_ids, agent_ids, *, random_tickets=60, seed=7) -> dict:
    """The hard cases by name, then random tickets; returns {name: ticket id}."""
    s = Seeder(team_ids, category_ids, agent_ids)
    cases = {}
    # crosses midnight: 24 Oct in UTC, 25 Oct in Madrid; answered in 40 minutes
    t = s.ticket(at(24, 22, 30), priority=Priority.HIGH)
    s.message(t, at(24, 23, 10))
    cases["midnight"] = t
    # the DST night: created 02:30 CEST, answered "01:30" CET an hour of wall time later
    t = s.ticket(at(25, 0, 30), category=1, channel=Channel.CHAT)
    s.message(t, at(25, 1, 30), agent=1)
    s.resolve(t, at(25, 3, 0), 9000, agent=1, score=5, comment="=cmd|' /C calc'!A0")
    cases["dst"] = t
    # paused in Pendiente: wall time 2 days, net 3 hours (what the round recorded)
    t = s.ticket(at(21, 9), category=1)
    s.message(t, at(21, 10))
    s.message(t, at(21, 11), MessageKind.EVENT)
    s.resolve(t, at(23, 9), 3 * 3600, score=3, comment="Tardaron")
    cases["pending"] = t
    # reopened: two rounds, both count
    t = s.ticket(at(22, 8), priority=Priority.URGENT, due_minutes=30)
    s.message(t, at(22, 9))  # late: SLA missed
    s.resolve(t, at(22, 12), 4 * 3600, reopened=at(23, 8), answer="no")
    s.resolve(t, at(24, 12), 7 * 3600, answer="yes", score=4)
    cases["reopened"] = t
    # changed team after resolving elsewhere: the round keeps team 0, the ticket is in team 1
    t = s.ticket(at(26, 10), team=0)
    s.message(t, at(26, 10, 5), agent=1)
    s.resolve(t, at(26, 11), 3300, agent=1, team=0, score=2)
    t.team_id = team_ids[1]
    cases["changed_team"] = t
    # escalated
    t = s.ticket(at(27, 10), priority=Priority.HIGH)
    s.escalate(t, at(27, 11))
    s.message(t, at(27, 12), agent=1)
    cases["escalated"] = t
    # only an internal note: no first response
    t = s.ticket(at(28, 10))
    s.message(t, at(28, 10, 30), MessageKind.NOTE)
    cases["note_only"] = t
    # resolved without any reply
    t = s.ticket(at(29, 10), category=1)
    s.resolve(t, at(29, 18), 8 * 3600, survey=False)
    cases["no_reply"] = t
    # the edges: 19 Oct 23:59 Madrid (out for Madrid, out for UTC); 31 Oct 23:30 UTC
    # (1 Nov in Madrid: out for Madrid, in for UTC)
    cases["before"] = s.ticket(at(19, 21, 59))
    t = s.ticket(at(31, 23, 30), channel=Channel.PHONE)
    s.message(t, at(31, 23, 45))
    cases["after_madrid"] = t
    rng = random.Random(seed)
    for _ in range(random_tickets):
        created = at(15, 0) + timedelta(minutes=rng.randrange(0, 22 * 24 * 60))
        t = s.ticket(created, team=rng.randrange(2), category=rng.randrange(2),
                     agent=rng.choice((0, 1, None)), priority=rng.choice(list(Priority)),
                     channel=rng.choice(list(Channel)), due_minutes=rng.choice((None, 60, 480)))
        when = created
        for _ in range(rng.randrange(4)):
            when += timedelta(minutes=rng.randrange(5, 600))
            s.message(t, when, rng.choice((MessageKind.REPLY, MessageKind.NOTE,
                                           MessageKind.CUSTOMER)), agent=rng.randrange(2))
        if rng.random() < 0.6:
            when += timedelta(minutes=rng.randrange(5, 3000))
            s.resolve(t, when, rng.randrange(60, 200000), agent=rng.randrange(2),
                      survey=rng.random() < 0.8,
                      score=rng.choice((None, 1, 2, 3, 4, 5)), answer=rng.choice((None, "yes")))
        if rng.random() < 0.1:
            s.escalate(t, when + timedelta(minutes=1), to_team=rng.randrange(2))
    db.session.flush()
    return {name: t.id for name, t in cases.items()}


__all__ = ["seed", "Category", "Team", "User"]
