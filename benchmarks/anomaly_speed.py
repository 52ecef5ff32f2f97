#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throughput of the anomaly detectors, batch and one-point paths, per CPU second.

    nice python benchmarks/anomaly_speed.py [--points 10000000]

Prints points per CPU second for each detector and path (best of 3 runs; the
slow novelty row is timed once).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

try:
    from ansible_collections.lepton.aiops.plugins.module_utils._anomaly import gaussian, novelty, online, seasonal
except ImportError:  # run from a checkout without PYTHONPATH: use the bootstrap link
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".build", "collections"))
    from ansible_collections.lepton.aiops.plugins.module_utils._anomaly import gaussian, novelty, online, seasonal


def rate(fn, n, repeat=3):
    best = float("inf")
    for _run in range(repeat):
        t0 = time.process_time()  # CPU time: fair on a shared machine
        fn()
        best = min(best, time.process_time() - t0)
    return n / best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--points", type=int, default=10_000_000, help="batch size for the vectorised paths")
    p.add_argument("--online-points", type=int, default=200_000, help="points for the one-point paths")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    big = rng.normal(50.0, 5.0, args.points)
    small = big[:args.online_points]
    stamps = np.arange(args.points, dtype=np.float64) * 60.0
    g = gaussian.GaussianModel(alpha=0.99).fit(big[:10000])
    r = gaussian.RobustModel(alpha=0.99).fit(big[:10000])
    s = seasonal.SeasonalBaseline().fit(stamps[:20000], big[:20000])
    one = small.tolist()
    rows = [
        ("gaussian", "batch score", rate(lambda: g.score(big), args.points)),
        ("gaussian", "batch predict", rate(lambda: g.predict(big), args.points)),
        ("gaussian", "one-point score", rate(lambda: [g.score_one(x) for x in one], len(one))),
        ("robust", "batch score", rate(lambda: r.score(big), args.points)),
        ("seasonal", "batch score", rate(lambda: s.score(stamps, big), args.points)),
        ("seasonal", "one-point score", rate(lambda: [s.score_one(t, x) for t, x in zip(stamps[:len(one)].tolist(), one)], len(one))),
        ("ewma", "one-point update", rate(lambda: online.EwmaDetector().score(small), len(one))),
        ("rolling_zscore", "one-point update", rate(lambda: online.RollingZScore().score(small), len(one))),
        ("novelty", "one-point update", rate(lambda: novelty.NoveltyDetector().score(small), len(one), repeat=1)),
    ]
    print("%-16s %-18s %14s" % ("detector", "path", "points/cpu-s"))
    for name, path, value in rows:
        print("%-16s %-18s %14.0f" % (name, path, value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
