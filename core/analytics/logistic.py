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
    """Return the penalty of ``L2_GRID`` with the lowest log loss over ``FOLDS`` folds."""
    folds = np.arange(len(y)) % FOLDS  # rows come in date order: every fold spans the period
    losses = np.zeros(len(L2_GRID))
    for f in range(FOLDS):
        losses += _fold_losses(z, y, folds == f)
    return L2_GRID[int(np.argmin(losses))]


def _fold_losses(z: Floats, y: Floats, test: npt.NDArray[np.bool_]) -> Floats:
    """Held-out log loss of each penalty of the grid, each fit warm-started from the last."""
    train_z, train_y, test_z, test_y = z[~test], y[~test], z[test], y[test]
    losses, beta = [], None
    for l2 in L2_GRID:
        beta = fit_logistic(train_z, train_y, l2=l2, start=beta)
        p = np.clip(_expit(beta[0] + test_z @ beta[1:]), 1e-12, 1 - 1e-12)
        losses.append(float(-np.sum(test_y * np.log(p) + (1 - test_y) * np.log(1 - p))))
    return np.array(losses)


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
