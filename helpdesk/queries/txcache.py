"""Lookups remembered for the length of one database transaction.

A processing run asks for the same SLA policy and the same agents' notice preferences once per
ticket or notice: rows that change rarely, read again and again in one transaction. `cached`
keeps such an answer in the session until the transaction ends (commit or rollback, including
a savepoint's) or the session flushes a change to a table the answer was read from, so a
cached answer is never older than what the transaction itself would read (other transactions'
changes are seen from the next transaction on, as READ COMMITTED would mostly see them)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")

_KEY = "helpdesk.txcache"


def cached(session: Session, tables: frozenset[str], key: Hashable, load: Callable[[], T]) -> T:
    """`load()`'s answer, remembered in `session` for this transaction under `key`; forgotten
    when the transaction ends or the session flushes a row of one of `tables`."""
    store = session.info.setdefault(_KEY, {})
    entry = store.get(key)
    if entry is None:
        entry = store[key] = (tables, load())
    return entry[1]


def forget(session: Session) -> None:
    """Forget every remembered answer of this session."""
    session.info.pop(_KEY, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _transaction_ended(session, *args) -> None:
    forget(session)


@event.listens_for(Session, "after_flush")
def _flushed(session, _context) -> None:
    store = session.info.get(_KEY)
    if not store:
        return
    touched = {obj.__table__.name for obj in (*session.new, *session.dirty, *session.deleted)
               if hasattr(obj, "__table__")}
    if not touched:
        return
    for key in [k for k, (tables, _value) in store.items() if tables & touched]:
        del store[key]


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state) -> None:
    """An UPDATE or DELETE through the session (not the unit of work) on a remembered table."""
    written = state.is_update or state.is_delete or state.is_insert
    if not written or _KEY not in state.session.info:
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    store = state.session.info[_KEY]
    for key in [k for k, (tables, _value) in store.items() if name in tables or name is None]:
        del store[key]
