"""GET /healthz: `up`/`down` for anyone; what is down (database, Redis, workers, the cron
scheduler's heartbeat) only for logged-in staff or the bearer of HELPDESK_HEALTH_TOKEN."""

import time

import pytest
from rq import Worker
from rq.serializers import JSONSerializer

from app import create_app
from helpdesk.config import Config
from helpdesk.cron import CRON_HEARTBEAT, HEARTBEAT_TTL
from helpdesk.extensions import get_queue
from helpdesk.models import Role

TOKEN = "s3cret-health-token"


@pytest.fixture
def worker(app, redis):
    """One registered rq worker (as `flask helpdesk worker` registers itself)."""
    with app.app_context():
        worker = Worker([get_queue()], connection=redis, serializer=JSONSerializer)
    worker.register_birth()
    yield worker
    worker.register_death()


@pytest.fixture
def heartbeat(redis):
    """A fresh cron heartbeat, as the running scheduler writes it."""
    redis.set(CRON_HEARTBEAT, f"{time.time():.3f}", ex=HEARTBEAT_TTL)


@pytest.fixture
def token_app(app_config):
    """An app with HELPDESK_HEALTH_TOKEN set."""
    return create_app({**app_config, "HELPDESK_HEALTH_TOKEN": TOKEN})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_anonymous_callers_only_learn_up_or_down(client, worker, heartbeat, redis):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "up"})
    redis.delete(CRON_HEARTBEAT)
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (503, {"status": "down"})


@pytest.mark.parametrize("role", list(Role))
def test_staff_of_any_role_see_what_is_down(role, login_as, make_user):
    response = login_as(make_user(role)).get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["status"], body["down"]) == ("down", ["workers", "scheduler"])
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["workers"] == {"ok": False, "count": 0}
    assert body["scheduler"] == {"ok": False, "error": "no heartbeat"}


def test_all_up_in_detail(token_app, worker, heartbeat):
    response = token_app.test_client().get("/healthz", headers=bearer(TOKEN))
    assert response.status_code == 200
    body = response.get_json()
    assert 0 <= body.pop("scheduler")["heartbeat_age_s"] < 5
    assert body == {
        "status": "up", "down": [],
        "database": {"ok": True, "backend": body["database"]["backend"]},
        "redis": {"ok": True}, "workers": {"ok": True, "count": 1},
    }


@pytest.mark.parametrize(("config_token", "header"), [
    (TOKEN, bearer("wrong-token")),
    (TOKEN, {"Authorization": TOKEN}),  # no scheme
    (TOKEN, {"Authorization": f"Basic {TOKEN}"}),
    ("", bearer("")),  # unset: token access disabled, an empty bearer included
])
def test_a_wrong_or_disabled_token_shows_nothing(app_config, config_token, header):
    app = create_app({**app_config, "HELPDESK_HEALTH_TOKEN": config_token})
    response = app.test_client().get("/healthz", headers=header)
    assert (response.status_code, response.get_json()) == (503, {"status": "down"})


def test_a_stale_heartbeat_is_a_stopped_scheduler(token_app, worker, redis):
    redis.set(CRON_HEARTBEAT, f"{time.time() - HEARTBEAT_TTL - 5:.3f}")
    body = token_app.test_client().get("/healthz", headers=bearer(TOKEN)).get_json()
    assert body["down"] == ["scheduler"]
    assert body["scheduler"]["heartbeat_age_s"] > HEARTBEAT_TTL


def test_a_killed_worker_is_not_counted(token_app, worker, redis):
    # A SIGKILLed worker leaves its key in rq:workers; its hash expires with its TTL.
    redis.sadd("rq:workers", "rq:worker:killed-long-ago")
    body = token_app.test_client().get("/healthz", headers=bearer(TOKEN)).get_json()
    assert body["workers"] == {"ok": True, "count": 1}


def test_dead_redis_is_named_quickly(app_config):
    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0",
                      "HELPDESK_HEALTH_TOKEN": TOKEN})
    started = time.monotonic()
    response = app.test_client().get("/healthz", headers=bearer(TOKEN))
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.get_json()["down"] == ["redis", "workers", "scheduler"]


def test_dead_database_is_named(app_config):
    app = create_app({**app_config, "HELPDESK_HEALTH_TOKEN": TOKEN,
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/x"})
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "down"}
    response = client.get("/healthz", headers=bearer(TOKEN))
    assert response.status_code == 503
    assert "database" in response.get_json()["down"]


def test_the_token_comes_from_the_environment():
    assert Config.from_env({"SECRET_KEY": "x"}).HELPDESK_HEALTH_TOKEN == ""
    config = Config.from_env({"SECRET_KEY": "x", "HELPDESK_HEALTH_TOKEN": " t0ken \n"})
    assert config.HELPDESK_HEALTH_TOKEN == "t0ken"
