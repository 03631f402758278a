"""Who is told what, and how: the kinds of notice a person can choose for, their defaults,
and the @mentions of a note. Pure (no database, no Flask); re-exported by `rules`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: The kinds a person chooses for (workflows.notify): assigned to them (routing, a supervisor,
#: a bulk move), the customer answered their ticket, a colleague mentioned them in a note, an
#: escalation reached them (or came back to their team).
ASSIGNED, CUSTOMER_REPLY = "assigned", "customer_reply"
MENTION, ESCALATION = "mention", "escalation"
NOTICE_KINDS = (ASSIGNED, CUSTOMER_REPLY, MENTION, ESCALATION)

#: The notice kinds stored on notifications that a preference kind covers.
PREFERENCE_OF = {ASSIGNED: ASSIGNED, CUSTOMER_REPLY: CUSTOMER_REPLY, MENTION: MENTION,
                 "escalation": ESCALATION, "deescalation": ESCALATION}


@dataclass(frozen=True)
class Channels:
    """Where one kind of notice goes for one person."""

    panel: bool
    email: bool

    @property
    def any(self) -> bool:
        return self.panel or self.email


#: Without a choice: everything in the panel; by e-mail only escalations (as before this
#: setting existed) — assignments, answers and mentions come often, so mail is opt-in.
NOTICE_DEFAULTS = {
    ASSIGNED: Channels(panel=True, email=False),
    CUSTOMER_REPLY: Channels(panel=True, email=False),
    MENTION: Channels(panel=True, email=False),
    ESCALATION: Channels(panel=True, email=True),
}

#: The choices the preferences page offers, as (value, panel, email).
CHANNEL_CHOICES = (("panel", True, False), ("email", False, True), ("both", True, True),
                   ("none", False, False))


def channels_of(kind: str, chosen: Channels | None) -> Channels:
    """Where a notice of `kind` goes: the person's choice, else the kind's default."""
    return chosen if chosen is not None else NOTICE_DEFAULTS[PREFERENCE_OF[kind]]


def channel_value(channels: Channels) -> str:
    """The preferences page's value for a pair of channels ("panel", "email", "both", "none")."""
    return next(value for value, panel, email in CHANNEL_CHOICES
                if (panel, email) == (channels.panel, channels.email))


def parse_channel(value: str | None) -> Channels | None:
    """The channels of a submitted choice, or None if it is not one of CHANNEL_CHOICES."""
    for choice, panel, email in CHANNEL_CHOICES:
        if value == choice:
            return Channels(panel, email)
    return None


def tells(actor_id: int | None, user_id: int | None) -> bool:
    """Whether `user_id` is told about something `actor_id` did: never about one's own act."""
    return user_id is not None and user_id != actor_id


#: A mention is "@" and a person's handle (the local part of their e-mail address), not
#: glued to a word or an address before it ("ana@example.com" mentions nobody).
_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9._+-]{0,63})")


def handle_of(email: str) -> str:
    """A person's handle: their e-mail's local part, lower-case (what "@handle" names)."""
    return email.partition("@")[0].lower()


def mentioned_handles(text: str) -> list[str]:
    """The handles "@handle" names in a note, lower-case, each once, in order of appearance
    (a full stop or other punctuation right after the handle ends it)."""
    found = []
    for match in _MENTION.finditer(text or ""):
        handle = match.group(1).rstrip("._-+").lower()
        if handle and handle not in found:
            found.append(handle)
    return found


def mention_targets(handles: Iterable[str], people: Iterable[tuple[int, str]]) -> list[int]:
    """The ids of the people (id, e-mail) the handles name: a handle two people share names
    nobody (an ambiguous mention tells no one rather than the wrong one)."""
    by_handle: dict[str, list[int]] = {}
    for user_id, email in people:
        by_handle.setdefault(handle_of(email), []).append(user_id)
    return [ids[0] for handle in handles if len(ids := by_handle.get(handle, [])) == 1]
