"""Pure helpdesk logic: routing match, agent choice, SLA arithmetic, status transitions.

Data in, data out: no session, no Flask, and the clock is always a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .enums import Priority, Role, SlaState, TicketStatus
from .hours import (  # noqa: F401  (re-exported: the SLA code asks rules for calendars)
    MAX_CALENDAR_DAYS,
    Calendar,
    add_business_time,
    business_time_between,
    format_hours,
    parse_hours,
    resume_due,
)
from .routing_rules import (  # noqa: F401  (re-exported: routing and assignment rules)
    BREACH_DIGEST_AFTER,
    AgentLoad,
    BreachNotice,
    RoutingDecision,
    RuleSpec,
    TicketFacts,
    breach_notices,
    fold,
    has_capacity,
    is_eligible,
    parse_keywords,
    pick_agent,
    rank_agents,
    route,
    rule_miss,
)

#: The guide's first-response targets, in minutes.
DEFAULT_FIRST_RESPONSE_MINUTES = {
    Priority.URGENT: 60,
    Priority.HIGH: 4 * 60,
    Priority.NORMAL: 24 * 60,
    Priority.LOW: 48 * 60,
}
#: A deadline turns amber at the latest this many minutes before it (a policy may change it).
DEFAULT_WARN_MINUTES = 30

#: Status moves a person may make from the status menu. A new ticket opens when someone takes
#: it or replies; replies choose between Pendiente and Abierto (REPLY_STATUSES). Resuelto is
#: never a bare switch: only *Resolver* (workflows.resolve_ticket, see `resolve_refusal`).
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset(),
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.OPEN}),
}
REPLY_STATUSES = (TicketStatus.PENDING, TicketStatus.OPEN)


def utcnow() -> datetime:
    """Aware UTC now, for callers to pass in as the clock."""
    return datetime.now(UTC)


MAX_ID = 2**31 - 1


def parse_id(value) -> int | None:
    """A row id from user input: ASCII digits within the database's integer range, else None."""
    text = str(value if value is not None else "").strip().lstrip("#")
    if not text or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


# --- Status -------------------------------------------------------------------------------------


def can_transition(old: TicketStatus, new: TicketStatus) -> bool:
    """Whether a ticket may move from `old` to `new`."""
    return new in TRANSITIONS[old]


def status_choices(status: TicketStatus) -> list[TicketStatus]:
    """The statuses the status menu offers for a ticket in `status`, in queue order."""
    return [s for s in TicketStatus if s in TRANSITIONS[status]]


def status_after_reply(status: TicketStatus, wanted: TicketStatus | None) -> TicketStatus:
    """A reply waits for the customer (Pendiente) unless the agent keeps it Abierto."""
    return wanted if wanted in REPLY_STATUSES else TicketStatus.PENDING


def can_reassign(status: TicketStatus) -> bool:
    """Resolved tickets keep their assignee; reopen first."""
    return status is not TicketStatus.RESOLVED


# --- Who may do what ------------------------------------------------------------------------------
# One answer each, asked by the view that shows the button and by the workflow that acts.

#: Why a take is refused (`take_refusal`); the workflow turns each into its message.
TAKEN, RESOLVED, NOT_YOUR_TEAM, NOT_A_SUPERVISOR = "taken", "resolved", "team", "role"


def take_refusal(role: Role, team_ids: Iterable[int], *, team_id: int | None,
                 assignee_id: int | None, status: TicketStatus) -> str | None:
    """Why this person may not take the ticket, or None if they may. Anyone takes an
    unassigned, unresolved ticket; an agent only from one of their teams (an unrouted ticket
    is routing's to place, not the first agent's who sees it)."""
    if assignee_id is not None:
        return TAKEN
    if status is TicketStatus.RESOLVED:
        return RESOLVED
    if role < Role.SUPERVISOR and (team_id is None or team_id not in set(team_ids)):
        return NOT_YOUR_TEAM
    return None


def may_take(role: Role, team_ids: Iterable[int], *, team_id: int | None,
             assignee_id: int | None, status: TicketStatus) -> bool:
    """Whether *Tomar* is offered (and accepted): see `take_refusal`."""
    return take_refusal(role, team_ids, team_id=team_id, assignee_id=assignee_id,
                        status=status) is None


def reassign_refusal(role: Role, status: TicketStatus) -> str | None:
    """Why this person may not reassign the ticket, or None: supervisors and admins move
    unresolved tickets."""
    if role < Role.SUPERVISOR:
        return NOT_A_SUPERVISOR
    return None if can_reassign(status) else RESOLVED


def may_reassign(role: Role, status: TicketStatus | None = None) -> bool:
    """Whether *Reasignar* is offered (and accepted); without a status, for some ticket (the
    queue's bulk action)."""
    if status is None:
        return role >= Role.SUPERVISOR
    return reassign_refusal(role, status) is None


#: Why an assignment past the agent's capacity is refused (`capacity_refusal`): agents never
#: go past it; supervisors and admins may, knowingly, with a reason (audited).
FULL, NEEDS_REASON = "full", "needs_reason"
OVER_CAPACITY_REASON_MAX = 500


def may_exceed_capacity(role: Role | None) -> bool:
    """Whether this person may assign a ticket to an agent already at capacity (with a reason):
    supervisors and admins; agents and the system (automatic assignment) never."""
    return role is not None and role >= Role.SUPERVISOR


def capacity_refusal(role: Role | None, *, open_tickets: int, capacity: int,
                     reason: str | None) -> str | None:
    """Why one more ticket may not go to an agent holding `open_tickets` of `capacity`, or
    None: there is room; or a supervisor gives a reason to go past it. The reassign dialog
    asks it to show "al límite" and the reason box; the assignment workflow to act."""
    if has_capacity(open_tickets, capacity):
        return None
    if not may_exceed_capacity(role):
        return FULL
    return None if (reason or "").strip() else NEEDS_REASON


#: Why an escalation is refused (`escalate_refusal`, `escalation_target_refusal`,
#: `deescalate_refusal`); the escalation workflow turns each into its message.
NO_TARGET, INACTIVE_TEAM, NOT_TEAM_SUPERVISOR, SAME_TEAM, TARGET_NOT_ALLOWED, NOT_ESCALATED = (
    "no_target", "inactive_team", "not_team_supervisor", "same_team", "target_not_allowed",
    "not_escalated")

#: An escalation's context: at least a sentence, at most a few thousand characters.
ESCALATION_CONTEXT_MIN, ESCALATION_CONTEXT_MAX = 20, 4000


def _open_and_yours_refusal(role: Role, team_ids: Iterable[int], *, actor_id: int,
                            team_id: int | None, assignee_id: int | None,
                            status: TicketStatus) -> str | None:
    """The rule *Escalar* and *Resolver* share: not once resolved; an agent only a ticket of
    one of their teams or their own; supervisors and admins any."""
    if status is TicketStatus.RESOLVED:
        return RESOLVED
    if role < Role.SUPERVISOR and assignee_id != actor_id \
            and (team_id is None or team_id not in set(team_ids)):
        return NOT_YOUR_TEAM
    return None


def escalate_refusal(role: Role, team_ids: Iterable[int], *, actor_id: int, team_id: int | None,
                     assignee_id: int | None, status: TicketStatus) -> str | None:
    """Why this person may not escalate the ticket, or None if they may: not once resolved;
    an agent only a ticket of one of their teams or their own."""
    return _open_and_yours_refusal(role, team_ids, actor_id=actor_id, team_id=team_id,
                                   assignee_id=assignee_id, status=status)


def may_escalate(role: Role, team_ids: Iterable[int], *, actor_id: int, team_id: int | None,
                 assignee_id: int | None, status: TicketStatus) -> bool:
    """Whether *Escalar* is offered (and accepted): see `escalate_refusal`."""
    return escalate_refusal(role, team_ids, actor_id=actor_id, team_id=team_id,
                            assignee_id=assignee_id, status=status) is None


def escalation_target_refusal(role: Role | None, *, from_team_id: int | None,
                              to_team_id: int | None, to_team_active: bool,
                              to_user_id: int | None, to_user_supervises: bool,
                              allowed_team_ids: Iterable[int] = (),
                              automatic: bool = False) -> str | None:
    """Why the ticket may not go to this team (and person), or None: the team must be active;
    a chosen person must supervise it; the same team needs a person (unless `automatic`: the
    SLA policy's escalation to the team's own supervisors); an agent (`role`; None is the
    system) only to the teams the ticket's team allows (`allowed_team_ids`, none: any)."""
    if to_team_id is None:
        return NO_TARGET
    if not to_team_active:
        return INACTIVE_TEAM
    if to_user_id is not None and not to_user_supervises:
        return NOT_TEAM_SUPERVISOR
    if to_team_id == from_team_id and to_user_id is None and not automatic:
        return SAME_TEAM
    allowed = set(allowed_team_ids)
    if role is not None and role < Role.SUPERVISOR and allowed and to_team_id not in allowed:
        return TARGET_NOT_ALLOWED
    return None


def deescalate_refusal(role: Role, status: TicketStatus, *, escalated: bool,
                       from_team_active: bool) -> str | None:
    """Why this person may not send the ticket back to the team it came from, or None:
    supervisors and admins, an unresolved ticket whose last escalation stands, a team still
    active."""
    if role < Role.SUPERVISOR:
        return NOT_A_SUPERVISOR
    if status is TicketStatus.RESOLVED:
        return RESOLVED
    if not escalated:
        return NOT_ESCALATED
    return None if from_team_active else INACTIVE_TEAM


def resolve_refusal(role: Role, team_ids: Iterable[int], *, actor_id: int, team_id: int | None,
                    assignee_id: int | None, status: TicketStatus) -> str | None:
    """Why this person may not resolve the ticket (*Resolver*), or None if they may: not twice;
    an agent only a ticket of one of their teams or their own; supervisors and admins any."""
    return _open_and_yours_refusal(role, team_ids, actor_id=actor_id, team_id=team_id,
                                   assignee_id=assignee_id, status=status)


def may_resolve(role: Role, team_ids: Iterable[int], *, actor_id: int, team_id: int | None,
                assignee_id: int | None, status: TicketStatus) -> bool:
    """Whether *Resolver* is offered (and accepted): see `resolve_refusal`."""
    return resolve_refusal(role, team_ids, actor_id=actor_id, team_id=team_id,
                           assignee_id=assignee_id, status=status) is None


#: Why a merge or a link is refused (`merge_refusal`, `ticket_link_refusal`).
SAME_TICKET, ALREADY_MERGED, OTHER_CUSTOMER, ALREADY_LINKED, NOTHING_TO_MERGE = (
    "same_ticket", "already_merged", "other_customer", "already_linked", "nothing")


@dataclass(frozen=True)
class MergeSide:
    """One ticket of a merge as the rule sees it."""

    id: int
    customer_id: int
    team_id: int | None
    assignee_id: int | None
    status: TicketStatus
    merged: bool = False


def edit_refusal(role: Role, team_ids: Iterable[int], *, actor_id: int, team_id: int | None,
                 assignee_id: int | None, status: TicketStatus) -> str | None:
    """Why this person may not change the ticket's substance (merge it, merge into it), or
    None: as *Escalar* and *Resolver* — not once resolved; an agent only a ticket of one of
    their teams or their own; supervisors and admins any."""
    return _open_and_yours_refusal(role, team_ids, actor_id=actor_id, team_id=team_id,
                                   assignee_id=assignee_id, status=status)


def merge_refusal(role: Role, team_ids: Iterable[int], *, actor_id: int, survivor: MergeSide,
                  merged: Sequence[MergeSide],
                  cross_customer_confirmed: bool) -> tuple[str, int] | None:
    """Why these tickets may not be merged into `survivor`, and which ticket it is about, or
    None: who may merge is who may edit every ticket involved (`edit_refusal`); a ticket
    merges once, never into itself; tickets of other customers only when confirmed."""
    if not merged:
        return NOTHING_TO_MERGE, survivor.id
    team_ids = set(team_ids)
    for side in (survivor, *merged):
        if side is not survivor and side.id == survivor.id:
            return SAME_TICKET, side.id
        if side.merged:
            return ALREADY_MERGED, side.id
        refusal = edit_refusal(role, team_ids, actor_id=actor_id, team_id=side.team_id,
                               assignee_id=side.assignee_id, status=side.status)
        if refusal is not None:
            return refusal, side.id
    if not cross_customer_confirmed:
        other = next((s for s in merged if s.customer_id != survivor.customer_id), None)
        if other is not None:
            return OTHER_CUSTOMER, other.id
    return None


def merged_clock(facts: Iterable[tuple[datetime, datetime | None]]
                 ) -> tuple[datetime, datetime | None]:
    """(started, first answered) of a merged thread, from each ticket's (created, first public
    staff reply): the customer has waited since they first asked, and was first answered by
    the earliest reply any of the tickets got — what the survivor's SLA clock and the reports
    (which read the thread's first staff reply) must both say."""
    facts = list(facts)
    answered = [at for _created, at in facts if at is not None]
    return min(created for created, _at in facts), min(answered) if answered else None


def may_merge(role: Role, team_ids: Iterable[int], *, actor_id: int, team_id: int | None,
              assignee_id: int | None, status: TicketStatus, merged: bool) -> bool:
    """Whether *Fusionar* is offered on this ticket: it could take part in a merge (the other
    tickets are checked when chosen, by `merge_refusal`)."""
    return not merged and edit_refusal(role, team_ids, actor_id=actor_id, team_id=team_id,
                                       assignee_id=assignee_id, status=status) is None


def ticket_link_refusal(ticket_id: int, other_id: int, *, linked: bool) -> str | None:
    """Why two tickets may not be linked, or None: whoever may open both links them, once,
    never a ticket to itself."""
    if ticket_id == other_id:
        return SAME_TICKET
    return ALREADY_LINKED if linked else None


def macro_refusal(status: TicketStatus, wanted: TicketStatus | None, *,
                  with_reply: bool) -> str | None:
    """Why a macro may not set `wanted` on a ticket in `status`, or None: with a reply, the
    reply's statuses (Pendiente, Abierto); without, an allowed transition (or no change);
    never on a resolved ticket (reopen it first)."""
    if status is TicketStatus.RESOLVED:
        return RESOLVED
    if wanted is None or wanted is status:
        return None
    if with_reply:
        return None if wanted in REPLY_STATUSES else "transition"
    return None if can_transition(status, wanted) else "transition"


def may_bulk_resolve(role: Role) -> bool:
    """The queue's bulk *Resolver* is the supervisors' (and admins')."""
    return role >= Role.SUPERVISOR


#: Closing notes and a survey comment: at most this many characters.
CLOSING_NOTES_MAX, SURVEY_COMMENT_MAX = 4000, 2000
#: The survey's scale, and the scores that tell the team's supervisors.
SCORES, LOW_SCORE = range(1, 6), 2
#: Why a customer's answer is refused (`link_refusal`).
LINK_USED, LINK_SUPERSEDED, LINK_CLOSED = "used", "superseded", "closed"


def asks_confirmation(channel: str) -> bool:
    """*Pedir confirmación al cliente* is on by default for tickets that came by e-mail or the
    web form (the customer has an address we write to), off for the phone and the rest."""
    return channel in ("email", "web")


def resolution_fits(fits_category_id: int | None, ticket_category_id: int | None) -> bool:
    """A resolution category fits a ticket when it names no category or the ticket's."""
    return fits_category_id is None or fits_category_id == ticket_category_id


def may_reopen(resolved_at: datetime, now: datetime, window_days: int) -> bool:
    """Whether the customer may still reopen a ticket resolved at `resolved_at` (else their
    answer or message opens a new ticket that links to it)."""
    return now - resolved_at <= timedelta(days=window_days)


def net_resolution_seconds(spans: Iterable[tuple[TicketStatus, datetime, datetime]]) -> int:
    """Seconds a ticket was being worked: its (status, from, to) spans, minus the time it
    waited for the customer (Pendiente) or stood resolved before a reopen."""
    return int(sum((end - start).total_seconds() for status, start, end in spans
                   if status not in (TicketStatus.PENDING, TicketStatus.RESOLVED)
                   and end > start))


def link_refusal(*, latest_round_id: int | None, round_id: int, answered: bool,
                 ticket_resolved: bool) -> str | None:
    """Why a customer's confirmation or reopen link no longer acts, or None: a link of an
    earlier resolution never acts on a later one; each answers once; only while the ticket
    stands resolved."""
    if latest_round_id != round_id:
        return LINK_SUPERSEDED
    if answered:
        return LINK_USED
    return None if ticket_resolved else LINK_CLOSED


def survey_refusal(*, rated: bool, voided: bool) -> str | None:
    """Why a survey link no longer records, or None: one answer per round; a reopen voids an
    unanswered survey."""
    if rated:
        return LINK_USED
    return LINK_SUPERSEDED if voided else None


def raised_priorities(priority: Priority) -> list[Priority]:
    """The priorities an escalation may raise a ticket to: those above its own."""
    order = list(Priority)  # urgent first
    return order[:order.index(priority)]


def sees_escalation(viewer_id: int, viewer_team_ids: Iterable[int], *, to_user_id: int | None,
                    to_team_id: int | None, assignee_id: int | None, automatic: bool,
                    supervised_team_ids: Iterable[int] = ()) -> bool:
    """Whether the viewer is who an escalation is for (the banner is theirs): the person chosen;
    for an automatic one the team's supervisors; else whoever now holds the ticket; unassigned,
    the target team."""
    if to_user_id is not None:
        return viewer_id == to_user_id
    if automatic:
        return to_team_id in set(supervised_team_ids)
    if assignee_id is not None:
        return viewer_id == assignee_id
    return to_team_id in set(viewer_team_ids) | set(supervised_team_ids)


def may_set_availability(role: Role, *, is_self: bool, supervised_team_ids: Iterable[int] = (),
                         member_team_ids: Iterable[int] = ()) -> bool:
    """Everyone sets their own availability; admins anyone's; a supervisor the members of the
    teams they supervise (`supervised_team_ids`: the actor's; `member_team_ids`: the
    person's teams) — whatever that person's role."""
    if is_self or role is Role.ADMIN:
        return True
    return role >= Role.SUPERVISOR and not set(supervised_team_ids).isdisjoint(member_team_ids)


def may_edit_customers(role: Role) -> bool:
    """Customer records (their e-mail above all) are edited by supervisors and admins; agents
    read them."""
    return role >= Role.SUPERVISOR


def status_after_assignment(status: TicketStatus, has_agent: bool) -> TicketStatus:
    """A new ticket opens when someone gets it; an open one goes back to new when released."""
    if status is TicketStatus.NEW and has_agent:
        return TicketStatus.OPEN
    if status is TicketStatus.OPEN and not has_agent:
        return TicketStatus.NEW
    return status


# --- SLA ----------------------------------------------------------------------------------------


def due_in(now: datetime, due: datetime | None) -> timedelta | None:
    """Time left before `due` (negative once it has passed); None without a deadline."""
    return None if due is None else due - now


def active_due(status: TicketStatus, first_response_at: datetime | None,
               first_due: datetime | None, resolution_due: datetime | None) -> datetime | None:
    """The deadline the queue sorts by: first response until answered, then resolution
    (paused while the ticket waits for the customer); none once resolved."""
    if status is TicketStatus.RESOLVED:
        return None
    if first_response_at is None:
        return first_due
    return None if status is TicketStatus.PENDING else resolution_due


def same_clock(old: TicketStatus, new: TicketStatus) -> bool:
    """Whether the SLA clock reads the same under both statuses (`active_due` treats new and
    open alike), so a move between them needs no new deadlines."""
    running = (TicketStatus.NEW, TicketStatus.OPEN)
    return old is new or (old in running and new in running)


@dataclass(frozen=True)
class SlaTargets:
    """One priority's SLA policy, as the clock needs it."""

    first_minutes: int
    resolution_minutes: int | None
    calendar: Calendar | None
    warn_minutes: int | None

    def __iter__(self):  # (first, resolution, calendar), as callers unpack it
        return iter((self.first_minutes, self.resolution_minutes, self.calendar))


@dataclass(frozen=True)
class SlaClock:
    """A ticket's deadlines: both targets, the one running now, and when it turns amber."""

    first_due: datetime
    resolution_due: datetime | None
    running_due: datetime | None
    warn_at: datetime | None


def sla_clock(*, status: TicketStatus, created: datetime, answered: bool, first_minutes: int,
              resolution_minutes: int | None, paused_minutes: float, warn_share: float,
              calendar: Calendar | None, warn_minutes: int | None = None) -> SlaClock:
    """Deadlines counted from creation in business time; a resolution target also moves by the
    time spent waiting for the customer. `warn_at` is whichever comes first: `warn_share` of
    the target left, or `warn_minutes` left (the policy's floor: 25 % of *Urgente*'s hour is
    only 15 minutes, too late to act on)."""
    first_due = add_business_time(created, first_minutes, calendar)
    resolution_due = None
    if resolution_minutes:
        resolution_due = add_business_time(created, resolution_minutes + paused_minutes,
                                           calendar)
    running = active_due(status, created if answered else None, first_due, resolution_due)
    warn = None
    if running is not None:
        target = first_minutes if not answered else resolution_minutes
        extra = 0 if not answered else paused_minutes
        warn = add_business_time(created, extra + warn_after(target, warn_share, warn_minutes),
                                 calendar)
    return SlaClock(first_due, resolution_due, running, warn)


def warn_after(target_minutes: float, warn_share: float, warn_minutes: int | None) -> float:
    """Minutes into a target when it turns amber: the earlier of `warn_share` of it left and
    `warn_minutes` left (never before the start)."""
    lead = max(target_minutes * warn_share, warn_minutes or 0)
    return max(0.0, target_minutes - lead)


def sla_state_at(now: datetime, warn_at: datetime | None, due: datetime | None) -> SlaState:
    """The state the sweep would set right now (ok when no deadline is running)."""
    if due is None or warn_at is None:
        return SlaState.OK
    if now >= due:
        return SlaState.BREACHED
    return SlaState.APPROACHING if now >= warn_at else SlaState.OK


def first_response_due(created: datetime, target_minutes: int) -> datetime:
    """Deadline of the first response, counting wall-clock time."""
    return created + timedelta(minutes=target_minutes)


def sla_state(now: datetime, started: datetime, due: datetime,
              warn_share: float = 0.25) -> SlaState:
    """Classify a deadline: breached, approaching (at most warn_share of it left) or ok."""
    if now >= due:
        return SlaState.BREACHED
    total = due - started
    if total.total_seconds() <= 0 or (due - now) / total <= warn_share:
        return SlaState.APPROACHING
    return SlaState.OK
