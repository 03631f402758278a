"""The demo's entry points: load the reference rows, or the whole dataset into an empty database."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from .. import rules, workflows
from ..errors import DomainError
from ..extensions import db
from ..models import Role, User
from . import copy
from .bulk import reset_sequences
from .people import seed_customers, seed_staff
from .plan import make_plan
from .reference import reference
from .reports import fill as fill_reports
from .tickets import seed_tickets

DEMO_LOGINS = ("admin@demo.bayit", "supervisor@demo.bayit", "agente1@demo.bayit",
               "agente2@demo.bayit")
DEMO_PASSWORD = "demo"


def has_data() -> bool:
    """True if any staff account exists (the demo loads only into an empty database)."""
    return db.session.scalar(select(User.id).limit(1)) is not None


def seed_reference(now: datetime | None = None) -> dict:
    """Create the reference rows a working helpdesk needs (missing ones only); commits; ids."""
    with workflows.atomic():
        return reference((now or rules.utcnow()).year)


def seed(tickets: int = 2000, seed: int = 42, progress: bool = False, *,
         now: datetime | None = None) -> dict:
    """Load the demo dataset into an empty database, in one transaction; counts and seconds."""
    started = time.perf_counter()
    if has_data():
        raise DomainError(_("La base de datos ya tiene datos; la demo necesita una base vacía."))
    now = (now or rules.utcnow()).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    with workflows.atomic():
        ref = reference(now.year)
        staff = seed_staff(now, DEMO_PASSWORD)
        plan = make_plan(rng, now, ref, staff)
        seed_customers(plan, max(50, tickets // 4))
        messages = seed_tickets(plan, tickets, progress)
        for user in staff:
            user.last_assigned_at = plan.last_assigned.get(user.id)
        db.session.flush()
        reset_sequences()
    fill_reports(now)
    with db.engine.begin() as conn:  # planner statistics: the queue's plans depend on them
        conn.exec_driver_sql("ANALYZE")
    return {"tickets": tickets, "customers": len(plan.customers),
            "agents": sum(spec.role is Role.AGENT for spec in copy.STAFF),
            "seconds": round(time.perf_counter() - started, 2), "messages": messages}
