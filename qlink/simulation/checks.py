"""Reading the simulated day back from the database: invariants, waits and EWT accuracy.

The invariants: duplicated or skipped codes, tokens acknowledged but lost, tokens called twice
(without a recall, a lab return or a transfer in between), rows that crossed tenants. Then the
longest and mean wait per kind (and mean wait per allocation strategy), and how far the EWT
given at issue was from the real wait, next to the naive "people ahead × fixed average".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select

from db.engine import ALL_TENANTS, Database
from db.models import Doctor, OutboxMessage, Patient, QueueEvent, QueueToken
from qlink.simulation.record import DayLog, Issued
from qlink.simulation.scenario import CLOSE, SLOT_MINUTES, Clinic, instant


def check_day(
    database: Database, clinics: list[Clinic], log: DayLog, day: dt.date
) -> dict[str, Any]:
    """Read the day back from the database and check every invariant."""
    tenant_ids = [c.tenant_id for c in clinics]
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        tokens = session.execute(
            select(
                QueueToken.id,
                QueueToken.tenant_id,
                QueueToken.department_id,
                QueueToken.number,
                QueueToken.code,
                QueueToken.patient_id,
                QueueToken.doctor_id,
                QueueToken.kind,
                QueueToken.status,
                QueueToken.issued_at,
                QueueToken.started_at,
                QueueToken.finished_at,
            ).where(QueueToken.tenant_id.in_(tenant_ids), QueueToken.service_date == day)
        ).all()
        events = session.execute(
            select(
                QueueEvent.tenant_id,
                QueueEvent.token_id,
                QueueEvent.type,
                QueueEvent.doctor_id,
                QueueEvent.created_at,
            )
            .where(QueueEvent.tenant_id.in_(tenant_ids))
            .order_by(QueueEvent.id)
        ).all()
        patients = dict(
            session.execute(
                select(Patient.id, Patient.tenant_id).where(Patient.tenant_id.in_(tenant_ids))
            ).all()
        )
        doctor_tenant = dict(
            session.execute(
                select(Doctor.id, Doctor.tenant_id).where(Doctor.tenant_id.in_(tenant_ids))
            ).all()
        )
        outbox = session.execute(
            select(OutboxMessage.tenant_id, OutboxMessage.payload).where(
                OutboxMessage.tenant_id.in_(tenant_ids)
            )
        ).all()
    by_id = {t.id: t for t in tokens}
    result: dict[str, Any] = {}
    numbers: dict[tuple[int, int], list[int]] = defaultdict(list)
    for t in tokens:
        numbers[(t.tenant_id, t.department_id)].append(t.number)
    result["duplicates"] = sum(len(n) - len(set(n)) for n in numbers.values()) + (
        len(tokens) - len({(t.tenant_id, t.code) for t in tokens})
    )
    result["gaps"] = sum(max(n) - len(set(n)) for n in numbers.values())
    issued_events = {e.token_id for e in events if e.type == "TokenIssued"}
    acknowledged = {i.token_id for i in log.issued}
    result["lost"] = len(acknowledged - set(by_id)) + len(set(by_id) - issued_events)
    result["double_called"] = _double_called(events)
    result["cross_tenant_leaks"] = _leaks(
        tokens, events, patients, doctor_tenant, outbox, by_id, log
    )
    first_call = _first_calls(events)
    result["max_wait_minutes_by_kind"] = _max_waits(tokens, first_call, instant(day, CLOSE))
    strategies = {dept_id: strategy for c in clinics for dept_id, _code, strategy in c.departments}
    result["mean_wait_minutes_by_kind"] = _mean_waits(tokens, first_call, lambda t: t.kind)
    result["mean_wait_minutes_by_allocation"] = _mean_waits(
        tokens, first_call, lambda t: strategies.get(t.department_id, "?")
    )
    mae, naive, measured = _ewt_accuracy(log.issued, tokens, events, first_call)
    result["ewt_mae_minutes"] = mae
    result["naive_ewt_mae_minutes"] = naive
    result["ewt_improvement_percent"] = round(100 * (naive - mae) / naive, 1) if naive else None
    result["ewt_tokens_measured"] = measured
    result.update(range_calibration(log.issued, first_call))
    result["final_status"] = dict(Counter(t.status for t in tokens))
    result["tokens_by_kind"] = dict(Counter(t.kind for t in tokens))
    return result


_RECALLING = {"TokenRecalled", "TokenReturnedFromLab", "TokenTransferred"}


def _double_called(events: Iterable[Any]) -> int:
    """Tokens called again without a recall, a lab return or a transfer in between."""
    callable_again: dict[int, bool] = defaultdict(lambda: True)
    doubles = set()
    for e in events:
        if e.token_id is None:
            continue
        if e.type == "TokenCalled":
            if not callable_again[e.token_id]:
                doubles.add(e.token_id)
            callable_again[e.token_id] = False
        elif e.type in _RECALLING:
            callable_again[e.token_id] = True
    return len(doubles)


def _leaks(
    tokens: list[Any],
    events: list[Any],
    patients: dict[int, int],
    doctor_tenant: dict[int, int],
    outbox: list[Any],
    by_id: dict[int, Any],
    log: DayLog,
) -> int:
    """Rows whose tenant disagrees with the rows they point at, and cross-tenant calls."""
    leaks = sum(1 for t in tokens if patients.get(t.patient_id) != t.tenant_id)
    leaks += sum(
        1
        for t in tokens
        if t.doctor_id is not None and doctor_tenant.get(t.doctor_id) != t.tenant_id
    )
    leaks += sum(
        1
        for e in events
        if e.token_id is not None
        and e.token_id in by_id
        and by_id[e.token_id].tenant_id != e.tenant_id
    )
    leaks += sum(
        1
        for tenant_id, payload in outbox
        if (payload or {}).get("token_id") in by_id
        and by_id[payload["token_id"]].tenant_id != tenant_id
    )
    for tenant_id, called in log.calls_by_tenant.items():
        leaks += sum(1 for token_id in called if by_id[token_id].tenant_id != tenant_id)
    return leaks


def _first_calls(events: Iterable[Any]) -> dict[int, dt.datetime]:
    first: dict[int, dt.datetime] = {}
    for e in events:
        if e.type == "TokenCalled" and e.token_id is not None and e.token_id not in first:
            first[e.token_id] = e.created_at
    return first


def _mean_waits(
    tokens: list[Any], first_call: dict[int, dt.datetime], group: Callable[[Any], str]
) -> dict[str, float]:
    """Mean wait from issue to first call, per group, over tokens that were called."""
    waits: dict[str, list[float]] = defaultdict(list)
    for t in tokens:
        if t.id in first_call:
            waits[group(t)].append((first_call[t.id] - t.issued_at).total_seconds() / 60)
    return {key: round(sum(v) / len(v), 1) for key, v in sorted(waits.items())}


def _max_waits(
    tokens: list[Any], first_call: dict[int, dt.datetime], close: dt.datetime
) -> dict[str, float]:
    """Longest wait from issue to first call per kind (still waiting at close counts to close)."""
    longest: dict[str, float] = defaultdict(float)
    for t in tokens:
        end = first_call.get(t.id, close)
        longest[t.kind] = max(longest[t.kind], (end - t.issued_at).total_seconds() / 60)
    return {kind: round(minutes, 1) for kind, minutes in sorted(longest.items())}


def range_calibration(
    issued: Sequence[Issued], first_call: Mapping[int, dt.datetime]
) -> dict[str, object]:
    """How often the first call fell inside the 80 % range given at issue, and its width.

    Overall and by token kind (the range's ends are whole minutes, rounded outwards).
    """
    inside: dict[str, list[bool]] = defaultdict(list)
    widths: list[float] = []
    for i in issued:
        called = first_call.get(i.token_id)
        if called is None or i.eta_low is None or i.eta_high is None:
            continue
        hit = i.eta_low <= called <= i.eta_high
        inside[i.kind].append(hit)
        widths.append((i.eta_high - i.eta_low).total_seconds() / 60)
    every = [hit for hits in inside.values() for hit in hits]
    return {
        "range80_coverage_percent": round(100 * sum(every) / len(every), 1) if every else None,
        "range80_coverage_percent_by_kind": {
            kind: round(100 * sum(hits) / len(hits), 1) for kind, hits in sorted(inside.items())
        },
        "range80_mean_width_minutes": round(sum(widths) / len(widths), 1) if widths else None,
        "range80_tokens_measured": len(every),
    }


def _ewt_accuracy(
    issued: list[Issued],
    tokens: list[Any],
    events: list[Any],
    first_call: dict[int, dt.datetime],
) -> tuple[float, float, int]:
    """MAE of the ETA given at issue and of the naive estimate, against the real first call.

    Naive: the patients already waiting in the same line (the doctor's, or the department
    pool's divided by its doctors) when the token was issued, times one fixed average: the
    day's true mean consultation length (generous: a clinic only knows it roughly).
    """
    lengths = [
        (t.finished_at - t.started_at).total_seconds() / 60
        for t in tokens
        if t.started_at is not None and t.finished_at is not None
    ]
    fixed = sum(lengths) / len(lengths) if lengths else float(SLOT_MINUTES)
    by_id = {t.id: t for t in tokens}
    line_of: dict[int, tuple[str, int]] = {}
    for e in events:
        if e.type == "TokenIssued" and e.token_id in by_id:
            dept = by_id[e.token_id].department_id
            line_of[e.token_id] = ("doctor", e.doctor_id) if e.doctor_id else ("dept", dept)
    doctors_by_dept: dict[int, set[int]] = defaultdict(set)
    for t in tokens:
        if t.doctor_id is not None:
            doctors_by_dept[t.department_id].add(t.doctor_id)
    members: dict[tuple[str, int], list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
    for t in tokens:
        line = line_of.get(t.id)
        if line is not None:
            members[line].append((t.issued_at, first_call.get(t.id)))
    ours, naive = [], []
    for i in issued:
        actual_at = first_call.get(i.token_id)
        line = line_of.get(i.token_id)
        if actual_at is None or i.eta is None or line is None:
            continue
        actual = (actual_at - i.issued_at).total_seconds() / 60
        ahead = sum(
            1
            for issued_at, called_at in members[line]
            if issued_at < i.issued_at and (called_at is None or called_at > i.issued_at)
        )
        servers = 1 if line[0] == "doctor" else max(len(doctors_by_dept[line[1]]), 1)
        ours.append(abs((i.eta - i.issued_at).total_seconds() / 60 - actual))
        naive.append(abs(ahead * fixed / servers - actual))
    if not ours:
        return 0.0, 0.0, 0
    return round(sum(ours) / len(ours), 2), round(sum(naive) / len(naive), 2), len(ours)
