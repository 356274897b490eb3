"""Work a transaction stages to run as its very last statements before it commits.

Some writes take a lock that every transaction of a tenant queues on (the audit chain's head
row). Done where the action happens, the lock is held through the rest of the transaction and
the tenant's transactions run one at a time. Staged instead, they run in ``before_commit``:
the lock is held only for those statements and the commit.

Three rules keep staged work equivalent to writing it in place:

- a SAVEPOINT (or the transaction) that rolls back drops what was staged inside it;
- a read of a table a stage writes (``reads``) runs the staged work first, so the transaction
  still reads its own writes (e.g. a test or a viewer reading the audit log it just added to);
- stages run in ``order`` (lowest first), each stage's items in the order they were staged.

Installed on the session factories by :func:`install_staging` (``Database`` does it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.util import find_tables

_STAGES = "qlink.staged"
_WORD = re.compile(r"\w+")
_WRITTEN = "qlink.staged_written"  # batches written early inside a SAVEPOINT

Runner = Callable[[Session, list[Any]], None]
_Item = tuple[Any, "SessionTransaction | None"]


@dataclass
class _Stage:
    order: int
    run: Runner
    reads: frozenset[str]
    items: list[_Item] = field(default_factory=list)


def stage(
    session: Session,
    name: str,
    item: Any,
    *,
    run: Runner,
    order: int = 0,
    reads: frozenset[str] = frozenset(),
) -> None:
    """Stage ``item`` under ``name``; ``run(session, items)`` writes them just before commit."""
    _stage(session, name, run, order, reads).items.append((item, _current(session)))


def staged(session: Session, name: str) -> list[Any]:
    """The items staged under ``name`` and not yet written."""
    found = session.info.get(_STAGES, {}).get(name)
    return [item for item, _ in found.items] if found else []


def run_staged(session: Session) -> None:
    """Write everything staged now (``before_commit`` does it; so does a read of its tables).

    Stages run lowest ``order`` first; a stage is taken off the session just before it runs,
    so a running stage can still see (``staged``) and add to the stages after it.
    """
    stages: dict[str, _Stage] | None = session.info.get(_STAGES)
    savepoint = session.get_nested_transaction()
    while stages:
        name = min(stages, key=lambda n: stages[n].order)
        one = stages.pop(name)
        if not one.items:
            continue
        if savepoint is not None:  # a rollback of it must stage these again
            session.info.setdefault(_WRITTEN, []).append((savepoint, name, one))
        one.run(session, [item for item, _ in one.items])
    session.info.pop(_STAGES, None)


def install_staging(factory: sessionmaker[Session]) -> None:
    """Run staged work before each commit of ``factory``'s sessions (idempotent)."""
    for name, listener in (
        ("before_commit", _before_commit),
        ("after_soft_rollback", _after_rollback),
        ("do_orm_execute", _before_read),
    ):
        if not event.contains(factory, name, listener):
            event.listen(factory, name, listener)


def _stage(session: Session, name: str, run: Runner, order: int, reads: frozenset[str]) -> _Stage:
    stages: dict[str, _Stage] = session.info.setdefault(_STAGES, {})
    found = stages.get(name)
    if found is None:
        found = stages[name] = _Stage(order, run, reads)
    return found


def _current(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released, not the commit
        return
    run_staged(session)
    session.info.pop(_WRITTEN, None)


def _after_rollback(session: Session, rolled_back: SessionTransaction) -> None:
    if rolled_back.parent is None:  # the whole transaction: nothing it staged survives
        session.info.pop(_STAGES, None)
        session.info.pop(_WRITTEN, None)
        return
    for one in session.info.get(_STAGES, {}).values():
        one.items = [(i, m) for i, m in one.items if not _inside(m, rolled_back)]
    # Items staged before this SAVEPOINT but written inside it (a read ran them) are unwritten
    # by the rollback: stage them again, ahead of anything staged since.
    written = session.info.get(_WRITTEN, [])
    undone = [w for w in written if _inside(w[0], rolled_back)]
    session.info[_WRITTEN] = [w for w in written if not _inside(w[0], rolled_back)]
    for _, name, one in reversed(undone):
        keep = [(i, m) for i, m in one.items if not _inside(m, rolled_back)]
        if keep:
            again = _stage(session, name, one.run, one.order, one.reads)
            again.items[:0] = keep


def _inside(marker: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while marker is not None:
        if marker is rolled_back:
            return True
        marker = marker.parent
    return False


def _before_read(state: ORMExecuteState) -> None:
    stages: dict[str, _Stage] | None = state.session.info.get(_STAGES)
    if not stages:
        return
    watched = frozenset().union(*(s.reads for s in stages.values() if s.items))
    if watched and watched & _tables(state.statement):
        run_staged(state.session)


def _tables(statement: Any) -> set[str]:
    if isinstance(statement, TextClause):
        return set(_WORD.findall(statement.text.lower()))
    return {t.name for t in find_tables(statement, include_crud=True, include_joins=True)}
