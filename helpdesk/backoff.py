"""Pure rules of background-job retries and of mail identifiers (a sibling of `rules`).

Data in, data out: no session, no Flask, and the clock is always a parameter.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

#: How much of an exception's text an intent keeps as its last error.
ERROR_MAX = 300

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]*:[^/\s@]*@", re.I)
_SECRET_WORDS = re.compile(r"(?P<word>password|passwd|pwd|secret|token)=\S+", re.I)
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII, no spaces, no < or > inside


def retry_delay(attempts: int, base_seconds: int, max_seconds: int) -> timedelta:
    """The wait after the `attempts`-th failed run: base, 2×base, 4×base… never above max."""
    exponent = min(max(attempts, 1) - 1, 32)  # 2**32 × base is far beyond any cap
    return timedelta(seconds=min(base_seconds * 2**exponent, max_seconds))


def gives_up(now: datetime, window_start: datetime, give_up_hours: int) -> bool:
    """Whether an intent first tried at `window_start` has been retried long enough."""
    return now - window_start >= timedelta(hours=give_up_hours)


def error_summary(exc: BaseException) -> str:
    """`Type: first line of the message`, short, with URL credentials and secrets masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    text = _SECRET_WORDS.sub(r"\g<word>=***", text)
    summary = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return summary if len(summary) <= ERROR_MAX else summary[:ERROR_MAX - 1] + "…"


def reply_message_id(ticket_id: int, message_id: int, token: str, domain: str) -> str:
    """A reply's Message-ID, fixed when it is written: `<T-000123.4567.8hexrand@domain>`,
    short enough (well under 78 characters) that no header carrying it is ever encoded."""
    return f"<T-{ticket_id:06d}.{message_id}.{token}@{domain}>"


def notice_message_id(idstring: str, domain: str) -> str:
    """An automatic notice's Message-ID, the same on every attempt (built from the notice)."""
    return f"<N-{idstring}@{domain}>"


def message_ids(raw: str | None) -> list[str]:
    """The well-formed `<id>` tokens of a header value (anything else dropped)."""
    return _MESSAGE_ID.findall(raw or "")
