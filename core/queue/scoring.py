"""Calling order: emergency first, then by a per-tenant weighted score."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "emergency": 1000,
    "vip": 30,
    "priority": 30,
    "lab_return": 30,
    "booked": 15,
    "follow_up": 5,
    "walk_in": 0,
}


@dataclass(frozen=True)
class Candidate:
    """A waiting token as the ranking sees it."""

    id: int
    kind: str
    issued_at: dt.datetime


def weights_from(settings: Mapping[str, Any]) -> dict[str, float]:
    """Return the default weights overridden by the tenant's ``priority_weights`` setting."""
    weights = dict(DEFAULT_WEIGHTS)
    custom = settings.get("priority_weights") or {}
    weights.update({k: float(v) for k, v in custom.items() if k in DEFAULT_WEIGHTS})
    return weights


def score(kind: str, waited_minutes: float, weights: Mapping[str, float]) -> float:
    """Return ``priority_weight(kind) + minutes waited`` (higher is called sooner)."""
    return weights.get(kind, 0.0) + max(waited_minutes, 0.0)


def rank(
    candidates: Iterable[Candidate], now: dt.datetime, weights: Mapping[str, float]
) -> Sequence[Candidate]:
    """Order candidates for calling: emergencies first, then score, then issue order."""

    def key(c: Candidate) -> tuple[bool, float, dt.datetime, int]:
        waited = (now - c.issued_at).total_seconds() / 60
        return (c.kind != "emergency", -score(c.kind, waited, weights), c.issued_at, c.id)

    return sorted(candidates, key=key)
