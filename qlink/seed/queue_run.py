"""Run one doctor's simulated day: who is called when, how long each consultation takes."""

from __future__ import annotations

import math
import random
from collections import defaultdict

from qlink.seed.plans import DayWindow, DoctorPlan, Visit

MISSED_RATE = 0.02


def run_queue(rng: random.Random, windows: tuple[DayWindow, ...], visits: list[Visit]) -> None:
    pending = sorted(visits, key=lambda v: v.issued)
    breaks = [b for w in windows for b in w.breaks]
    slot = windows[0].slot
    clock = windows[0].start + rng.uniform(0, 10)  # doctors are rarely early
    while pending:
        clock = _open_at(clock, breaks)
        ready = [v for v in pending if v.issued <= clock]
        if not ready:
            clock = min(v.issued for v in pending)
            continue
        visit = min(ready, key=lambda v: _urgency(v, clock))
        pending.remove(visit)
        clock = _serve(rng, visit, clock, slot)


def _open_at(clock: float, breaks: list[tuple[int, int]]) -> float:
    for start, end in breaks:
        if start <= clock < end:
            return float(end)
    return clock


def _urgency(v: Visit, clock: float) -> float:
    if v.kind == "emergency":
        return -10_000 + v.issued
    if v.kind == "booked" and v.slot and v.slot[0] <= clock + 5:
        return -5_000 + v.slot[0]
    if v.kind == "booked" and v.slot:
        return v.slot[0]  # early for their slot: walk-ins fill the gap first
    return v.issued - (15 if v.kind in ("priority", "vip", "lab_return") else 0)


def _serve(rng: random.Random, v: Visit, clock: float, slot: int) -> float:
    v.called = clock
    if v.kind not in ("booked", "emergency") and rng.random() < MISSED_RATE:
        v.token_status = "missed"
        return clock + 2
    v.token_status = "done"
    v.started = clock + rng.uniform(0.5, 2.5)
    v.finished = v.started + _duration(rng, slot, v)
    wait = v.started - v.issued
    v.eta = max(v.issued + 1, v.started + rng.gauss(0, 5 + 0.25 * wait))
    return v.finished + rng.uniform(0.3, 1.5)


def _duration(rng: random.Random, slot: int, v: Visit) -> float:
    mean = slot * 0.82 * (1.15 if v.visit_type == "new" else 0.8)
    mean *= 1.6 if v.kind == "emergency" else 1.0
    sigma = 0.35
    minutes = rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
    return min(max(minutes, 3.0), slot * 2.5)


def number_tokens(visits: list[Visit], doctors: list[DoctorPlan]) -> None:
    by_dept: dict[str, list[Visit]] = defaultdict(list)
    for v in visits:
        if v.kind is not None:
            by_dept[doctors[v.doctor].dept].append(v)
    for tokens in by_dept.values():
        for number, v in enumerate(sorted(tokens, key=lambda t: (t.issued, t.doctor)), 1):
            v.number = number
