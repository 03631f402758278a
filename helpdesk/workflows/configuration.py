"""Configuration changes with side effects: routing rule order, enabling, the default team."""

from __future__ import annotations

from .. import queries
from ..extensions import db
from ..models import AuditEntry, RoutingRule, Setting, Team, User
from .base import audit


def move_rule(rule: RoutingRule, direction: int, *, actor: User) -> None:
    """Swap the rule with its neighbour above (-1) or below (+1) in evaluation order."""
    ordered = queries.routing_rules_ordered()
    index = ordered.index(rule)
    other = index + direction
    if not 0 <= other < len(ordered):
        return
    for position, row in enumerate(ordered, start=1):  # normalise: 10, 20, 30…
        row.position = position * 10
    neighbour = ordered[other]
    rule.position, neighbour.position = neighbour.position, rule.position
    audit(rule, actor, "update", field="position", old=neighbour.position, new=rule.position)
    db.session.flush()


def set_rules_enabled(rules_: list[RoutingRule], enabled: bool, *, actor: User) -> None:
    """Enable or disable routing rules."""
    for rule in rules_:
        if rule.enabled != enabled:
            audit(rule, actor, "update", field="enabled", old=rule.enabled, new=enabled)
            rule.enabled = enabled
    db.session.flush()


def set_default_team(team: Team | None, *, actor: User) -> None:
    """The team that gets tickets no routing rule (nor their category) places."""
    row = db.session.get(Setting, "routing.default_team_id")
    old = row.value if row else None
    new = team.id if team else None
    if old == new:
        return
    if row is None:
        row = Setting(key="routing.default_team_id")
        db.session.add(row)
    row.value = new
    db.session.add(AuditEntry(entity="settings", action="update", field="default_team",
                              old_value=None if old is None else str(old),
                              new_value=None if new is None else str(new),
                              actor_id=actor.id))
    db.session.flush()
