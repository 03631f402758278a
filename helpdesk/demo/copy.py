"""The demo's copy, read once from the TOML files in `data/`: reference rows, staff, customers,
what customers write and how agents answer. Only shapes and enum conversions live here."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import NamedTuple

from .. import rules
from ..models import Availability, Channel, Priority, Role, Strategy


def load(name: str) -> dict:
    """One data file of this package, parsed (found beside the code, in any checkout)."""
    return tomllib.loads((files(__package__) / "data" / name).read_text(encoding="utf-8"))


class StaffSpec(NamedTuple):
    """One demo staff account."""

    email: str
    name: str
    role: Role
    teams: tuple[str, ...] = ()
    availability: Availability = Availability.AVAILABLE
    capacity: int = 12
    locale: str = "es"
    timezone: str = "Europe/Madrid"
    skills: tuple[str, ...] = ()
    supervises: tuple[str, ...] = ()


class Issue(NamedTuple):
    """One kind of request: what the customer writes and what the agent answers."""

    subject: str
    problem: str
    first: str  # the agent's first answer, after the voice's `lead_first`
    close: str  # the confirmation that closes it, after the voice's `lead_close`
    note: str  # an internal note (always Spanish: the team's language)
    closing: str  # the ticket's closing notes (Spanish)
    refund: bool = False  # mentions a refund or a duplicate charge (the keyword rule)
    tv: bool = False  # happens on a television: {device} is one of the customer's TV devices


@dataclass(frozen=True)
class Voice:
    """Everything said in one language around the issues: greetings, questions, follow-ups."""

    issues: dict[str, tuple[Issue, ...]]
    greetings: tuple[str, ...]
    details: dict[str, tuple[str, ...]]
    signoffs: tuple[str, ...]
    ask: dict[str, str]
    answer: dict[str, str]
    follow: tuple[str, ...]
    close_special: dict[str, str]
    hello: str
    lead_first: str
    lead_ask: str
    lead_close: str
    resolved_line: str
    sign: str


def _pairs(mapping: dict, convert=str) -> tuple[tuple, ...]:
    """A TOML table of weights as (item, weight) pairs, in the file's order."""
    return tuple((convert(key), weight) for key, weight in mapping.items())


# --- Reference rows -----------------------------------------------------------------------------

_reference = load("reference.toml")
DEFAULT_TEAM: str = _reference["default_team"]
TEAMS = tuple((t["name"], t["description"], t["email"], Strategy(t["strategy"]))
              for t in _reference["teams"])
#: code, name, default team, description
CATEGORIES = tuple((c["code"], c["name"], c["team"], c["description"])
                   for c in _reference["categories"])
#: priority: (first response, resolution) in minutes — the guide's targets.
SLA_TARGETS = {Priority(p): (rules.DEFAULT_FIRST_RESPONSE_MINUTES[Priority(p)], minutes)
               for p, minutes in _reference["resolution_minutes"].items()}
CALENDAR_NAME: str = _reference["calendar"]["name"]
CALENDAR_TIMEZONE: str = _reference["calendar"]["timezone"]
OFFICE_HOURS: dict = _reference["calendar"]["hours"]
HOLIDAYS = tuple(tuple(h) for h in _reference["calendar"]["holidays"])
RESOLUTIONS = tuple((r["name"], r["description"]) for r in _reference["resolutions"])
#: name, English name, code (None but for the one the system uses), description
REASONS = tuple((r["name"], r.get("name_en"), r.get("code"), r["description"])
                for r in _reference["escalation_reasons"])
_RULE_ENUMS = {"priority": Priority, "priority_override": Priority, "channel": Channel,
               "strategy": Strategy}
ROUTING_RULES = tuple({key: _RULE_ENUMS[key](value) if key in _RULE_ENUMS else value
                       for key, value in rule.items()} for rule in _reference["routing_rules"])
#: name, locale, category code, body
TEMPLATES = tuple((t["name"], t["locale"], t["category"], t["body"])
                  for t in load("templates.toml")["templates"])

# --- Staff --------------------------------------------------------------------------------------

STAFF = tuple(
    StaffSpec(s["email"], s["name"], Role[s["role"].upper()], tuple(s.get("teams", ())),
              Availability(s.get("availability", "available")), s["capacity"],
              s.get("locale", "es"), s.get("timezone", "Europe/Madrid"),
              tuple(s.get("skills", ())), tuple(s.get("supervises", ())))
    for s in load("staff.toml")["staff"]
)

# --- Customers ----------------------------------------------------------------------------------

_customers = load("customers.toml")
FIRST_NAMES = tuple(_customers["first_names"])
SURNAMES = tuple(_customers["surnames"])
COUNTRIES = tuple((c["code"], c["weight"]) for c in _customers["countries"])
PHONE_PREFIX = {c["code"]: c["phone"] for c in _customers["countries"]}
EN_SHARE = {c["code"]: c["en_share"] for c in _customers["countries"] if c["en_share"]}
CITIES = {c["code"]: tuple(c["cities"]) for c in _customers["countries"]}
PLANS = tuple((p["name"], p["weight"]) for p in _customers["plans"])
PRICES = {p["name"]: p["price"] for p in _customers["plans"]}
SUBSCRIPTION_STATES = _pairs(_customers["subscription_states"])
BILLING_STATES = _pairs(_customers["billing_states"])
DEVICES = tuple(_customers["devices"])
TV_DEVICES = frozenset(_customers["tv_devices"])
MAIL_DOMAINS = tuple(_customers["mail_domains"])
ACCOUNT_EVENTS = _pairs(_customers["account_events"]["weights"])
EVENT_TEXTS: dict[str, str] = _customers["account_events"]["texts"]
PAYMENT_FAILURES = tuple(_customers["account_events"]["failures"]["reasons"])
FORCED_EVENTS: dict[str, str] = _customers["account_events"]["forced"]

# --- Ticket text --------------------------------------------------------------------------------

_tickets = load("tickets.toml")
TITLES = tuple(_tickets["titles"])
ERRORS = tuple(_tickets["errors"])
WEIGHTS: dict[str, dict] = _tickets["weights"]
#: score: comments to pick from (None: the customer left none)
RATING_COMMENTS = {int(score): tuple(text or None for text in texts)
                   for score, texts in _tickets["rating_comments"].items()}
ESCALATION_REASONS = {code: tuple(names)
                      for code, names in _tickets["escalation"]["reasons"].items()}
ESCALATION_CONTEXT: dict[str, str] = _tickets["escalation"]["context"]


def _issues(data: dict) -> dict[str, dict[str, tuple[Issue, ...]]]:
    """Issues per locale and category. An English issue names the Spanish one (`base`) whose
    internal note and closing notes it keeps: the team writes in Spanish."""
    spanish = {code: tuple(Issue(**issue) for issue in issues)
               for code, issues in data["es"].items()}
    english = {code: tuple(spanish[code][issue.pop("base")]._replace(**issue, refund=False)
                           for issue in map(dict, issues))
               for code, issues in data["en"].items()}
    return {"es": spanish, "en": english}


ISSUES = _issues(load("issues.toml"))
ISSUES_ES, ISSUES_EN = ISSUES["es"], ISSUES["en"]


def _voice(locale: str, data: dict) -> Voice:
    tuples = ("greetings", "signoffs", "follow")
    values = {key: tuple(value) if key in tuples else value for key, value in data.items()}
    values["details"] = {code: tuple(lines) for code, lines in data["details"].items()}
    return Voice(issues=ISSUES[locale], **values)


VOICES = {locale: _voice(locale, data) for locale, data in load("voices.toml").items()}
