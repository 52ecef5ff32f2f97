# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAB scoring, written from the published method (Lavin & Ahmad 2015; Ahmad et al. 2017).

* Each file's first ``min(floor(0.15 n), 750)`` rows are probationary: never scored.
* A detection is a row whose anomaly score is >= the threshold.
* Inside an anomaly window of width w (rows), a detection at relative position
  ``p = -(right - i + 1) / w`` (-1 at the left edge, ~0 at the right edge) is
  worth ``A_TP * sigma(p) / sigma(-1)`` with the scaled sigmoid
  ``sigma(p) = 2 / (1 + e^(5p)) - 1`` (so a detection at the left edge is worth
  exactly A_TP); only the best (earliest) detection of a window counts. A window without a
  detection costs ``-A_FN``.
* Outside windows a detection is a false positive worth ``A_FP * sigma(p)``,
  with ``p`` its distance past the end of the previous window divided by
  (w_prev - 1) (sigma is -1 beyond p = 3 and before the first window), so a
  detection just after a window costs little.
* One threshold per profile is chosen to maximise the corpus total; the total
  is normalised as ``100 (raw - null) / (perfect - null)`` with null =
  ``-A_FN * windows`` (never detect) and perfect = ``A_TP * windows``.
"""

from __future__ import annotations

import math

import numpy as np

PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "tn": 1.0, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "tn": 1.0, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "tn": 1.0, "fn": 2.0},
}


def probation_length(n, percent=0.15):
    """Rows at the start of a file that are never scored."""
    return int(min(math.floor(percent * n), percent * 5000))


def scaled_sigmoid(position):
    """NAB's scaled sigmoid: ~+1 at a window's left edge, 0 at its right edge, -1 far after."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0  # scaled sigmoid at the left edge of a window


def _parse_times(stamps):
    return np.array([str(s).strip()[:19] for s in stamps], dtype="datetime64[s]")


def label_rows(timestamps, windows, percent=0.15):
    """Per scorable row: (row index, window index or -1, unweighted sigmoid score).

    ``timestamps`` are the file's rows in order, ``windows`` NAB's
    ``[[start, end], ...]`` for the file.
    """
    times = _parse_times(timestamps)
    n = len(times)
    limits = sorted((_parse_times([a])[0], _parse_times([b])[0]) for a, b in windows)
    index_of = {}
    for i, t in enumerate(times.tolist()):
        index_of.setdefault(t, i)
    pending = list(enumerate(limits))
    win = np.full(n, -1, dtype=np.int64)
    sig = np.empty(n, dtype=np.float64)
    cur = None  # (window index, right index, width)
    prev = None  # (right index, width)
    for i, t in enumerate(times):
        if cur is None and pending and t == pending[0][1][0]:
            k, (start, end) = pending.pop(0)
            left = index_of.get(start.tolist(), i)
            right = index_of.get(end.tolist(), n - 1)
            cur = (k, right, float(right - left + 1))
        if cur is not None:
            win[i] = cur[0]
            sig[i] = scaled_sigmoid(-(cur[1] - i + 1) / cur[2]) / MAX_TP
            if i >= cur[1]:
                prev = (cur[1], cur[2])
                cur = None
        elif prev is not None:
            sig[i] = scaled_sigmoid(abs(prev[0] - i) / max(prev[1] - 1.0, 1.0))
        else:
            sig[i] = -1.0
    start = probation_length(n, percent)
    return np.arange(start, n), win[start:], sig[start:], len(limits)


class FileRows:
    """The scorable rows of one result file, ready for sweeping."""

    def __init__(self, name, timestamps, scores, windows, percent=0.15):
        rows, self.window, self.sigmoid, self.n_windows = label_rows(timestamps, windows, percent)
        self.name = name
        self.score = np.asarray(scores, dtype=np.float64)[rows]


def sweep(files, profile):
    """Corpus total for every candidate threshold: list of (threshold, total), highest threshold first."""
    w = PROFILES[profile] if isinstance(profile, str) else profile
    scores, wins, sigs = [], [], []
    offset = 0
    for f in files:
        scores.append(f.score)
        wins.append(np.where(f.window >= 0, f.window + offset, -1))
        sigs.append(f.sigmoid)
        offset += f.n_windows
    score = np.concatenate(scores) if scores else np.zeros(0)
    win = np.concatenate(wins) if wins else np.zeros(0, dtype=np.int64)
    sig = np.concatenate(sigs) if sigs else np.zeros(0)
    order = np.argsort(-score, kind="stable")
    best = {k: -w["fn"] for k in np.unique(win[win >= 0]).tolist()}
    total = float(sum(best.values()))
    out = []
    threshold = 1.1
    for j in order.tolist():
        s = float(score[j])
        if s != threshold:
            out.append((threshold, total))
            threshold = s
        k = int(win[j])
        if k >= 0:
            v = sig[j] * w["tp"]
            if v > best[k]:
                total += v - best[k]
                best[k] = v
        else:
            total += sig[j] * w["fp"]
    out.append((threshold, total))
    return out


def score_at(f, threshold, profile):
    """Raw score and (tp, fp, fn) counts of one file at ``threshold``."""
    w = PROFILES[profile] if isinstance(profile, str) else profile
    hit = f.score >= threshold
    total, tp, fn = 0.0, 0, 0
    for k in np.unique(f.window[f.window >= 0]).tolist():
        sel = hit & (f.window == k)
        if sel.any():
            total += w["tp"] * float(f.sigmoid[sel].max())
            tp += 1
        else:
            total -= w["fn"]
            fn += 1
    fp_rows = hit & (f.window < 0)
    total += w["fp"] * float(f.sigmoid[fp_rows].sum())
    return total, tp, int(fp_rows.sum()), fn


def score_corpus(files, profile):
    """Optimise the threshold on the corpus and return the normalised NAB score and details."""
    w = PROFILES[profile]
    totals = sweep(files, profile)
    threshold, raw = max(totals, key=lambda r: r[1])  # first maximum = highest threshold
    per_file = {}
    tp = fp = fn = 0
    check = 0.0
    for f in files:
        r, a, b, c = score_at(f, threshold, profile)
        per_file[f.name] = r
        check += r
        tp, fp, fn = tp + a, fp + b, fn + c
    n_windows = sum(int(np.unique(f.window[f.window >= 0]).size) for f in files)
    null, perfect = -w["fn"] * n_windows, w["tp"] * n_windows
    score = 100.0 * (raw - null) / (perfect - null) if perfect > null else 0.0
    return {"score": score, "raw": raw, "raw_check": check, "threshold": threshold,
            "tp": tp, "fp": fp, "fn": fn, "windows": n_windows, "per_file": per_file}
