"""Demo people: the staff accounts, and customers with their account history."""

from __future__ import annotations

import random
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select

from .. import workflows
from ..extensions import db
from ..models import AccountEvent, Category, Customer, Team, User
from . import copy
from .bulk import insert_rows
from .plan import (
    PICK_BILLING,
    PICK_COUNTRY,
    PICK_EVENT,
    PICK_PLAN,
    PICK_SUBSCRIPTION,
    Cust,
    Plan,
)

DAY = 86_400


def seed_staff(now: datetime, password: str) -> list[User]:
    """The staff of copy.STAFF (teams, skills, supervised teams), one password for all."""
    password_hash = workflows.hash_password(password)  # scrypt is slow: hash once
    teams = {team.name: team for team in db.session.scalars(select(Team))}
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    since = now - timedelta(days=400)
    users = [
        User(email=spec.email, name=spec.name, role=spec.role, active=True, locale=spec.locale,
             timezone=spec.timezone, availability=spec.availability, capacity=spec.capacity,
             password_hash=password_hash, teams=[teams[name] for name in spec.teams],
             skills=[categories[code] for code in spec.skills], created_at=since,
             updated_at=since)
        for spec in copy.STAFF
    ]
    for user, spec in zip(users, copy.STAFF, strict=True):
        user.supervised_teams = [teams[name] for name in spec.supervises]
    db.session.add_all(users)
    db.session.flush()
    return users


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "")


ASCII_NAMES = {name: _ascii(name) for name in copy.FIRST_NAMES + copy.SURNAMES}


def _money(amount: float, country: str) -> str:
    if country == "ES":
        return f"{amount:.2f} €".replace(".", ",")
    return f"US$ {amount:.2f}"


def seed_customers(plan: Plan, count: int) -> None:
    """Insert `count` customers and their account events; remember them in the plan."""
    customers, events = [], []
    for _i in range(count):
        row = _customer_row(plan)
        customers.append(row)
        events.extend(_account_events(plan, row))
    insert_rows(Customer, customers)
    events.sort(key=lambda event: event["occurred_at"])
    for event in events:
        event["id"] = next(plan.ids["account_events"])
    insert_rows(AccountEvent, events)


def _customer_row(plan: Plan) -> dict:
    rng, now = plan.rng, plan.now
    cid = next(plan.ids["customers"])
    first, last = rng.choice(copy.FIRST_NAMES), rng.choice(copy.SURNAMES)
    name = (f"{first} {last} {rng.choice(copy.SURNAMES)}" if rng.random() < 0.4
            else f"{first} {last}")
    country = PICK_COUNTRY(rng)
    locale = "en" if rng.random() < copy.EN_SHARE.get(country, 0.0) else "es"
    subscription = PICK_SUBSCRIPTION(rng)
    billing = PICK_BILLING(rng)
    if subscription == "suspendida":
        billing = rng.choice(("tarjeta_rechazada", "pago_pendiente"))
    days = rng.randint(1, 28) if subscription == "en_prueba" else rng.randint(30, 2400)
    joined = now - timedelta(days=days, seconds=rng.randrange(DAY))
    devices = rng.sample(copy.DEVICES, rng.choice((1, 1, 2, 2, 2, 3, 4)))
    plan_name = PICK_PLAN(rng)
    plan.customers.append(Cust(cid, first, name, locale, plan_name, country, tuple(devices),
                               _money(copy.PRICES[plan_name], country)))
    return {
        "id": cid, "name": name, "locale": locale, "country": country, "plan": plan_name,
        "email": f"{ASCII_NAMES[first]}.{ASCII_NAMES[last]}{cid}@"
                 f"{rng.choice(copy.MAIL_DOMAINS)}",
        "phone": f"{copy.PHONE_PREFIX[country]}{rng.randrange(10_000_000, 100_000_000)}",
        "subscription_state": subscription, "billing_state": billing, "devices": devices,
        "member_since": joined.date(), "created_at": joined, "updated_at": joined,
    }


def _account_events(plan: Plan, customer: dict) -> list[dict]:
    rng, cust = plan.rng, plan.customers[-1]
    start = max(customer["created_at"], plan.now - timedelta(days=180))
    span = int((plan.now - start).total_seconds())
    kinds = [PICK_EVENT(rng) for _i in range(rng.randint(1, 4))]
    for state in (customer["subscription_state"], customer["billing_state"]):
        if state in copy.FORCED_EVENTS:
            kinds[-1] = copy.FORCED_EVENTS[state]
    return [{"customer_id": cust.id, "kind": kind, "description": _event_text(rng, kind, cust),
             "occurred_at": start + timedelta(seconds=rng.randrange(max(span, 1)))}
            for kind in kinds]


def _event_text(rng: random.Random, kind: str, cust: Cust) -> str:
    """The event's line, its blanks drawn in the same order as the dice always were."""
    slots = {"amount": cust.amount, "plan": cust.plan}
    if kind == "inicio_sesion":
        slots["device"] = rng.choice(cust.devices)
        slots["city"] = rng.choice(copy.CITIES[cust.country])
    elif kind == "dispositivo_nuevo":
        slots["device"] = rng.choice(cust.devices)
    elif kind == "cambio_plan":
        slots["old"] = rng.choice([name for name, _w in copy.PLANS if name != cust.plan])
    elif kind == "pago_fallido":
        slots["reason"] = rng.choice(copy.PAYMENT_FAILURES)
    return copy.EVENT_TEXTS[kind].format_map(slots)
