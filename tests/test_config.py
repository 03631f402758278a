"""Start-up: malformed settings and unreachable services give one clear line, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.config import Config, ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("env", "message"), [
    ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a valid database URL"),
    ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL must name sqlite or postgresql"),
    ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must start with"),
    ({"REDIS_URL": "redis://"}, "REDIS_URL has no host"),
    ({"HELPDESK_DEFAULT_LOCALE": "fr"}, "HELPDESK_DEFAULT_LOCALE must be es or en"),
    ({"HELPDESK_LOCK_TIMEOUT_MS": "5s"}, "HELPDESK_LOCK_TIMEOUT_MS must be milliseconds"),
    ({"HELPDESK_STATEMENT_TIMEOUT_MS": "0"}, "HELPDESK_STATEMENT_TIMEOUT_MS must be milli"),
    ({"HELPDESK_RETRY_BASE_SECONDS": "30s"}, "HELPDESK_RETRY_BASE_SECONDS must be a whole"),
    ({"HELPDESK_RETRY_MAX_SECONDS": "0"}, "HELPDESK_RETRY_MAX_SECONDS must be a whole"),
    ({"HELPDESK_RETRY_GIVE_UP_HOURS": "-1"}, "HELPDESK_RETRY_GIVE_UP_HOURS must be a whole"),
])
def test_bad_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env({"SECRET_KEY": "x", **env})


def test_retry_settings_are_read_from_the_environment():
    config = Config.from_env({"SECRET_KEY": "x", "HELPDESK_RETRY_BASE_SECONDS": "10",
                              "HELPDESK_RETRY_MAX_SECONDS": "600",
                              "HELPDESK_RETRY_GIVE_UP_HOURS": "48"})
    assert (config.HELPDESK_RETRY_BASE_SECONDS, config.HELPDESK_RETRY_MAX_SECONDS,
            config.HELPDESK_RETRY_GIVE_UP_HOURS) == (10, 600, 48)
    defaults = Config.from_env({"SECRET_KEY": "x"})
    assert (defaults.HELPDESK_RETRY_BASE_SECONDS, defaults.HELPDESK_RETRY_MAX_SECONDS,
            defaults.HELPDESK_RETRY_GIVE_UP_HOURS) == (30, 3600, 24)


def test_postgres_urls_use_psycopg_3():
    config = Config.from_env({"SECRET_KEY": "x", "DATABASE_URL": "postgres://u:p@db:5432/h"})
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@db:5432/h"


def test_password_never_appears_in_the_message():
    with pytest.raises(ConfigError) as info:
        Config.from_env({"SECRET_KEY": "x", "REDIS_URL": "http://user:s3cret@host"})
    assert "s3cret" not in str(info.value)


def _flask(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, capture_output=True,
        text=True, timeout=60, env={**os.environ, "SECRET_KEY": "x", **env},
    )


def test_malformed_database_url_at_start_up_is_one_line():
    result = _flask("helpdesk", "check", env={"DATABASE_URL": "::nonsense::"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: DATABASE_URL is not a valid database URL: '::nonsense::'"]


def test_unreachable_redis_at_start_up_is_one_line(database_uri):
    result = _flask("helpdesk", "check",
                    env={"DATABASE_URL": database_uri, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: cannot reach Redis (ConnectionError); check REDIS_URL"]


def test_unreachable_database_at_start_up_is_one_line(redis_url):
    result = _flask("helpdesk", "check", env={
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "REDIS_URL": redis_url})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: cannot reach the database (OperationalError); check DATABASE_URL"]


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    from helpdesk.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
