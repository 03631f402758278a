"""A full rebuild on PostgreSQL: every report table is filled anew beside the old one and
swapped in at the end, in the rebuild's one transaction.

Deleting a million rows and inserting them again through three indexes each took most of a
rebuild: each row's index entries land at random pages. Here each new table (`<name>__new`,
columns and defaults copied, no index) takes a bulk INSERT … SELECT, then its indexes and
constraints are built once, sorted, from the catalogs' own definitions (so a later migration's
index is rebuilt too), and the planner's statistics are taken. Only then are the old tables
locked — all at once, NOWAIT, retried, so a page reading them never deadlocks with the swap —
dropped, and the new ones renamed in; the commit follows at once. Readers see the old figures
until then; a run killed before the commit leaves nothing behind (the new tables were created
in its transaction).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import MetaData, column, insert, table, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased

from ..extensions import db

SUFFIX = "__new"
#: Memory for the rebuild's sorts, hashes and index builds (this transaction only).
WORK_MEM = "256MB"
LOCK_TRIES = 100
LOCK_PAUSE = 0.1


def _session_settings() -> None:
    db.session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    db.session.execute(text(f"SET LOCAL maintenance_work_mem = '{WORK_MEM}'"))


def _definitions(name: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(index name, CREATE INDEX) of the plain indexes and (constraint name, definition) of
    the primary and foreign keys and unique constraints of a table."""
    indexes = db.session.execute(text(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = CAST(:t AS regclass) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY i.relname"), {"t": name}).all()
    constraints = db.session.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u', 'f') "
        "ORDER BY contype DESC, conname"), {"t": name}).all()
    return [tuple(r) for r in indexes], [tuple(r) for r in constraints]


class Shadow:
    """The new twin of one report table, and how to swap it in."""

    def __init__(self, model):
        self.model = model
        self.name = model.__tablename__
        self.new = self.name + SUFFIX
        self.indexes, self.constraints = _definitions(self.name)
        db.session.execute(text(f"CREATE TABLE {self.new} (LIKE {self.name} "
                                "INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
        self.table = model.__table__.to_metadata(MetaData(), name=self.new)

    def alias(self):
        """The model, reading the new table (for the cubes' GROUP BY over the new facts)."""
        return aliased(self.model, self.table, adapt_on_names=True)

    def fill(self, names: list[str], select_) -> None:
        """INSERT … SELECT into the new table."""
        target = table(self.new, *(column(n) for n in names))
        db.session.execute(insert(target).from_select(names, select_))

    def index(self) -> None:
        """Build the new table's keys and indexes (temporary names), then its statistics."""
        for name, definition in self.constraints:
            db.session.execute(text(f"ALTER TABLE {self.new} ADD CONSTRAINT {name}{SUFFIX} "
                                    f"{definition}"))
        for name, definition in self.indexes:
            head, _sep, tail = definition.partition(" ON ")
            head = head.replace(f" {name}", f" {name}{SUFFIX}", 1)
            tail = tail.replace(f"{self.name} ", f"{self.new} ", 1)
            db.session.execute(text(f"{head} ON {tail}"))
        db.session.execute(text(f"ANALYZE {self.new}"))

    def swap(self) -> None:
        """Drop the old table and give the new one its name, keys' and indexes' names, and the
        id sequence (the caller holds the old table's lock)."""
        sequence = db.session.scalar(text(
            "SELECT pg_get_serial_sequence(:t, 'id') FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :t AND column_name = 'id'"),
            {"t": self.name})
        if sequence:
            db.session.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {self.new}.id"))
        db.session.execute(text(f"DROP TABLE {self.name}"))
        db.session.execute(text(f"ALTER TABLE {self.new} RENAME TO {self.name}"))
        for name, _definition in self.constraints:
            db.session.execute(text(f"ALTER TABLE {self.name} RENAME CONSTRAINT "
                                    f"{name}{SUFFIX} TO {name}"))
        for name, _definition in self.indexes:
            db.session.execute(text(f"ALTER INDEX {name}{SUFFIX} RENAME TO {name}"))


def lock_all(names: list[str], alive: Callable[[], None]) -> None:
    """ACCESS EXCLUSIVE on every table at once, without waiting behind a reader (which could
    deadlock with a page that read one table and waits for the next): NOWAIT, retried."""
    for attempt in range(LOCK_TRIES):
        try:
            with db.session.begin_nested():
                db.session.execute(text(f"LOCK TABLE {', '.join(names)} "
                                        "IN ACCESS EXCLUSIVE MODE NOWAIT"))
            return
        except OperationalError:
            if attempt == LOCK_TRIES - 1:
                raise
            alive()
            time.sleep(LOCK_PAUSE)


def rebuild(facts: dict, cubes: dict, alive: Callable[[], None],
            step: Callable[[], None]) -> None:
    """Fill new twins of the facts and the cubes, index them, swap them in (no commit).

    :param facts: model -> (column names, SELECT of its rows)
    :param cubes: model -> a function of the new facts' aliases giving (names, SELECT)
    """
    _session_settings()
    shadows = {}
    for model, (names, select_) in facts.items():
        shadows[model] = Shadow(model)
        shadows[model].fill(names, select_)
        step()
    aliases = {model: shadow.alias() for model, shadow in shadows.items()}
    for model, build in cubes.items():
        shadows[model] = Shadow(model)
        names, select_ = build(aliases)
        shadows[model].fill(names, select_)
        step()
    for shadow in shadows.values():
        shadow.index()
        alive()
    lock_all([s.name for s in shadows.values()], alive)
    for shadow in shadows.values():
        shadow.swap()
