"""Pure rules: no app, no database."""

from datetime import UTC, datetime, timedelta

import pytest

from helpdesk import rules
from helpdesk.models import Availability, Priority, Role, SlaState, Strategy, TicketStatus

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def agent(id, *, open=0, capacity=5, availability=Availability.AVAILABLE, last=None, skills=()):
    return rules.AgentLoad(id=id, availability=availability, capacity=capacity,
                           open_tickets=open, last_assigned_at=last, skills=frozenset(skills))


@pytest.mark.parametrize(("minutes_left", "state"), [
    (120, SlaState.OK), (61, SlaState.OK), (60, SlaState.APPROACHING), (1, SlaState.APPROACHING),
    (0, SlaState.BREACHED), (-30, SlaState.BREACHED),
])
def test_sla_state_uses_the_share_of_the_target_left(minutes_left, state):
    started, due = T0, T0 + timedelta(hours=4)
    now = due - timedelta(minutes=minutes_left)
    assert rules.sla_state(now, started, due, warn_share=0.25) is state


def test_guide_first_response_targets():
    targets = rules.DEFAULT_FIRST_RESPONSE_MINUTES
    assert [targets[p] for p in Priority] == [60, 240, 1440, 2880]
    assert rules.first_response_due(T0, 60) == T0 + timedelta(hours=1)


def test_route_first_match_wins_and_explains_misses():
    specs = [
        rules.RuleSpec(id=1, name="Urgentes por teléfono", team_id=10, channel="phone"),
        rules.RuleSpec(id=2, name="Reembolsos", team_id=20, keywords=("reembolso",),
                       priority_override=Priority.HIGH),
        rules.RuleSpec(id=3, name="Todo", team_id=30),
    ]
    facts = rules.TicketFacts(category_id=1, priority=Priority.NORMAL, channel="email",
                              text="Quiero un REEMBOLSO del cargo")
    decision = rules.route(facts, specs, default_team_id=99)
    assert (decision.team_id, decision.rule_id, decision.priority) == (20, 2, Priority.HIGH)
    assert decision.misses == ((1, "channel"),)


def test_route_falls_back_to_default_team():
    specs = [rules.RuleSpec(id=1, name="Premium", team_id=10, plan="Premium")]
    facts = rules.TicketFacts(category_id=None, priority=Priority.LOW, channel="web",
                              plan="Básico")
    decision = rules.route(facts, specs, default_team_id=99)
    assert (decision.team_id, decision.rule_id, decision.misses) == (99, None, ((1, "plan"),))


def test_parse_keywords():
    assert rules.parse_keywords(" Reembolso, cargo duplicado\n,  ,factura") == (
        "reembolso", "cargo duplicado", "factura")
    assert rules.parse_keywords(None) == ()


def test_least_loaded_then_least_recent():
    agents = [agent(1, open=3), agent(2, open=1, last=T0), agent(3, open=1, last=T0 - timedelta(1))]
    assert rules.pick_agent(agents, Strategy.LEAST_LOADED, None) == 3


def test_round_robin_takes_least_recently_assigned():
    agents = [agent(1, open=0, last=T0), agent(2, open=4, last=T0 - timedelta(hours=1)),
              agent(3, open=0, last=None)]
    assert rules.pick_agent(agents, Strategy.ROUND_ROBIN, None) == 3


def test_only_available_agents_below_capacity_with_the_skill():
    agents = [
        agent(1, availability=Availability.AWAY),
        agent(2, open=5, capacity=5),
        agent(3, skills={7}),
        agent(4, availability=Availability.OFFLINE),
    ]
    assert rules.pick_agent(agents, Strategy.LEAST_LOADED, category_id=8) is None
    assert rules.pick_agent(agents, Strategy.LEAST_LOADED, category_id=7) == 3


@pytest.mark.parametrize(("old", "new", "ok"), [
    (TicketStatus.NEW, TicketStatus.OPEN, False),  # taking or replying opens it
    (TicketStatus.NEW, TicketStatus.RESOLVED, False),  # Resuelto only through Resolver
    (TicketStatus.OPEN, TicketStatus.RESOLVED, False),
    (TicketStatus.OPEN, TicketStatus.PENDING, True),
    (TicketStatus.PENDING, TicketStatus.OPEN, True),
    (TicketStatus.RESOLVED, TicketStatus.OPEN, True),
    (TicketStatus.RESOLVED, TicketStatus.PENDING, False),
    (TicketStatus.OPEN, TicketStatus.NEW, False),
])
def test_transitions(old, new, ok):
    assert rules.can_transition(old, new) is ok


def test_assignment_moves_status():
    assert rules.status_after_assignment(TicketStatus.NEW, True) is TicketStatus.OPEN
    assert rules.status_after_assignment(TicketStatus.OPEN, False) is TicketStatus.NEW
    assert rules.status_after_assignment(TicketStatus.PENDING, True) is TicketStatus.PENDING


def test_status_choices_and_reply_status():
    assert rules.status_choices(TicketStatus.OPEN) == [TicketStatus.PENDING]
    assert rules.status_choices(TicketStatus.RESOLVED) == [TicketStatus.OPEN]
    assert rules.status_after_reply(TicketStatus.NEW, None) is TicketStatus.PENDING
    assert rules.status_after_reply(TicketStatus.OPEN, TicketStatus.OPEN) is TicketStatus.OPEN
    assert rules.status_after_reply(TicketStatus.OPEN, TicketStatus.RESOLVED) is \
        TicketStatus.PENDING


def test_only_moves_that_change_the_clock_need_new_deadlines():
    assert rules.same_clock(TicketStatus.NEW, TicketStatus.OPEN)
    assert rules.same_clock(TicketStatus.PENDING, TicketStatus.PENDING)
    for status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
        assert not rules.same_clock(TicketStatus.OPEN, status)
        assert not rules.same_clock(status, TicketStatus.NEW)
    created = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # and indeed: new and open run alike
    due = {status: rules.active_due(status, None, created + timedelta(hours=1), None)
           for status in (TicketStatus.NEW, TicketStatus.OPEN)}
    assert due[TicketStatus.NEW] == due[TicketStatus.OPEN] == created + timedelta(hours=1)


def test_who_may_resolve():
    def refusal(role, *, team=1, assignee=None, status=TicketStatus.OPEN):
        return rules.resolve_refusal(role, [1], actor_id=7, team_id=team, assignee_id=assignee,
                                     status=status)

    assert refusal(Role.AGENT) is None  # a ticket of their team
    assert refusal(Role.AGENT, team=2, assignee=7) is None  # their own, elsewhere
    assert refusal(Role.AGENT, team=2) == rules.NOT_YOUR_TEAM
    assert refusal(Role.SUPERVISOR, team=2) is None and refusal(Role.ADMIN, team=None) is None
    assert refusal(Role.ADMIN, status=TicketStatus.RESOLVED) == rules.RESOLVED
    assert not rules.may_bulk_resolve(Role.AGENT) and rules.may_bulk_resolve(Role.SUPERVISOR)


def test_closure_rules():
    assert rules.asks_confirmation("email") and rules.asks_confirmation("web")
    assert not rules.asks_confirmation("phone")
    assert rules.resolution_fits(None, 3) and rules.resolution_fits(3, 3)
    assert not rules.resolution_fits(4, 3) and not rules.resolution_fits(4, None)
    resolved = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert rules.may_reopen(resolved, resolved + timedelta(days=7), 7)
    assert not rules.may_reopen(resolved, resolved + timedelta(days=7, seconds=1), 7)
    t = [resolved + timedelta(hours=h) for h in range(6)]
    spans = [(TicketStatus.NEW, t[0], t[1]), (TicketStatus.PENDING, t[1], t[3]),
             (TicketStatus.OPEN, t[3], t[4]), (TicketStatus.RESOLVED, t[4], t[5])]
    assert rules.net_resolution_seconds(spans) == 2 * 3600  # Pendiente and Resuelto not counted
    assert rules.link_refusal(latest_round_id=2, round_id=1, answered=False,
                              ticket_resolved=True) == rules.LINK_SUPERSEDED
    assert rules.link_refusal(latest_round_id=1, round_id=1, answered=True,
                              ticket_resolved=True) == rules.LINK_USED
    assert rules.link_refusal(latest_round_id=1, round_id=1, answered=False,
                              ticket_resolved=False) == rules.LINK_CLOSED
    assert rules.link_refusal(latest_round_id=1, round_id=1, answered=False,
                              ticket_resolved=True) is None
    assert rules.survey_refusal(rated=True, voided=False) == rules.LINK_USED
    assert rules.survey_refusal(rated=False, voided=True) == rules.LINK_SUPERSEDED
    assert rules.survey_refusal(rated=False, voided=False) is None
