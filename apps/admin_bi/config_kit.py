"""What the configuration pages share: the clinic gate, reads, and one command per action.

A command runs in its own transaction; a domain error becomes ``st.error`` with core's message
and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from apps.admin_bi import kit
from apps.common import auth
from apps.common.runtime import Runtime, runtime
from core.errors import DomainError

T = TypeVar("T")


def page(title: str) -> tuple[Runtime, auth.Staff]:
    """The page header for a clinic admin (the platform admin is sent elsewhere)."""
    rt = runtime()
    staff = kit.clinic_staff()
    assert staff.desk is not None
    st.markdown(f"### {title} · {staff.desk.clinic_name}")
    return rt, staff


def read(rt: Runtime, staff: auth.Staff, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Call a core read in a read-only transaction; stop the page on a domain error."""
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            return fn(session, staff.actor, *args, **kw)
    except DomainError as exc:
        st.error(exc.message)
        st.stop()
        raise


def command(
    rt: Runtime, staff: auth.Staff, done: str, fn: Callable[..., Any], *args: Any, **kw: Any
) -> bool:
    """Run one core command in a transaction; say what happened; True when it was saved."""
    return outcome(rt, staff, done, fn, *args, **kw)[0]


def outcome(
    rt: Runtime, staff: auth.Staff, done: str, fn: Callable[..., T], *args: Any, **kw: Any
) -> tuple[bool, T | None]:
    """Like ``command``, with what the command returned (None when it was refused)."""
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            result = fn(session, staff.actor, *args, **kw)
    except DomainError as exc:
        st.error(exc.message)
        return False, None
    st.success(done)
    return True, result
