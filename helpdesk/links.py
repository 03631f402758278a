"""Signed links in customers' mail: *Sí, está resuelto*, *No, sigo con el problema*, the survey.

Each is an itsdangerous `URLSafeTimedSerializer` token with a salt per kind (a confirmation
token never opens the survey), bound to the ticket and its resolution round, and with an expiry
(confirmation and reopen: the reopen window; survey: HELPDESK_SURVEY_LINK_DAYS). The payload is
two ids, never personal data; whether a valid link still acts (answered, a later round) is the
workflow's to decide (`rules.link_refusal`, `rules.survey_refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CONFIRM, REOPEN, SURVEY = "confirm", "reopen", "survey"
#: The public page of each kind, under helpdesk.public's /cliente/.
PATHS = {CONFIRM: "confirmar", REOPEN: "reabrir", SURVEY: "encuesta"}
#: Why a token was not read.
TAMPERED, EXPIRED = "tampered", "expired"


class LinkInvalid(Exception):
    """A token that is not ours (or not of this kind), or is past its expiry."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkTarget:
    """What a valid token names."""

    ticket_id: int
    round_id: int


def _serializer(kind: str) -> URLSafeTimedSerializer:
    if kind not in PATHS:
        raise ValueError(f"unknown link kind {kind!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"],
                                  salt=f"helpdesk.customer-link.{kind}")


def max_age(kind: str) -> int:
    """Seconds a link of this kind stays valid."""
    config = current_app.config
    days = config["HELPDESK_SURVEY_LINK_DAYS"] if kind == SURVEY else \
        config["HELPDESK_REOPEN_DAYS"]
    return days * 86400


def make_token(kind: str, ticket_id: int, round_id: int) -> str:
    """A signed, timestamped token for this ticket's resolution round."""
    return _serializer(kind).dumps({"t": ticket_id, "r": round_id})


def read_token(kind: str, token: str) -> LinkTarget:
    """The ticket and round a token of this kind names; LinkInvalid if tampered with, of
    another kind, or expired."""
    try:
        data = _serializer(kind).loads(token, max_age=max_age(kind))
    except SignatureExpired:
        raise LinkInvalid(EXPIRED) from None
    except BadSignature:
        raise LinkInvalid(TAMPERED) from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), int) and not isinstance(data.get(k), bool)
            for k in ("t", "r")):
        raise LinkInvalid(TAMPERED)
    return LinkTarget(data["t"], data["r"])


def url(kind: str, ticket_id: int, round_id: int, **query: int) -> str:
    """The absolute address of the customer's page (HELPDESK_PUBLIC_URL: jobs have no
    request to build it from)."""
    base = current_app.config["HELPDESK_PUBLIC_URL"].rstrip("/")
    tail = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{base}/cliente/{PATHS[kind]}/{make_token(kind, ticket_id, round_id)}" + (
        f"?{tail}" if tail else "")
