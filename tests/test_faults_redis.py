"""Redis restarts under real processes: a private `redis-server` (no persistence, a password),
`flask helpdesk worker` and `flask helpdesk cron` against it, then SHUTDOWN NOSAVE and a new
server on the same port; and `make run`'s supervisor restarting a child killed with SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Worker
from sqlalchemy import select

from app import create_app
from helpdesk import cron as helpdesk_cron
from helpdesk import workflows
from helpdesk.extensions import db, get_queue, get_redis
from helpdesk.launcher import MAX_CRASHES, Child, CrashBudget, _watch
from helpdesk.models import Category, Customer, IntentState, JobIntent, Role, Ticket

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-redis-pw"
TOKEN = "health-token-for-tests"

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs the redis-server binary")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Every wait's deadline is this many times its nominal figure: a deadline only says when to give
#: up on something that should happen, and on a loaded machine (CI runs the two halves side by
#: side) starting `helpdesk serve` and its children took over 30 s once. Nothing waits longer
#: when things go well.
PATIENCE = 3


def wait_for(what: str, check, timeout: float, every: float = 0.2):
    """Poll `check()` until it returns something truthy; fail naming `what` at the deadline."""
    timeout *= PATIENCE
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class RedisServer:
    """A private redis-server on one port, started again on the same port after a stop."""

    def __init__(self, folder: Path):
        self.port, self.folder = free_port(), folder
        self.url = f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--save", "", "--appendonly", "no", "--port", str(self.port),
             "--bind", "127.0.0.1", "--requirepass", PASSWORD, "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis(port=self.port, password=PASSWORD, socket_timeout=1)
        wait_for("redis-server to answer", lambda: self._answers(client), 10, every=0.05)

    @staticmethod
    def _answers(client: Redis) -> bool:
        try:
            return client.ping()
        except Exception:
            return False

    def stop(self) -> None:
        """SHUTDOWN NOSAVE: everything Redis held is gone, as after a crash."""
        if self.proc and self.proc.poll() is None:
            try:
                # no retries: redis-py would retry the closed connection, 3.5 s for nothing
                Redis(port=self.port, password=PASSWORD, socket_timeout=2,
                      retry=Retry(NoBackoff(), 0)).shutdown(nosave=True)
            except Exception:  # redis-py may report the closed connection
                pass
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def spawn(tmp_path, database_uri):
    """Start `flask --app app <args>` with its output in a log file; stop them all after."""
    started = []

    def start(name: str, *args: str, **env) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
            stdout=log.open("wb"), stderr=subprocess.STDOUT,
            env={**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "test-secret",
                 "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO", **env})
        started.append(proc)
        return proc, log

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def says(log: Path, text: str, times: int = 1) -> bool:
    return log.read_text(errors="replace").count(text) >= times


def health(app) -> dict:
    return app.test_client().get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"}
                                 ).get_json()


def worker_states(app) -> list[str]:
    with app.app_context():
        return [w.get_state() for w in Worker.all(connection=get_redis())]


def route_new_ticket(app, customer_id: int, category_id: int) -> int:
    """Create a ticket through the workflow; wait for the worker to do its routing intent."""
    with app.app_context(), workflows.atomic():
        ticket = workflows.create_ticket(db.session.get(Customer, customer_id), "Sin acceso",
                                         "No puedo entrar.", actor=None,
                                         category=db.session.get(Category, category_id))
        ticket_id = ticket.id

    def routed():
        with app.app_context():
            return [i.state for i in db.session.scalars(select(JobIntent))
                    if i.args == [ticket_id]] == [IntentState.DONE]

    wait_for(f"the worker to route ticket {ticket_id}", routed, 15)
    with app.app_context():
        return db.session.get(Ticket, ticket_id).assignee_id


def test_worker_and_cron_live_through_redis_restarts(
        app_config, private_redis, spawn, make_team, make_user, make_category, make_customer):
    team = make_team("Cuenta")
    agent = make_user(Role.AGENT, teams=[team], capacity=50)
    category = make_category("acceso", team_id=team)
    customer = make_customer()
    local = create_app({**app_config, "REDIS_URL": private_redis.url,
                        "HELPDESK_HEALTH_TOKEN": TOKEN})
    worker, worker_log = spawn("worker", "helpdesk", "worker", REDIS_URL=private_redis.url)
    cron, cron_log = spawn("cron", "helpdesk", "cron", REDIS_URL=private_redis.url)
    wait_for("worker and scheduler up", lambda: health(local)["status"] == "up", 20)
    wait_for("the worker idle", lambda: worker_states(local) == ["idle"], 10)

    # 1. The worker waits in rq's blocking dequeue; the scheduler sleeps between ticks.
    private_redis.stop()
    lost, back = (f"Redis at 127.0.0.1:{private_redis.port} {w}" for w in ("lost", "back"))
    wait_for("both to notice", lambda: says(worker_log, lost) and says(cron_log, lost), 15)
    private_redis.start()
    wait_for("both to reconnect", lambda: says(worker_log, back) and says(cron_log, back), 20)
    assert worker.poll() is None and cron.poll() is None
    assert route_new_ticket(local, customer, category) == agent
    body = health(local)
    assert body["status"] == "up", body
    assert body["workers"]["count"] == 1 and body["scheduler"]["ok"]
    assert says(worker_log, "registered again")

    # 2. The worker is running a job: rq's own loop ends, and a new worker takes over.
    with local.app_context():
        get_queue("default").enqueue("time.sleep", 3)
    wait_for("the worker busy", lambda: worker_states(local) == ["busy"], 10)
    private_redis.stop()
    wait_for("the worker to notice", lambda: says(worker_log, lost, 2), 15)
    private_redis.start()
    wait_for("the worker to reconnect", lambda: says(worker_log, back, 2), 20)
    assert worker.poll() is None and cron.poll() is None
    assert route_new_ticket(local, customer, category) == agent
    wait_for("a worker counted", lambda: health(local)["workers"] == {"ok": True, "count": 1}, 5)
    assert PASSWORD not in worker_log.read_text() + cron_log.read_text()

    # 3. Only another live scheduler holding the lock makes the scheduler stop.
    with local.app_context():
        get_redis().set(helpdesk_cron.CRON_LOCK, "other-host 1 theirs", ex=60)
    assert cron.wait(timeout=2 * helpdesk_cron.HEARTBEAT_INTERVAL + 5) == 1
    assert says(cron_log, "another helpdesk cron scheduler took over while Redis was away")


def get(url: str, token: str | None = None) -> tuple[int, dict | str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urlopen(Request(url, headers=headers), timeout=5) as response:
            status, raw, kind = response.status, response.read(), response.headers["Content-Type"]
    except HTTPError as exc:
        status, raw, kind = exc.code, exc.read(), exc.headers["Content-Type"]
    except OSError:
        return 0, ""
    return status, json.loads(raw) if kind == "application/json" else raw.decode()


def children_of(parent: int) -> dict[str, int]:
    """The live children of `parent` by role (worker, cron, web), read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            args = (entry / "cmdline").read_bytes().decode().split("\0")
        except (OSError, IndexError):
            continue
        if int(fields[1]) != parent or fields[0] == "Z":
            continue
        for role, word in (("worker", "worker"), ("cron", "cron"), ("web", "run")):
            if word in args:
                found[role] = int(entry.name)
    return found


def test_supervisor_restarts_a_killed_child_and_keeps_the_panel_up(private_redis, spawn):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve, log = spawn("serve", "helpdesk", "serve", "--port", str(port), "--no-demo",
                       REDIS_URL=private_redis.url, HELPDESK_HEALTH_TOKEN=TOKEN)
    wait_for("the panel", lambda: get(f"{base}/login")[0] == 200, 30)
    first = wait_for("three children", lambda: len(c := children_of(serve.pid)) == 3 and c, 10)
    redis = Redis.from_url(private_redis.url)
    wait_for("the first cron to hold the lock", lambda: (
        holder := redis.get(helpdesk_cron.CRON_LOCK)) and holder.split()[1] == str(
        first["cron"]).encode(), 15)  # killed before it took the lock, there is none to take over

    os.kill(first["cron"], signal.SIGKILL)
    now = wait_for("a new cron", lambda: (c := children_of(serve.pid)).get("cron") not in (
        None, first["cron"]) and c, 15)
    assert serve.poll() is None
    assert (now["worker"], now["web"]) == (first["worker"], first["web"])
    assert says(log, "cron exited unexpectedly (status -9); restarting in 1 s")
    wait_for("the new cron to take the dead one's lock",
             lambda: says(log, "held by a scheduler that died on this host"), 10)

    assert get(f"{base}/healthz") in ((200, {"status": "up"}), (503, {"status": "down"}))
    status, body = wait_for("everything up", lambda: (r := get(f"{base}/healthz", TOKEN))[0]
                            == 200 and r, 15)
    assert body["workers"]["count"] == 1 and body["scheduler"]["ok"]

    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=15) == 0
    assert says(log, "Stopped.")
    assert not any(Path(f"/proc/{pid}").exists() for pid in {*first.values(), *now.values()})


def test_crash_budget_gives_up_only_on_many_crashes_in_the_window():
    budget = CrashBudget()
    assert [budget.crashed(t) for t in range(MAX_CRASHES)] == [1, 2, 4, 8, 10]
    assert budget.crashed(MAX_CRASHES) is None  # the sixth within a minute
    spread = CrashBudget()
    assert all(spread.crashed(t * 20.0) is not None for t in range(20))  # one every 20 s


def test_supervisor_gives_up_on_a_child_past_its_budget(capsys):
    # `flask --version` exits at once: a child that crashes on every start.
    child = Child("flaky", ["--version"], budget=CrashBudget(limit=1))
    child.start(dict(os.environ))
    given_up = wait_for("the supervisor to give up",
                        lambda: _watch([child], dict(os.environ), time.monotonic()), 15, 0.1)
    assert given_up == "flaky"
    err = capsys.readouterr().err
    assert "flaky exited unexpectedly (status 0); restarting in 1 s" in err
    assert err.count("flaky restarted") == 1


def test_cron_lock_is_taken_over_only_from_a_dead_scheduler_on_this_host(redis):
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process
    host = socket.gethostname()
    for holder, taken in [("other-host 1 abc", False), (f"{host} {os.getpid()} abc", False),
                          ("an unknown holder", False), (f"{host} {gone.pid} abc", True)]:
        redis.set(helpdesk_cron.CRON_LOCK, holder, ex=30)
        assert helpdesk_cron.acquire_cron_lock(redis, "mine") is taken, holder
        assert redis.get(helpdesk_cron.CRON_LOCK).decode() == ("mine" if taken else holder)


def test_health_answers_quickly_while_redis_is_stalled(app_config, private_redis):
    local = create_app({**app_config, "REDIS_URL": private_redis.url,
                        "HELPDESK_HEALTH_TOKEN": TOKEN})
    private_redis.proc.send_signal(signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        body = health(local)
        assert time.monotonic() - started < 4
        assert body["down"] == ["redis", "workers", "scheduler"]
        assert body["redis"] == {"ok": False, "error": "TimeoutError"}
    finally:
        private_redis.proc.send_signal(signal.SIGCONT)
