"""Time `helpdesk.demo.seed` on a fresh, migrated SQLite database (or --database-url).

    .venv/bin/python bench/demo_seed.py [--tickets 100000] [--seed 42]

Only the seed is timed. The last line printed is JSON: {"tickets": …, "seconds": …, …}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    """The command line: how many tickets, which seed, which database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", default="",
                        help="an EMPTY database to use instead of a temporary SQLite file")
    return parser.parse_args()


def run(tickets: int, seed: int, uri: str, instance: str) -> dict:
    """Migrate the empty database, seed it, count what landed; the timing and counts."""
    import flask_migrate
    from sqlalchemy import func, select

    from app import create_app
    from helpdesk import demo
    from helpdesk.extensions import db
    from helpdesk.models import Message, Ticket

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "REDIS_URL": "",
                      "HELPDESK_INSTANCE": instance, "SECRET_KEY": "bench"})
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
        started = time.perf_counter()
        result = demo.seed(tickets=tickets, seed=seed, progress=False)
        seconds = time.perf_counter() - started
        count = db.session.scalar(select(func.count()).select_from(Ticket))
        messages = db.session.scalar(select(func.count()).select_from(Message))
        backend = db.engine.dialect.name
        db.session.remove()
        db.engine.dispose()
    if count != tickets:
        raise SystemExit(f"Error: expected {tickets} tickets, found {count}")
    return {"tickets": count, "seconds": round(seconds, 1), "messages": messages,
            "customers": result["customers"], "database": backend}


def main() -> None:
    """Run the benchmark in a throwaway directory and print the JSON line last."""
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-seed-") as tmp:
        uri = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        print(json.dumps(run(args.tickets, args.seed, uri, tmp)))


if __name__ == "__main__":
    main()
