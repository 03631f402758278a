"""SLA arithmetic over business hours: weekends, holidays, DST, outside hours. Pure rules."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk import rules

MADRID = ZoneInfo("Europe/Madrid")
OFFICE = rules.Calendar.from_json(
    "Europe/Madrid", {str(d): [["09:00", "18:00"]] for d in range(5)},
    holidays=[date(2026, 12, 8)],  # Inmaculada Concepción, a Tuesday
)


def madrid(*args) -> datetime:
    return datetime(*args, tzinfo=MADRID)


@pytest.mark.parametrize(("start", "minutes", "due"), [
    (madrid(2026, 11, 20, 17, 0), 4 * 60, madrid(2026, 11, 23, 12, 0)),   # Friday → Monday
    (madrid(2026, 11, 21, 10, 0), 60, madrid(2026, 11, 23, 10, 0)),       # Saturday
    (madrid(2026, 11, 23, 7, 0), 30, madrid(2026, 11, 23, 9, 30)),        # before opening
    (madrid(2026, 11, 23, 19, 0), 60, madrid(2026, 11, 24, 10, 0)),       # after closing
    (madrid(2026, 12, 7, 17, 30), 60, madrid(2026, 12, 9, 9, 30)),        # over a holiday
    (madrid(2026, 11, 23, 10, 0), 0, madrid(2026, 11, 23, 10, 0)),
    (madrid(2026, 11, 23, 10, 0), 24 * 60, madrid(2026, 11, 25, 16, 0)),  # 8 h + 9 h + 7 h
])
def test_add_business_time(start, minutes, due):
    assert rules.add_business_time(start.astimezone(UTC), minutes, OFFICE) == due


def test_autumn_dst_change():
    """CEST (+2) on Friday, CET (+1) on Monday: the deadline is 10:00 local, 09:00 UTC."""
    due = rules.add_business_time(madrid(2026, 10, 23, 17, 0), 120, OFFICE)
    assert due == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_spring_dst_change():
    due = rules.add_business_time(madrid(2026, 3, 27, 17, 0), 120, OFFICE)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST


def test_without_calendar_wall_clock_counts_even_across_dst():
    start = madrid(2026, 10, 24, 12, 0)
    assert rules.add_business_time(start, 24 * 60, None) - start == timedelta(hours=24)


def test_business_time_between():
    assert rules.business_time_between(madrid(2026, 11, 20, 17, 0), madrid(2026, 11, 23, 10, 0),
                                       OFFICE) == timedelta(hours=2)
    assert rules.business_time_between(madrid(2026, 11, 21, 9, 0), madrid(2026, 11, 22, 20, 0),
                                       OFFICE) == timedelta(0)
    assert rules.business_time_between(madrid(2026, 11, 23, 12, 0), madrid(2026, 11, 23, 11, 0),
                                       OFFICE) == timedelta(0)


def test_a_paused_deadline_moves_by_the_business_time_spent_waiting():
    due = madrid(2026, 11, 23, 12, 0)
    resumed = rules.resume_due(due, madrid(2026, 11, 20, 17, 30), madrid(2026, 11, 23, 9, 30),
                               OFFICE)
    assert resumed == madrid(2026, 11, 23, 13, 0)
    assert rules.resume_due(due, due, due + timedelta(hours=3), None) == due + timedelta(hours=3)


def test_calendar_without_hours_is_refused():
    closed = rules.Calendar("Europe/Madrid", {})
    with pytest.raises(ValueError, match="no open hours"):
        rules.add_business_time(madrid(2026, 11, 23, 10, 0), 60, closed)


def test_parse_and_format_weekly_hours():
    hours = rules.parse_hours("lun-vie 09:00-14:00, 15:00-18:00\nsáb 10:00-13:00\n")
    assert hours["0"] == [["09:00", "14:00"], ["15:00", "18:00"]] and hours["5"] == [
        ["10:00", "13:00"]]
    assert "6" not in hours
    assert rules.parse_hours(rules.format_hours(hours)) == hours
    assert rules.parse_hours("fri-mon 08:00-09:00").keys() == {"4", "5", "6", "0"}


@pytest.mark.parametrize(("text", "message"), [
    ("lunes 9-18", "hora no válida"), ("xyz 09:00-18:00", "día desconocido"),
    ("mar 18:00-09:00", "posterior a la apertura"),
])
def test_bad_weekly_hours_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        rules.parse_hours(text)
