"""Business hours, pure: calendars, business-time arithmetic, and the weekly-hours text
supervisors type ("lun-vie 09:00-18:00"). No session, no Flask; `rules` re-exports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Calendar:
    """Business hours: per weekday (0 = Monday) a tuple of (open, close) local times."""

    timezone: str
    hours: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_json(cls, timezone: str, hours: dict, holidays=()) -> Calendar:
        """From the stored form: {"0": [["09:00", "18:00"]], …} and a list of dates."""
        parsed = {
            int(day): tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans)
            for day, spans in (hours or {}).items()
        }
        return cls(timezone, parsed, frozenset(holidays))


#: A calendar with no open hours would never reach a deadline: give up after this many days.
MAX_CALENDAR_DAYS = 3 * 366


def _open_spans(calendar: Calendar, start: datetime):
    """Business intervals from `start` on, as (start, end) pairs in UTC."""
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date()
    for _i in range(MAX_CALENDAR_DAYS):
        if day not in calendar.holidays:
            for opens, closes in calendar.hours.get(day.weekday(), ()):
                begin = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
                end = datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)
                if end > start:
                    yield max(begin, start), end
        day += timedelta(days=1)
    raise ValueError("business calendar has no open hours")


def add_business_time(start: datetime, minutes: float, calendar: Calendar | None) -> datetime:
    """`start` plus `minutes` of business time (wall-clock time without a calendar)."""
    if calendar is None:
        return start + timedelta(minutes=minutes)
    remaining = timedelta(minutes=minutes)
    start = start.astimezone(UTC)
    if remaining <= timedelta(0):
        return start
    for begin, end in _open_spans(calendar, start):
        if end - begin >= remaining:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("unreachable")


def business_time_between(start: datetime, end: datetime, calendar: Calendar | None) -> timedelta:
    """Business time elapsed from `start` to `end` (zero if end is not after start)."""
    if end <= start:
        return timedelta(0)
    if calendar is None:
        return end - start
    elapsed = timedelta(0)
    for begin, close in _open_spans(calendar, start.astimezone(UTC)):
        if begin >= end:
            break
        elapsed += min(close, end) - begin
    return elapsed


def resume_due(due: datetime, paused_at: datetime, resumed_at: datetime,
               calendar: Calendar | None) -> datetime:
    """A paused deadline moves later by the business time spent waiting for the customer."""
    waited = business_time_between(paused_at, resumed_at, calendar)
    return add_business_time(due, waited.total_seconds() / 60, calendar)


_DAYS = {
    "lun": 0, "mon": 0, "mar": 1, "tue": 1, "mie": 2, "mié": 2, "wed": 2, "jue": 3, "thu": 3,
    "vie": 4, "fri": 4, "sab": 5, "sáb": 5, "sat": 5, "dom": 6, "sun": 6,
}
_DAY_NAMES = ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")


def _day(word: str) -> int:
    key = word.strip().lower()[:3]
    if key not in _DAYS:
        raise ValueError(f"día desconocido: {word.strip()!r}")
    return _DAYS[key]


def parse_hours(text: str) -> dict[str, list[list[str]]]:
    """Weekly hours from lines like "lun-vie 09:00-14:00, 15:00-18:00" to the stored form.

    ValueError names the first problem (unknown day, bad time, closing before opening).
    """
    hours: dict[str, list[list[str]]] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        days_part, _sep, spans_part = line.strip().partition(" ")
        first, _dash, last = days_part.partition("-")
        start, end = _day(first), _day(last or first)
        days = range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
        spans = []
        for span in spans_part.split(","):
            opens, _dash, closes = span.strip().partition("-")
            try:
                a, b = time.fromisoformat(opens.strip()), time.fromisoformat(closes.strip())
            except ValueError:
                raise ValueError(f"hora no válida: {span.strip()!r}") from None
            if b <= a:
                raise ValueError(f"el cierre debe ser posterior a la apertura: {span.strip()!r}")
            spans.append([a.strftime("%H:%M"), b.strftime("%H:%M")])
        for day in days:
            hours[str(day)] = sorted(hours.get(str(day), []) + spans)
    return hours


def format_hours(hours: dict, day_names: tuple[str, ...] = _DAY_NAMES) -> str:
    """The stored weekly hours as editable lines ("lun 09:00-18:00"; `day_names` Monday first,
    e.g. the viewer's language's: parse_hours reads Spanish and English)."""
    return "\n".join(
        f"{day_names[int(day)]} " + ", ".join(f"{a}-{b}" for a, b in spans)
        for day, spans in sorted((hours or {}).items(), key=lambda item: int(item[0])) if spans
    )
