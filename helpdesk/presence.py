"""Who has a ticket open (and is typing), and what last changed on it — in Redis only.

A ticket page polls `/live/ticket/<id>` every few seconds with a signed pass issued when the page
was rendered (user id, name, ticket id), so a poll reads no session and runs no SQL statement:
it writes the viewer's entry (a hash field with its own deadline; the key expires soon after the
last viewer leaves) and reads the others and the ticket's last committed change, which a
session hook records after each commit that touched a ticket or added a message to it.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, abort, current_app, jsonify, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .extensions import get_redis
from .models import Message, MessageKind, Ticket

#: Seconds between a page's polls, and how long a viewer counts without a poll.
POLL_SECONDS, VIEWER_TTL = 4, 12
#: A pass is good for a working day; after that the page asks for a reload.
PASS_MAX_AGE = 12 * 3600
TYPING = ("reply", "note")
#: What a change says on the page, most telling first.
KINDS = ("customer", "reply", "note", "change")

bp = Blueprint("presence", __name__, url_prefix="/live")


def _viewers_key(ticket_id: int) -> str:
    return f"hd:presence:{ticket_id}"


def _change_key(ticket_id: int) -> str:
    return f"hd:ticket-change:{ticket_id}"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hd-presence")


def issue_pass(user, ticket_id: int) -> str:
    """The page's pass for polling this ticket as this user."""
    return _serializer().dumps([user.id, user.name, ticket_id])


def read_pass(token: str, ticket_id: int) -> tuple[int, str] | None:
    """(user id, name) of a valid pass for this ticket, else None."""
    try:
        user_id, name, pass_ticket = _serializer().loads(token, max_age=PASS_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    return (user_id, name) if pass_ticket == ticket_id else None


def mark_viewer(ticket_id: int, user_id: int, name: str, typing: str | None, now: float):
    """Record one viewer for VIEWER_TTL seconds; return the hash's entries (one round trip)."""
    entry = json.dumps({"name": name, "typing": typing if typing in TYPING else None,
                        "until": now + VIEWER_TTL})
    pipe = get_redis().pipeline()
    pipe.hset(_viewers_key(ticket_id), str(user_id), entry)
    pipe.expire(_viewers_key(ticket_id), VIEWER_TTL * 2)
    pipe.hgetall(_viewers_key(ticket_id))
    pipe.get(_change_key(ticket_id))
    _set, _expire, entries, change = pipe.execute()
    return entries, change


def _live(entries: dict, now: float) -> dict[int, dict]:
    live = {}
    for user_id, raw in entries.items():
        entry = json.loads(raw)
        if entry["until"] > now:
            live[int(user_id)] = entry
    return live


def viewers_of(ticket_ids: list[int], now: float | None = None) -> dict[int, list[str]]:
    """The names of who has each ticket open right now (for the queue's eye icon)."""
    if not ticket_ids:
        return {}
    now = time.time() if now is None else now
    try:
        pipe = get_redis().pipeline()
        for ticket_id in ticket_ids:
            pipe.hgetall(_viewers_key(ticket_id))
        replies = pipe.execute()
    except RedisError:  # the queue works without its eyes
        return {}
    found = {}
    for ticket_id, entries in zip(ticket_ids, replies, strict=True):
        names = sorted(entry["name"] for entry in _live(entries, now).values())
        if names:
            found[ticket_id] = names
    return found


@bp.get("/ticket/<int:ticket_id>")
def poll(ticket_id: int):
    """The others on this ticket (and who is typing) and the ticket's last change."""
    who = read_pass(request.args.get("pass", ""), ticket_id)
    if who is None:
        abort(403)
    now = time.time()
    try:
        entries, change = mark_viewer(ticket_id, *who, request.args.get("typing"), now)
    except RedisError:  # nobody shown, nothing announced; the page polls again later
        return jsonify(viewers=[], change=None, interval=POLL_SECONDS * 3), 503
    others = [{"name": e["name"], "typing": e["typing"]}
              for user_id, e in sorted(_live(entries, now).items()) if user_id != who[0]]
    return jsonify(viewers=others, change=json.loads(change) if change else None,
                   interval=POLL_SECONDS)


# --- The last change of each ticket, recorded after commit --------------------------------------


def _collect(session, flush_context) -> None:
    """After a flush: the tickets it changed (their new version) and the kinds of message added."""
    changes = session.info.setdefault("hd_ticket_changes", {})
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Ticket):
            version = inspect(obj).dict.get("version")
            changes.setdefault(obj.id, {})["version"] = version
        elif isinstance(obj, Message) and obj in session.new:
            change = changes.setdefault(obj.ticket_id, {})
            kind = obj.kind.value if obj.kind is not MessageKind.EVENT else "change"
            if KINDS.index(kind) < KINDS.index(change.get("kind", "change")):
                change["kind"] = kind


def _publish(session) -> None:
    """After commit: each changed ticket's version and what happened, for the pages polling."""
    changes = session.info.pop("hd_ticket_changes", None)
    if not changes:
        return
    try:
        pipe = get_redis().pipeline()
        for ticket_id, change in changes.items():
            change.setdefault("kind", "change")
            pipe.set(_change_key(ticket_id), json.dumps(change), ex=24 * 3600)
        pipe.execute()
    except RedisError:  # Redis down: the stale-page conflict stays the safety net
        current_app.logger.warning("presence: could not record ticket changes", exc_info=True)


def _forget(session) -> None:
    session.info.pop("hd_ticket_changes", None)


def init_app(app) -> None:
    """The poll endpoint and the commit hooks (registered once per process)."""
    app.register_blueprint(bp)
    app.jinja_env.globals["presence_pass"] = lambda ticket_id: issue_pass(current_user, ticket_id)
    if not event.contains(Session, "after_flush", _collect):
        event.listen(Session, "after_flush", _collect)
        event.listen(Session, "after_commit", _publish)
        event.listen(Session, "after_rollback", _forget)
