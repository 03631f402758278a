"""The reference rows a working helpdesk needs: teams, categories, SLA policies, the office
calendar, resolution categories, escalation reasons, response templates, routing rules."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ..extensions import db
from ..models import (
    BusinessCalendar,
    Category,
    EscalationReason,
    Holiday,
    ResolutionCategory,
    ResponseTemplate,
    RoutingRule,
    Setting,
    SlaPolicy,
    Team,
)
from . import copy


def ensure(model, lookup: dict, **values):
    """The row matching `lookup`, or a new one with `values` added to the session."""
    row = db.session.scalar(select(model).filter_by(**lookup))
    if row is None:
        row = model(**lookup, **values)
        db.session.add(row)
    return row


def reference(year: int) -> dict:
    """Create the missing reference rows (holidays of `year` and the next); their ids."""
    teams = {name: ensure(Team, {"name": name}, description=description, email=email,
                          strategy=strategy)
             for name, description, email, strategy in copy.TEAMS}
    categories = {code: ensure(Category, {"code": code}, name=name, description=description,
                               default_team=teams[team])
                  for code, name, team, description in copy.CATEGORIES}
    for priority, (first, resolution) in copy.SLA_TARGETS.items():
        ensure(SlaPolicy, {"priority": priority}, first_response_minutes=first,
               resolution_minutes=resolution)
    calendar = _calendar(year)
    resolutions = {name: ensure(ResolutionCategory, {"name": name}, description=text_)
                   for name, text_ in copy.RESOLUTIONS}
    reasons = {name: ensure(EscalationReason, {"name": name}, name_en=name_en, code=code,
                            description=text_)
               for name, name_en, code, text_ in copy.REASONS}
    for name, locale, code, body in copy.TEMPLATES:
        ensure(ResponseTemplate, {"name": name, "locale": locale}, category=categories[code],
               body=body)
    for spec in copy.ROUTING_RULES:
        _routing_rule(spec, teams, categories)
    db.session.flush()
    ensure(Setting, {"key": "routing.default_team_id"}, value=teams[copy.DEFAULT_TEAM].id)
    db.session.flush()
    return {
        "teams": {name: team.id for name, team in teams.items()},
        "categories": {code: category.id for code, category in categories.items()},
        "resolution_categories": {name: row.id for name, row in resolutions.items()},
        "escalation_reasons": {name: row.id for name, row in reasons.items()},
        "calendar": calendar.id,
    }


def _calendar(year: int) -> BusinessCalendar:
    calendar = ensure(BusinessCalendar, {"name": copy.CALENDAR_NAME},
                      timezone=copy.CALENDAR_TIMEZONE, hours=copy.OFFICE_HOURS)
    known = {holiday.day for holiday in calendar.holidays}
    for day in (date(y, month, d) for y in (year, year + 1) for month, d, _n in copy.HOLIDAYS):
        if day not in known:
            name = next(n for m, d, n in copy.HOLIDAYS if (m, d) == (day.month, day.day))
            calendar.holidays.append(Holiday(day=day, name=name))
    return calendar


def _routing_rule(spec: dict, teams: dict, categories: dict) -> RoutingRule:
    values = {key: value for key, value in spec.items() if key not in ("name", "team",
                                                                        "category")}
    if "category" in spec:
        values["category"] = categories[spec["category"]]
    return ensure(RoutingRule, {"name": spec["name"]}, team=teams[spec["team"]], **values)
