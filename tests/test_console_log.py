"""`make run`'s console: one line per request a person made (static files and the ticket
page's live poll are not logged, nor the development server's banner), and one line per job
from the worker, with the periodic sweeps quiet unless slow (rq's own four lines per job and
its registry housekeeping are not shown)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.request import urlopen

from werkzeug.serving import make_server

from helpdesk import jobs, workflows
from helpdesk.extensions import db, get_queue
from helpdesk.models import Customer

ROOT = Path(__file__).resolve().parent.parent


def test_the_development_server_logs_one_line_per_page(app, caplog):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in ("/static/helpdesk.css", "/admin/static/admin/js/helpers.js",
                         "/favicon.ico", "/login"):
                urlopen(base + path).read()
            try:
                urlopen(base + "/live/ticket/1?pass=x")
            except OSError:
                pass  # refused without a valid pass; still not worth a line
    finally:
        server.shutdown()
        thread.join(5)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len(lines) == 1 and '"GET /login HTTP/1.1" 200' in lines[0], lines


def test_the_development_server_banner_is_not_repeated(app):
    from helpdesk.securitylog import QuietRequests

    quiet = QuietRequests()

    def keeps(message, level=logging.INFO):
        return quiet.filter(logging.LogRecord("werkzeug", level, __file__, 1, message, (), None))

    assert not keeps("WARNING: This is a development server. Do not use it in production.",
                     logging.WARNING)
    assert not keeps(" * Running on http://127.0.0.1:5000")
    assert keeps('127.0.0.1 - - [x] "POST /admin/tickets/3/reply HTTP/1.1" 302 -')
    assert keeps('127.0.0.1 - - [x] "GET /static/x.css HTTP/1.1" 500 -', logging.ERROR)


def test_the_worker_logs_each_job_once_and_the_sweeps_not_at_all(app, database_uri, redis_url,
                                                                  redis):
    with app.app_context(), workflows.atomic():
        customer = Customer(name="Luz", email="luz@example.com")
        db.session.add(customer)
        db.session.flush()
        workflows.create_ticket(customer, "Sin sonido", "Nada se oye.", actor=None)
    with app.app_context():
        queue = get_queue("default")
        intents = len(queue.get_job_ids())
        queue.enqueue(jobs.sweep_outbox)
    assert intents >= 1
    env = {**os.environ, "DATABASE_URL": database_uri, "REDIS_URL": redis_url,
           "SECRET_KEY": "test-secret"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "helpdesk", "worker", "--burst",
         "default"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert sum("default: run_intent done in" in line for line in lines) == intents, output
    for noise in ("Job OK", "result is kept", "Successfully completed", "cleaning registries",
                  "sweep_outbox done", "subscribing to channel"):
        assert noise not in output, output
    assert len(lines) <= intents + 2, output  # + "listening on", + a route's own line at most
