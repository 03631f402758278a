"""GET /healthz: 200 when database, Redis and a worker are up; 503 naming what is down."""

from rq import Worker
from rq.serializers import JSONSerializer

from app import create_app
from helpdesk.extensions import get_queue


def test_no_worker_is_named(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["down"] == ["workers"]
    assert body["database"]["ok"] and body["redis"]["ok"]


def test_all_up(app, client, redis):
    with app.app_context():
        worker = Worker([get_queue()], connection=redis, serializer=JSONSerializer)
    worker.register_birth()
    try:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {
            "status": "ok", "down": [],
            "database": {"ok": True, "backend": response.get_json()["database"]["backend"]},
            "redis": {"ok": True}, "workers": {"ok": True, "count": 1},
        }
    finally:
        worker.register_death()


def test_dead_redis_is_named(app_config):
    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["redis", "workers"]


def test_dead_database_is_named(app_config):
    app = create_app({**app_config,
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/x"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "database" in response.get_json()["down"]
