#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write synthetic demand traces for benchmarks/autoscale.py, shapes the NAB files do not have.

Each trace is 14 days of 5-minute samples (``timestamp,value``), drawn
from a fixed seed, so the same command writes the same files. They are a
check on traces the policy's constants were not chosen on, not a target to
tune to::

    python benchmarks/synthetic_traces.py --out /tmp/traces
    python benchmarks/autoscale.py $(for f in /tmp/traces/*.csv; do echo --trace $f; done)
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta, timezone

import numpy as np

STEP = 300                      # seconds between samples
DAYS = 14
START = datetime(2026, 1, 5, tzinfo=timezone.utc)   # a Monday


def _clock(n):
    t = np.arange(n) * STEP
    return t, (t % 86400) / 86400.0, (t // 86400) % 7


def _daily(day_frac, low=0.3):
    """A smooth day: low at night, a peak in the afternoon, between ``low`` and 1."""
    return low + (1 - low) * 0.5 * (1 - np.cos(2 * np.pi * day_frac)) ** 1.5 / 2 ** 0.5


def shapes(rng):
    """Name -> demand array, one per shape."""
    n = DAYS * 86400 // STEP
    t, day, weekday = _clock(n)
    base = 100 * _daily(day)
    out = {}
    out["weekly_office"] = base * np.where(weekday >= 5, 0.4, 1.0) * rng.lognormal(0, 0.05, n)
    out["lunch_peak"] = (base + 80 * np.exp(-((day - 0.52) * 24 / 0.7) ** 2)) * rng.lognormal(0, 0.08, n)
    walk = np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    out["random_walk"] = 100 * walk / walk[:288].mean()
    shift = np.where((t >= 6 * 86400) & (t < 8 * 86400), 3.0, 1.0)
    out["level_shift_two_days"] = base * shift * rng.lognormal(0, 0.05, n)
    bursts = np.zeros(n)
    for start in rng.choice(n - 12, size=40, replace=False):
        bursts[start:start + rng.integers(3, 12)] += rng.uniform(50, 150)
    out["bursts_on_daily"] = base + bursts
    out["hourly_batch"] = 20 + 80 * ((t % 3600) < 900) * ((t % 900) / 900.0) + rng.normal(0, 2, n).clip(-10, 10)
    out["growth_30pct_a_week"] = base * (1.3 ** (t / (7 * 86400))) * rng.lognormal(0, 0.05, n)
    out["noisy_flat"] = 100 * rng.lognormal(0, 0.2, n)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--out", required=True, help="directory to write the CSV files to")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name, values in shapes(np.random.default_rng(args.seed)).items():
        path = os.path.join(args.out, f"{name}.csv")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("timestamp,value\n")
            for k, value in enumerate(values):
                stamp = START + timedelta(seconds=k * STEP)
                handle.write(f"{stamp:%Y-%m-%d %H:%M:%S},{max(float(value), 0.0):.4f}\n")
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
