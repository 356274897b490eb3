"""Calling order (SPEC §4): emergency first, then a per-tenant score, with a priority cap.

``score = priority_weight(kind) + wait_penalty × minutes waited + department_load_factor``

* A booked token holds a virtual place at its slot time: its wait is counted from
  ``max(check-in, slot time)``, so a patient who checks in early does not jump walk-ins who
  arrived before the slot, and a walk-in fills the gap in front of it.
* Emergencies always go first and are never capped. The other priority kinds (VIP,
  elderly/pregnancy, lab-return) are capped: at most one of them in any ``cap_every``
  consecutive calls of a doctor, unless nobody else is waiting (a doctor never idles).
* The wait penalty grows without bound while weights are fixed, so every token rises to the
  top eventually: a token that waited ``max_weight / wait_penalty`` minutes longer than a newer
  one is ahead of it whatever their kinds (emergencies excepted).

Rules come from the tenant's ``settings`` overridden by the department's ``queue_settings``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "emergency": 1000,
    "vip": 30,
    "priority": 30,
    "lab_return": 30,
    "booked": 15,
    "follow_up": 5,
    "walk_in": 0,
}
CAPPED_KINDS = frozenset({"vip", "priority", "lab_return"})


@dataclass(frozen=True)
class QueueRules:
    """A clinic's queue knobs, all with safe defaults."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    wait_penalty_per_minute: float = 1.0
    load_factor_per_waiting: float = 0.0
    cap_every: int = 3
    rolling_window: int = 5
    eta_shift_minutes: int = 15
    near_turn_position: int = 3
    default_pause_minutes: int = 15
    lab_return_minutes: int = 30
    rating_request_minutes: int = 30  # after a finished visit, the patient is asked to rate it

    @property
    def capped(self) -> frozenset[str]:
        """Kinds limited by the priority cap."""
        return CAPPED_KINDS


_NUMERIC = {
    "wait_penalty_per_minute": (float, 0.01, 100.0),
    "load_factor_per_waiting": (float, 0.0, 100.0),
    "cap_every": (int, 1, 100),
    "rolling_window": (int, 1, 50),
    "eta_shift_minutes": (int, 1, 240),
    "near_turn_position": (int, 0, 50),
    "default_pause_minutes": (int, 1, 240),
    "lab_return_minutes": (int, 1, 480),
    "rating_request_minutes": (int, 0, 1440),
}


def rules_from(*layers: Mapping[str, Any] | None) -> QueueRules:
    """Build rules from settings layers (tenant first, then department); bad values are ignored.

    Settings are edited by clinic admins through a validated form; here an out-of-range or
    malformed value falls back to the default rather than stopping the queue.
    """
    weights = dict(DEFAULT_WEIGHTS)
    values: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        custom = layer.get("priority_weights") or {}
        if isinstance(custom, Mapping):
            for kind, weight in custom.items():
                if kind in DEFAULT_WEIGHTS and _is_number(weight) and kind != "emergency":
                    weights[kind] = float(weight)
        for name, (kind_of, low, high) in _NUMERIC.items():
            raw = layer.get(name)
            if _is_number(raw) and low <= raw <= high:
                values[name] = kind_of(raw)
    return QueueRules(weights=weights, **values)


def weights_from(settings: Mapping[str, Any]) -> dict[str, float]:
    """Return the default weights overridden by the tenant's ``priority_weights`` setting."""
    return dict(rules_from(settings).weights)


def _is_number(value: Any) -> TypeGuard[float]:
    """A finite int or float (not a bool, NaN or infinity: those would scramble the order)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Candidate:
    """A waiting token as the ranking sees it."""

    id: int
    kind: str
    issued_at: dt.datetime
    target_at: dt.datetime | None = None
    department_id: int | None = None


def waited_minutes(candidate: Candidate, now: dt.datetime) -> float:
    """Minutes since the token's place in line began (slot time for an early booked patient)."""
    start = candidate.issued_at
    if candidate.target_at is not None and candidate.target_at > start:
        start = candidate.target_at
    return (now - start).total_seconds() / 60


def score(
    kind: str,
    waited: float,
    weights: Mapping[str, float],
    *,
    wait_penalty: float = 1.0,
    load_factor: float = 0.0,
) -> float:
    """Return ``priority_weight(kind) + wait_penalty × waited + load_factor``.

    ``waited`` may be negative for a booked patient before their slot (they wait behind).
    """
    return weights.get(kind, 0.0) + wait_penalty * waited + load_factor


def rank(
    candidates: Iterable[Candidate],
    now: dt.datetime,
    rules: QueueRules | Mapping[str, float],
    *,
    recent_kinds: Sequence[str] = (),
    load_factors: Mapping[int, float] | None = None,
) -> list[Candidate]:
    """Return the predicted calling order, applying the priority cap call by call.

    ``recent_kinds`` are the kinds of the doctor's latest calls, newest first; they decide
    whether the next call may be a capped priority kind.
    """
    if not isinstance(rules, QueueRules):
        rules = QueueRules(weights=dict(rules))
    loads = load_factors or {}
    by_score = sorted(candidates, key=lambda c: _key(c, now, rules, _load(c, loads)))
    size = max(rules.cap_every - 1, 0)
    window = deque(recent_kinds[:size], maxlen=size) if size else None
    free = deque(c for c in by_score if c.kind not in rules.capped)
    capped = deque(c for c in by_score if c.kind in rules.capped)
    position = {c.id: i for i, c in enumerate(by_score)}
    order: list[Candidate] = []
    while free or capped:
        cap_used = window is not None and any(k in rules.capped for k in window)
        take_capped = bool(capped) and (
            not free or (not cap_used and position[capped[0].id] < position[free[0].id])
        )
        pick = capped.popleft() if take_capped else free.popleft()
        order.append(pick)
        if window is not None:
            window.appendleft(pick.kind)
    return order


def _load(c: Candidate, loads: Mapping[int, float]) -> float:
    return 0.0 if c.department_id is None else loads.get(c.department_id, 0.0)


def _key(
    c: Candidate, now: dt.datetime, rules: QueueRules, load_factor: float
) -> tuple[bool, float, dt.datetime, int]:
    value = score(
        c.kind,
        waited_minutes(c, now),
        rules.weights,
        wait_penalty=rules.wait_penalty_per_minute,
        load_factor=load_factor,
    )
    return (c.kind != "emergency", -value, c.issued_at, c.id)


def explain_score(
    c: Candidate, now: dt.datetime, rules: QueueRules, load_factor: float = 0.0
) -> str:
    """Spell a token's score out for a receptionist."""
    waited = waited_minutes(c, now)
    weight = rules.weights.get(c.kind, 0.0)
    parts = [f"{c.kind.replace('_', ' ')} {weight:g}"]
    parts.append(f"waited {waited:.0f} min × {rules.wait_penalty_per_minute:g}")
    if load_factor:
        parts.append(f"department load {load_factor:g}")
    total = score(
        c.kind,
        waited,
        rules.weights,
        wait_penalty=rules.wait_penalty_per_minute,
        load_factor=load_factor,
    )
    return " + ".join(parts) + f" = {total:.0f}"
