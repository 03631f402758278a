"""bench/sla_sweep.py's steps at 500 tickets, so the benchmark cannot rot (timings not asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from helpdesk import rules
from helpdesk.extensions import db

BENCH = Path(__file__).resolve().parent.parent / "bench" / "sla_sweep.py"


@pytest.fixture(scope="module")
def bench():
    """The benchmark script, imported as a module."""
    spec = importlib.util.spec_from_file_location("bench_sla_sweep", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_sweep_and_routing_at_500_tickets(app, bench):
    now = rules.utcnow().replace(microsecond=0)
    with app.app_context():
        world = bench.seed_world(agents_per_team=2, customers=20)
        bench.load_tickets(world, 500, now, seed=1)
        mix = bench.sla_mix(now)
        assert sum(mix.values()) == 500 and mix["approaching"] and mix["breached"]

        result, timer = bench.measure_sweep(now, "smoke")
        assert result["sweep_smoke_changed"] == mix["approaching"] + mix["breached"]
        assert result["sweep_smoke_breached"] == mix["breached"]
        assert result["sweep_smoke_notices"] > 0  # per ticket, or a digest per person and team
        assert len(bench.sweep_updates(timer)) == 1  # one statement does it all

        routing = bench.measure_routing(5, warmup=1, seed=1)
        assert routing["route_assigned"] == routing["route_tickets"] == 5
        db.session.remove()


def test_statement_labels_name_the_sweep(bench):
    update = "UPDATE tickets SET sla_state=CASE WHEN tickets.sla_due_at <= ? THEN ? END"
    assert bench.statement_label(update, ()) == bench.SWEEP_LABEL
    assert bench.statement_label(f"WITH changed AS ({update} RETURNING id) SELECT 1", {}) == (
        bench.SWEEP_LABEL)
    assert bench.statement_label("SELECT 1 FROM tickets", {}) == "SELECT 1 … FROM tickets"
