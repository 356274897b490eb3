"""The arithmetic behind the no-show model, free of the database and of the clinic's features.

An L2-penalised logistic regression fitted by damped Newton steps, the penalty chosen by
cross-validated log loss, a smoothed base rate for when there is too little to fit, and the
held-out accuracy measures (Brier score, log loss, ROC AUC) of SPEC §7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

PRIOR_RATE, PRIOR_WEIGHT = 0.10, 2.0  # pseudo-counts: no history reads as a 10% rate
L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)  # by cross-validation
FOLDS = 5
MAX_ITER = 25  # Newton steps; a fit on clinic data converges in under ten
PATIENCE = 2  # penalties in a row worse than the best before the search stops
TOLERANCE = 1e-8  # the largest change of a coefficient (standardised) at convergence


@dataclass(frozen=True)
class Accuracy:
    """Held-out accuracy: lower Brier and log loss are better; AUC 0.5 is a coin toss."""

    brier: float
    log_loss: float
    auc: float | None  # None when the held-out days hold only one outcome


def sigmoid(z: float) -> float:
    """Return 1 / (1 + e^-z) without overflow."""
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def _expit(z: Floats) -> Floats:
    return 0.5 * (1 + np.tanh(0.5 * z))  # the sigmoid, without exp overflow warnings


def smoothed_rate(no_shows: int, rows: int) -> float:
    """Return the no-show rate pulled towards ``PRIOR_RATE`` (never exactly 0 or 1)."""
    return (no_shows + PRIOR_RATE * PRIOR_WEIGHT) / (rows + PRIOR_WEIGHT)


def fit_logistic(
    x: Floats,
    y: Floats,
    *,
    l2: float = 1.0,
    max_iter: int = MAX_ITER,
    start: Floats | None = None,
) -> Floats:
    """Return ``[intercept, *coefs]`` maximising the L2-penalised log-likelihood (Newton).

    ``start`` is a first guess (a fit with a nearby penalty): Newton steps converge
    quadratically near the optimum, so a warm start needs two or three steps instead of six.
    """
    design = np.column_stack([np.ones(len(y)), x])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0  # the intercept is not shrunk
    if start is None:
        beta = np.zeros(design.shape[1])
        beta[0] = math.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3))
    else:
        beta = start.copy()
    for _ in range(max_iter):
        p = _expit(design @ beta)
        hessian = (design.T * (p * (1 - p))) @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, design.T @ (y - p) - penalty * beta)
        moved = _damped(design, y, penalty, beta, step)
        if np.max(np.abs(moved - beta)) < TOLERANCE:
            return moved
        beta = moved
    return beta


def _damped(design: Floats, y: Floats, penalty: Floats, beta: Floats, step: Floats) -> Floats:
    """Halve the Newton step until the objective does not get worse."""
    current = _objective(design, y, penalty, beta)
    for _ in range(30):
        candidate = beta + step
        if _objective(design, y, penalty, candidate) >= current - 1e-12:
            return candidate
        step = step / 2
    return beta


def _objective(design: Floats, y: Floats, penalty: Floats, beta: Floats) -> float:
    z = design @ beta
    return float(np.sum(y * z - np.logaddexp(0, z)) - 0.5 * np.sum(penalty * beta**2))


def choose_l2(z: Floats, y: Floats) -> float:
    """Return the penalty of ``L2_GRID`` with the lowest log loss over ``FOLDS`` folds.

    The grid is walked from the weakest penalty, each fold's fit warm-started from its fit
    with the previous penalty; the walk stops once ``PATIENCE`` penalties in a row did worse
    than the best (the held-out loss falls, then rises, as the penalty grows).
    """
    folds = np.arange(len(y)) % FOLDS  # rows come in date order: every fold spans the period
    betas: list[Floats | None] = [None] * FOLDS
    best, best_loss, worse = 0, math.inf, 0
    for i, l2 in enumerate(L2_GRID):
        loss = 0.0
        for f in range(FOLDS):
            test = folds == f
            betas[f] = beta = fit_logistic(z[~test], y[~test], l2=l2, start=betas[f])
            p = np.clip(_expit(beta[0] + z[test] @ beta[1:]), 1e-12, 1 - 1e-12)
            loss -= float(np.sum(y[test] * np.log(p) + (1 - y[test]) * np.log(1 - p)))
        if loss < best_loss:
            best, best_loss, worse = i, loss, 0
        else:
            worse += 1
            if worse == PATIENCE:
                break
    return L2_GRID[best]


def accuracy(probabilities: Sequence[float], outcomes: Sequence[bool]) -> Accuracy | None:
    """Return Brier score, log loss and ROC AUC, or None for no outcomes."""
    if not outcomes:
        return None
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(outcomes, dtype=np.float64)
    brier = float(np.mean((p - y) ** 2))
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return Accuracy(brier, loss, roc_auc(p, y))


def roc_auc(p: Floats, y: Floats) -> float | None:
    """Return the probability a no-show outranks a show (ties count half), or None."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    mid_ranks = np.cumsum(counts) - (counts - 1) / 2  # 1-based ranks, ties averaged
    rank_sum = float(mid_ranks[inverse][y == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
