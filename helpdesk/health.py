"""GET /healthz: database, Redis and rq workers, as JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify
from rq import Worker
from sqlalchemy import text

from .extensions import db, get_redis

bp = Blueprint("health", __name__)


def _check_database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:
        db.session.rollback()
        return {"ok": False, "error": type(exc).__name__}


def _check_redis_and_workers() -> tuple[dict, dict]:
    try:
        redis = get_redis()
        redis.ping()
    except Exception as exc:
        down = {"ok": False, "error": type(exc).__name__}
        return down, {"ok": False, "count": 0, "error": "redis down"}
    workers = Worker.all(connection=redis)
    return {"ok": True}, {"ok": bool(workers), "count": len(workers)}


@bp.route("/healthz")
def healthz():
    """200 when the database, Redis and at least one rq worker are up; 503 naming what is down."""
    database = _check_database()
    redis, workers = _check_redis_and_workers()
    checks = {"database": database, "redis": redis, "workers": workers}
    down = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, **checks}
    return jsonify(body), 200 if not down else 503
