"""Report aggregates, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..extensions import db
from ..models import Category, Priority, SatisfactionRating, Ticket, User
from .base import OPEN_STATES


class epoch(FunctionElement):
    """Seconds since 1970 of a timestamp column, on SQLite and PostgreSQL alike."""

    type = Float()
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element, compiler, **kw):
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"(julianday({compiler.process(element.clauses, **kw)}) * 86400.0)"


def report_first_response(since: datetime) -> list:
    """Per priority: tickets answered since `since` and their mean first-response seconds."""
    delay = epoch(Ticket.first_response_at) - epoch(Ticket.created_at)
    stmt = (
        select(Ticket.priority, func.count(), func.avg(delay))
        .where(Ticket.created_at >= since, Ticket.first_response_at.is_not(None))
        .group_by(Ticket.priority)
    )
    order = list(Priority)
    return sorted(db.session.execute(stmt).all(), key=lambda r: order.index(r[0]))


def report_resolution_by_category(since: datetime) -> list:
    """Per category: tickets resolved since `since` and their mean resolution seconds."""
    delay = epoch(Ticket.resolved_at) - epoch(Ticket.created_at)
    stmt = (
        select(Category.name, func.count(), func.avg(delay))
        .join(Category, Category.id == Ticket.category_id)
        .where(Ticket.resolved_at >= since)
        .group_by(Category.name)
        .order_by(Category.name)
    )
    return db.session.execute(stmt).all()


def report_satisfaction(since: datetime) -> tuple[int, float | None]:
    """How many ratings since `since` and their mean score."""
    stmt = select(func.count(), func.avg(SatisfactionRating.score)).where(
        SatisfactionRating.created_at >= since
    )
    return tuple(db.session.execute(stmt).one())


def report_agent_productivity(since: datetime) -> list:
    """Per active agent: tickets resolved since `since` and tickets open now."""
    resolved = func.sum(case((Ticket.resolved_at >= since, 1), else_=0))
    open_now = func.sum(case((Ticket.status.in_(OPEN_STATES), 1), else_=0))
    stmt = (
        select(User.name, func.coalesce(resolved, 0), func.coalesce(open_now, 0))
        .outerjoin(Ticket, Ticket.assignee_id == User.id)
        .where(User.active.is_(True))
        .group_by(User.id, User.name)
        .order_by(func.coalesce(resolved, 0).desc(), User.name)
    )
    return db.session.execute(stmt).all()
