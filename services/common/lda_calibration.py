"""Temperature calibration of StreamingLDA (services/common/lda.py).

Raw LDA posteriors in 384 dimensions are badly over-confident; an inverse temperature is fitted
online on each label's log-loss *before* the label is learned, only on records that are a fair
sample (``calibrate``: not those picked for being uncertain, which made the model
under-confident everywhere else: ECE 0.15 on R8 at 10%, docs/evaluation.md), starting from 0.2,
about where it settles on MiniLM embeddings (so the first labels do not give 1e-40
probabilities). That step depends on the order of the records (as any online fit does) and is
not undone by ``unlearn``; a replay of the labels log in log order reproduces it exactly. An
unlearned record (a retracted or corrected label) does leave the calibration window: its label
is no longer what the model learned, and the exact fits unlearn the window's records again.

Plain functions on the arrays they need, not methods or a state-holding class: the temperature
state (``_log_beta``, ``_g2``, ``_cal_x``, ``_cal_y``, ``_cal_w``) stays an attribute of the
model, because signed artifacts and checkpoints pickle the model's ``__dict__`` under those
names.
"""

from __future__ import annotations

import numpy as np

from services.common.rows import softmax

# Range of log beta: beta from about 1e-3 (near-uniform posteriors) to 10.
LOG_BETA_MIN, LOG_BETA_MAX = -7.0, 2.3


def online_step(z: np.ndarray, y: int, log_beta: float, g2: float,
                lr: float) -> tuple[float, float]:
    """One AdaGrad step on log beta from one record's logits ``z`` and true row ``y``, used
    until the window holds enough records to refit on. Returns (log beta, new g2)."""
    beta = np.exp(log_beta)
    p = softmax(beta * z)
    grad = beta * (float(p @ z) - z[y])  # d log-loss / d log(beta)
    # g2 keeps its numpy float type: it is pickled with the model as it always was.
    g2 += grad * grad
    log_beta -= lr * grad / np.sqrt(g2 + 1e-8)
    return float(np.clip(log_beta, LOG_BETA_MIN, LOG_BETA_MAX)), g2


def remember_fair(xs: list[np.ndarray], ys: list[str], ws: list[float], x: np.ndarray, y: str,
                  w: float, size: int) -> None:
    """Add a fair record (``x``, ``y``, weight ``w``) to the calibration window (parallel
    lists ``xs``, ``ys``, ``ws``), keeping the last ``size``."""
    xs.append(x.copy())
    ys.append(y)
    ws.append(w)
    if len(xs) > size:
        del xs[0], ys[0], ws[0]


def forget_fair(xs: list[np.ndarray], ys: list[str], ws: list[float], x: np.ndarray,
                y: str) -> None:
    """Drop the latest fair record equal to (``x``, ``y``) from the calibration window
    (parallel lists ``xs``, ``ys``, ``ws``), if it is there."""
    for i in range(len(ys) - 1, -1, -1):
        if ys[i] == y and np.array_equal(xs[i], x):
            del xs[i], ys[i], ws[i]
            return


def refit_log_beta(z: np.ndarray, idx: np.ndarray, log_beta: float, initial_beta: float,
                   prior: float) -> float:
    """The log inverse temperature minimizing the log-loss of the window's records, given their
    held-out logits ``z`` and true rows ``idx`` (1-D Newton from ``log_beta``). The model keeps
    changing as labels arrive (its logits shrink as boundary items are learned), so a
    one-step-per-label fit lags far behind; a refit on a window of records follows it."""
    zy = z[np.arange(len(idx)), idx]
    s = float(np.clip(log_beta, LOG_BETA_MIN, LOG_BETA_MAX))
    # A Gaussian prior on log beta around the initial value, worth a few records: with a
    # handful of fair records (all right, say) the fit alone runs off to the clip. 5, not
    # 10: with the exact leave-one-out a weaker pull measured better calibrated (end ECE
    # on R8 at 10 % 0.036 vs 0.057, five seeds); 2 let some 20NG runs run off (0.17).
    s0 = float(np.log(initial_beta))
    for _ in range(20):
        beta = np.exp(s)
        p = softmax(beta * z)
        mean = (p * z).sum(axis=1)
        var = (p * z * z).sum(axis=1) - mean * mean
        fit = beta * float((mean - zy).sum())
        g = fit + prior * (s - s0)  # d loss / d log beta
        h = fit + beta * beta * float(var.sum()) + prior  # d2 loss / d (log beta)2
        step = g / h if h > 1e-12 else 0.0
        s = float(np.clip(s - np.clip(step, -1.0, 1.0), LOG_BETA_MIN, LOG_BETA_MAX))
        if abs(step) < 1e-6:
            break
    return s


def held_out_logits(X: np.ndarray, idx: np.ndarray, sums: np.ndarray, weights: np.ndarray,
                    means: np.ndarray, inverse: np.ndarray, n: float,
                    prior_strength: float,
                    population: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Every record's logits as if the record had never been learned (exact leave-one-out:
    its class mean *and* the shared scatter without it, by one Sherman-Morrison downdate
    per record). In-sample logits make a record look easier than a new item, and removing
    it from the mean alone is not enough: the scatter fitted on the record shortens its own
    distances, and the temperature fitted on such logits came out about 30 % too high (too
    confident on the holdout; docs/evaluation.md). A record alone in its class keeps its
    in-sample logits. With forgetting the correction uses the exact means (approximate).

    ``sums``/``weights``: the per-class weighted sums and weights, ``means``: the prediction
    means (recency-weighted under forgetting), ``inverse``: the regularized scatter's inverse,
    ``n``: the total weight behind it; ``population``: the unlabeled items' per-class sums
    and weights in the prediction means (services/common/lda_semisup.py), which stay when a
    record is left out; all the model's, read, never written."""
    exact = sums / weights[:, None]
    P = inverse
    nc = weights[idx]
    ok = nc > 1.0
    a = np.where(ok, nc / np.maximum(nc - 1.0, 1.0), 0.0)  # scatter loses a v v'
    V = X - exact[idx]
    PV = V @ P
    den = 1.0 - a * (PV * V).sum(axis=1)
    c = a / den
    vPx = (PV * X).sum(axis=1)
    MP = means @ P
    MPx = X @ MP.T
    MPv = V @ MP.T
    mPm = (MP * means).sum(axis=1)
    scale = n - ok.astype(float) + prior_strength
    z = MPx + c[:, None] * MPv * vPx[:, None] - 0.5 * (
        mPm[None, :] + c[:, None] * MPv * MPv)
    # The record's own class: its mean without the record.
    extra_sums, extra_weights = (np.zeros_like(sums), np.zeros_like(weights)) \
        if population is None else population
    rest = nc + extra_weights[idx] - 1.0
    loo = np.where(ok[:, None], (sums[idx] + extra_sums[idx] - X)
                   / np.maximum(rest, 1e-9)[:, None], means[idx])
    LP = loo @ P
    lPv = (LP * V).sum(axis=1)
    own = (LP * X).sum(axis=1) + c * lPv * vPx - 0.5 * (
        (LP * loo).sum(axis=1) + c * lPv * lPv)
    z[np.arange(len(idx)), idx] = own
    out: np.ndarray = scale[:, None] * z
    return out
