"""GET /healthz: database, Redis, rq workers and the cron scheduler's heartbeat.

Anyone gets `{"status": "up"}` (200) or `{"status": "down"}` (503); the details (what is down,
the backend, the worker count, the heartbeat's age) only go to logged-in staff or to a caller
presenting `Authorization: Bearer <HELPDESK_HEALTH_TOKEN>`. Cheap: one `SELECT 1` and a few
Redis commands on a client with short timeouts and no retries, so a dead or stalled Redis is a
quick "down", never a hung request.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from rq.worker_registration import REDIS_WORKER_KEYS
from sqlalchemy import text

from .cron import CRON_HEARTBEAT, HEARTBEAT_TTL
from .extensions import db, get_probe_redis

bp = Blueprint("health", __name__)


def _check_database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    finally:
        db.session.rollback()


def _live_workers(redis) -> int:
    """Registered workers whose hash has not expired (a killed worker's lingers in the set)."""
    keys = redis.smembers(REDIS_WORKER_KEYS)
    with redis.pipeline(transaction=False) as pipeline:
        for key in keys:
            pipeline.exists(key)
        return sum(pipeline.execute()) if keys else 0


def _scheduler(raw: bytes | None) -> dict:
    if raw is None:
        return {"ok": False, "error": "no heartbeat"}
    try:
        age = max(0.0, time.time() - float(raw))
    except ValueError:
        return {"ok": False, "error": "unreadable heartbeat"}
    return {"ok": age <= HEARTBEAT_TTL, "heartbeat_age_s": round(age, 1)}


def _check_redis() -> tuple[dict, dict, dict]:
    """Redis itself, the live workers and the scheduler's heartbeat."""
    try:
        redis = get_probe_redis()
        redis.ping()
        count = _live_workers(redis)
        heartbeat = redis.get(CRON_HEARTBEAT)
    except Exception as exc:
        return ({"ok": False, "error": type(exc).__name__},
                {"ok": False, "count": 0, "error": "redis down"},
                {"ok": False, "error": "redis down"})
    return {"ok": True}, {"ok": count > 0, "count": count}, _scheduler(heartbeat)


def _may_see_details() -> bool:
    """Logged-in staff (any role), or the bearer of HELPDESK_HEALTH_TOKEN (unset: nobody)."""
    token = current_app.config["HELPDESK_HEALTH_TOKEN"]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()):
        return True
    try:
        return bool(current_user.is_authenticated)
    except Exception:  # the session's user could not be loaded (database down)
        db.session.rollback()
        return False


@bp.route("/healthz")
def healthz():
    """200 `up` when the database, Redis, a worker and the scheduler are; 503 `down`."""
    database = _check_database()
    redis, workers, scheduler = _check_redis()
    checks = {"database": database, "redis": redis, "workers": workers, "scheduler": scheduler}
    down = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "down" if down else "up"}
    if _may_see_details():
        body.update(down=down, **checks)
    return jsonify(body), 503 if down else 200
