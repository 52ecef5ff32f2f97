# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the detectors. PRIVATE to the lepton.aiops collection."""

from __future__ import annotations

import math

try:
    import numpy as np
    from scipy.special import erfc, ndtri
    HAS_NUMERIC = True
except ImportError:  # pragma: no cover - reported by the module
    np = None
    erfc = ndtri = None
    HAS_NUMERIC = False

SQRT2 = math.sqrt(2.0)
MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of N(0, 1) is 1/1.4826


def as_float_array(values, name="values"):
    """Return ``values`` as a 1-D float64 array, or raise ValueError."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError("%s must be a one-dimensional sequence of numbers." % name)
    return arr


def z_quantile(alpha, two_sided=False):
    """Standard normal quantile for confidence ``alpha`` (0 < alpha < 1).

    One-sided: z with P(Z < z) = alpha. Two-sided: z with P(|Z| < z) = alpha.

    >>> round(z_quantile(0.95), 4), round(z_quantile(0.95, two_sided=True), 4)
    (1.6449, 1.96)
    """
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be a confidence strictly between 0 and 1, got %r." % alpha)
    p = (1.0 + alpha) / 2.0 if two_sided else alpha
    return float(ndtri(p))


def phi(x):
    """Standard normal CDF of a Python float (the one-point path)."""
    return 0.5 * math.erfc(-x / SQRT2)


def tail_score(z):
    """Map |z| to a score in [0, 1]: 1 - two-sided tail probability (one point)."""
    if math.isnan(z):
        return float("nan")
    return 1.0 - math.erfc(abs(z) / SQRT2)


def tail_score_batch(z):
    """Vectorised :func:`tail_score`."""
    z = np.asarray(z, dtype=np.float64)
    return 1.0 - erfc(np.abs(z) / SQRT2)
