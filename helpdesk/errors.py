"""Refusals of the domain layer; their messages are translated and safe to show to a user."""


class DomainError(Exception):
    """A request the helpdesk refuses; `str(exc)` is a user-safe, translated message."""


class InvalidTransition(DomainError):
    """The ticket cannot move from its status to the one asked for."""


class CapacityExceeded(DomainError):
    """The agent already has as many open tickets as their capacity allows."""


class Conflict(DomainError):
    """Someone else changed the object since the page was loaded."""
