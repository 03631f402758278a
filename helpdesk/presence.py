"""Who has a ticket open (and is typing), what last changed on it, and the bell's unread
count — in Redis only.

A ticket page polls `/live/ticket/<id>` every few seconds with a signed pass issued when the page
was rendered (user id, name, ticket id, session id, when), so a poll reads no session and runs
no SQL statement: it writes the viewer's entry (a hash field with its own deadline; the key
expires soon after the last viewer leaves) and reads the others and the ticket's last committed
change, which a session hook records after each commit that touched a ticket or added a message
to it. Every other page polls `/live/bell` with a pass for no ticket (id 0). Both answer the
bell's state too.

**The bell** (`hd:bell:<user>`, a hash): `v` counts the changes to the person's notices (a commit
that added or read some bumps it, by a session hook), `n` is their unread count as of change
`nv` and sweep epoch `ne` (`hd:bell-epoch`, bumped by an SLA sweep that wrote notices in bulk,
for people it cannot name). The count is good while `nv == v` and `ne` is the epoch; a bump
keeps it good by adding its own difference; a page render (which counts in the database
anyway) writes it again. When it is not good the poll says so (`n` null) and the page asks the
database once (`/admin/notices/bell`), not at every poll.

**Passes end at logout**: logging out records the session's end (`hd:pass-end:s:<session>`), and
logging out everywhere, a password or role change or a deactivation the user's
(`hd:pass-end:u:<user>`, the time); a pass of an ended session, or issued before its user's
end, is refused (403) — the page stops polling.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, abort, current_app, g, jsonify, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .extensions import get_redis
from .models import Message, MessageKind, Notification, Ticket

#: Seconds between a ticket page's polls, and how long a viewer counts without a poll.
POLL_SECONDS, VIEWER_TTL = 4, 12
#: Seconds between the bell's polls on pages without a ticket.
BELL_SECONDS = 10
#: A pass is good for a working day; after that the page asks for a reload.
PASS_MAX_AGE = 12 * 3600
TYPING = ("reply", "note")
#: What a change says on the page, most telling first.
KINDS = ("customer", "reply", "note", "change")

bp = Blueprint("presence", __name__, url_prefix="/live")
#: The endpoints that carry their own pass: no session lookup, no SQL (helpdesk.sessions).
SESSIONLESS = ("presence.poll", "presence.bell")
#: How long the bell's cached count lives without a change or a page render.
BELL_TTL = 24 * 3600
BELL_EPOCH = "hd:bell-epoch"

# A change to a person's notices: bump `v`; if the count was good as of the previous change,
# it stays good with this change's difference added (KEYS[1] the bell, ARGV: delta, ttl).
_BUMP = """
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
if redis.call('HGET', KEYS[1], 'nv') == tostring(v - 1) then
  redis.call('HINCRBY', KEYS[1], 'n', ARGV[1])
  redis.call('HSET', KEYS[1], 'nv', v)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return v
"""
# A count read from the database: kept only if no change came since `v` was read
# (KEYS[1] the bell, ARGV: v as read, count, epoch as read, ttl).
_SEED = """
if (redis.call('HGET', KEYS[1], 'v') or '0') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', ARGV[2], 'nv', ARGV[1], 'ne', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return 1
"""


def _viewers_key(ticket_id: int) -> str:
    return f"hd:presence:{ticket_id}"


def _change_key(ticket_id: int) -> str:
    return f"hd:ticket-change:{ticket_id}"


def _bell_key(user_id: int) -> str:
    return f"hd:bell:{user_id}"


def _session_end_key(session_id: int) -> str:
    return f"hd:pass-end:s:{session_id}"


def _user_end_key(user_id: int) -> str:
    return f"hd:pass-end:u:{user_id}"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hd-presence")


def issue_pass(user, ticket_id: int) -> str:
    """The page's pass for polling this ticket (0: the bell only) as this user, in this
    session."""
    current = g.get("helpdesk_session")
    return _serializer().dumps([user.id, user.name, ticket_id,
                                current.id if current is not None else 0, time.time()])


def read_pass(token: str, ticket_id: int) -> tuple[int, str, int, float] | None:
    """(user id, name, session id, issued at) of a well-signed pass for this ticket, else None
    (whether its session has ended is asked of Redis with the poll: `_ended`)."""
    try:
        user_id, name, pass_ticket, session_id, issued = _serializer().loads(
            token, max_age=PASS_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    return (user_id, name, session_id, issued) if pass_ticket == ticket_id else None


def _ended(who: tuple[int, str, int, float], session_end, user_end) -> bool:
    """Whether the pass was issued before its session ended or its user's sessions all did
    (times, not flags: SQLite may give a later session the id of an ended one)."""
    return any(end is not None and who[3] <= float(end) for end in (session_end, user_end))


def end_passes(*, session_id: int | None = None, user_id: int | None = None) -> None:
    """Refuse the passes of a session that ended (logout), or every pass of a user issued
    until now (every session ended). Redis down: logged; the passes then live out their day."""
    try:
        if session_id:
            get_redis().set(_session_end_key(session_id), repr(time.time()), ex=PASS_MAX_AGE)
        if user_id:
            get_redis().set(_user_end_key(user_id), repr(time.time()), ex=PASS_MAX_AGE)
    except RedisError:
        current_app.logger.warning("presence: could not end live passes", exc_info=True)


# --- The bell ---------------------------------------------------------------------------------


def _bell_reads(pipe, who) -> None:
    """Queue the reads a poll needs besides presence: the bell and whether the pass ended."""
    pipe.hmget(_bell_key(who[0]), "v", "n", "nv", "ne")
    pipe.get(BELL_EPOCH)
    pipe.get(_session_end_key(who[2]))
    pipe.get(_user_end_key(who[0]))


def _bell_state(bell: list, epoch) -> dict:
    """What the page gets: `v` (changes.epoch, to notice a change) and `n` (the unread count,
    None if it is not known without the database)."""
    v, n, nv, ne = (item.decode() if item is not None else None for item in bell)
    epoch = epoch.decode() if epoch is not None else "0"
    v = v or "0"
    good = n is not None and nv == v and (ne or "0") == epoch
    return {"v": f"{v}.{epoch}", "n": max(0, int(n)) if good else None}


def bell_seed_state(user_id: int) -> tuple[str, str] | None:
    """(v, epoch) as they are before the database is read for the count (`seed_bell`)."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.hget(_bell_key(user_id), "v")
        pipe.get(BELL_EPOCH)
        v, epoch = pipe.execute()
    except RedisError:
        return None
    return (v.decode() if v else "0", epoch.decode() if epoch else "0")


def bell_for_page(user_id: int, read_count) -> tuple[int, str | None]:
    """(unread count, the bell's `v`) for a page: the count Redis keeps while it is still good
    (`_bell_state`, as the live poll trusts it), else `read_count()` from the database, then
    kept (`seed_bell`); one round trip when the count is known, no SQL."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.hmget(_bell_key(user_id), "v", "n", "nv", "ne")
        pipe.get(BELL_EPOCH)
        bell, epoch = pipe.execute()
    except RedisError:
        return read_count(), None
    state = _bell_state(bell, epoch)
    if state["n"] is not None:
        return state["n"], state["v"]
    before = tuple(state["v"].split(".", 1))
    count = read_count()
    return count, seed_bell(user_id, before, count)


def seed_bell(user_id: int, before: tuple[str, str] | None, count: int) -> str | None:
    """Keep the count just read from the database (if nothing changed since `before` was
    read); the bell's `v` for the page, None if Redis is unreachable."""
    if before is None:
        return None
    try:
        get_redis().register_script(_SEED)(keys=[_bell_key(user_id)],
                                           args=[before[0], count, before[1], BELL_TTL])
    except RedisError:
        return None
    return f"{before[0]}.{before[1]}"


def notices_changed_for_everyone() -> None:
    """An SLA sweep wrote notices in bulk, for people this process cannot name: after the
    commit, every cached count is no longer good (the pages ask the database once)."""
    from .extensions import db  # the session this request or job writes with

    db.session.info["hd_bell_epoch"] = True


@bp.get("/bell")
def bell():
    """The bell's state for pages without a ticket (no session lookup, no SQL)."""
    who = read_pass(request.args.get("pass", ""), 0)
    if who is None:
        abort(403)
    try:
        pipe = get_redis().pipeline(transaction=False)
        _bell_reads(pipe, who)
        bell_row, epoch, session_end, user_end = pipe.execute()
    except RedisError:
        return jsonify(bell=None, interval=POLL_SECONDS * 3), 503
    if _ended(who, session_end, user_end):
        abort(403)
    return jsonify(bell=_bell_state(bell_row, epoch), interval=BELL_SECONDS)


def mark_viewer(ticket_id: int, who: tuple[int, str, int, float], typing: str | None,
                now: float):
    """Record one viewer for VIEWER_TTL seconds; return the hash's entries, the ticket's last
    change, the bell and whether the pass ended (one round trip; an ended pass's entry is
    taken back at once)."""
    user_id, name = who[0], who[1]
    entry = json.dumps({"name": name, "typing": typing if typing in TYPING else None,
                        "until": now + VIEWER_TTL})
    pipe = get_redis().pipeline(transaction=False)
    pipe.hset(_viewers_key(ticket_id), str(user_id), entry)
    pipe.expire(_viewers_key(ticket_id), VIEWER_TTL * 2)
    pipe.hgetall(_viewers_key(ticket_id))
    pipe.get(_change_key(ticket_id))
    _bell_reads(pipe, who)
    _set, _expire, entries, change, bell_row, epoch, session_end, user_end = pipe.execute()
    if _ended(who, session_end, user_end):
        get_redis().hdel(_viewers_key(ticket_id), str(user_id))
        return None
    return entries, change, _bell_state(bell_row, epoch)


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
    keys = [_viewers_key(ticket_id) for ticket_id in ticket_ids]
    try:
        if not get_redis().exists(*keys):  # most pages: nobody has any of them open
            return {}
        pipe = get_redis().pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
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
        seen = mark_viewer(ticket_id, who, request.args.get("typing"), now)
    except RedisError:  # nobody shown, nothing announced; the page polls again later
        return jsonify(viewers=[], change=None, bell=None, interval=POLL_SECONDS * 3), 503
    if seen is None:
        abort(403)  # the session that got this pass has ended
    entries, change, bell_state = seen
    others = [{"name": e["name"], "typing": e["typing"]}
              for user_id, e in sorted(_live(entries, now).items()) if user_id != who[0]]
    return jsonify(viewers=others, change=json.loads(change) if change else None,
                   bell=bell_state, interval=POLL_SECONDS)


# --- The last change of each ticket, recorded after commit --------------------------------------


def _collect(session, flush_context) -> None:
    """After a flush: the tickets it changed (their new version) and the kinds of message
    added; whose notices changed, by how many unread."""
    changes = session.info.setdefault("hd_ticket_changes", {})
    bells = session.info.setdefault("hd_bells", {})
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Notification):
            _count_notice(obj, obj in session.new, bells)
        elif isinstance(obj, Ticket):
            version = inspect(obj).dict.get("version")
            changes.setdefault(obj.id, {})["version"] = version
        elif isinstance(obj, Message) and obj in session.new:
            change = changes.setdefault(obj.ticket_id, {})
            kind = obj.kind.value if obj.kind is not MessageKind.EVENT else "change"
            if KINDS.index(kind) < KINDS.index(change.get("kind", "change")):
                change["kind"] = kind


def _count_notice(notice: Notification, new: bool, bells: dict[int, int]) -> None:
    """How a flushed notice changes its person's unread count (+1 new unread, -1 read)."""
    if new:
        delta = 1 if notice.read_at is None else 0
    else:
        history = inspect(notice).attrs.read_at.history
        if not history.has_changes():
            return
        was_unread = (history.deleted or [None])[0] is None
        delta = (notice.read_at is None) - was_unread
    bells[notice.user_id] = bells.get(notice.user_id, 0) + delta


def _publish(session) -> None:
    """After commit: each changed ticket's version and what happened, for the pages polling;
    the bells of whoever's notices changed."""
    _publish_bells(session.info.pop("hd_bells", None), session.info.pop("hd_bell_epoch", False))
    changes = session.info.pop("hd_ticket_changes", None)
    if not changes:
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        for ticket_id, change in changes.items():
            change.setdefault("kind", "change")
            pipe.set(_change_key(ticket_id), json.dumps(change), ex=24 * 3600)
        pipe.execute()
    except RedisError:  # Redis down: the stale-page conflict stays the safety net
        current_app.logger.warning("presence: could not record ticket changes", exc_info=True)


def _publish_bells(bells: dict[int, int] | None, epoch: bool) -> None:
    if not bells and not epoch:
        return
    try:
        redis = get_redis()
        bump = redis.register_script(_BUMP)
        pipe = redis.pipeline(transaction=False)
        for user_id, delta in sorted((bells or {}).items()):
            bump(keys=[_bell_key(user_id)], args=[delta, BELL_TTL], client=pipe)
        if epoch:
            pipe.incr(BELL_EPOCH)
        pipe.execute()
    except RedisError:  # the bells catch up at the next page load
        current_app.logger.warning("presence: could not record notice changes", exc_info=True)


def _forget(session) -> None:
    for key in ("hd_ticket_changes", "hd_bells", "hd_bell_epoch"):
        session.info.pop(key, None)


def init_app(app) -> None:
    """The poll endpoint and the commit hooks (registered once per process)."""
    app.register_blueprint(bp)
    app.jinja_env.globals["presence_pass"] = lambda ticket_id: issue_pass(current_user, ticket_id)
    if not event.contains(Session, "after_flush", _collect):
        event.listen(Session, "after_flush", _collect)
        event.listen(Session, "after_commit", _publish)
        event.listen(Session, "after_rollback", _forget)
