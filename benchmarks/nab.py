#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a lepton.aiops anomaly detector over a corpus in NAB's layout and score it.

    python benchmarks/nab.py --data ../NAB/data --labels ../NAB/labels/combined_windows.json \
        --out benchmarks/results/nab [--detector NAME]

Writes ``<out>/<detector>/<category>/<detector>_<file>.csv`` (columns
``timestamp,value,anomaly_score``, one row per data row), then prints the NAB
score for the three application profiles and the detector's throughput.
Without ``--detector`` the recommended detector runs; ``--detector all`` runs
every one. The scorer is ``benchmarks/nab_scorer.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from ansible_collections.lepton.aiops.plugins.module_utils._anomaly import novelty, online
except ImportError:  # run from a checkout without PYTHONPATH: use the bootstrap link
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".build", "collections"))
    from ansible_collections.lepton.aiops.plugins.module_utils._anomaly import novelty, online

import nab_scorer  # noqa: E402 pylint: disable=wrong-import-position

RECOMMENDED = "novelty"


def _null(values):
    return np.full(len(values), 0.5)


def _random(values, name=""):
    return np.random.default_rng(zlib.crc32(name.encode())).random(len(values))


def _rolling(values):
    return online.RollingZScore(window=6400, warmup=10).probability(values)


def _ewma(values):
    return online.EwmaDetector(halflife=100, warmup=10).probability(values)


def _novelty(values):
    return novelty.NoveltyDetector().score(values)


def _novelty_z(values):
    return novelty.NoveltyDetector(context=0).score(values)


DETECTORS = {
    "null": _null,
    "random": _random,
    "rolling_zscore": _rolling,
    "ewma": _ewma,
    "novelty_z": _novelty_z,
    "novelty": _novelty,
}


def read_corpus(data_dir, labels_path):
    """Yield (relative path, timestamps, values, windows) for every labelled file present."""
    with open(labels_path, encoding="utf-8") as fh:
        windows = json.load(fh)
    for rel in sorted(windows):
        path = os.path.join(data_dir, rel)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        yield rel, [r["timestamp"] for r in rows], np.array([float(r["value"]) for r in rows]), windows[rel]


def run(detector, corpus, out_dir):
    """Score every file; write NAB-layout results; return (FileRows list, points, seconds)."""
    fn = DETECTORS[detector]
    files, points, seconds = [], 0, 0.0
    for rel, stamps, values, windows in corpus:
        t0 = time.process_time()  # CPU time of this process: fair on a shared machine
        scores = fn(values, rel) if detector == "random" else fn(values)
        seconds += time.process_time() - t0
        points += len(values)
        scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
        if out_dir:
            category, name = rel.split("/", 1)
            dest = os.path.join(out_dir, detector, category)
            os.makedirs(dest, exist_ok=True)
            with open(os.path.join(dest, "%s_%s" % (detector, name)), "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["timestamp", "value", "anomaly_score"])
                w.writerows(zip(stamps, values.tolist(), scores.tolist()))
        files.append(nab_scorer.FileRows(rel, stamps, scores, windows))
    return files, points, seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--data", required=True, help="directory holding <category>/<file>.csv")
    p.add_argument("--labels", required=True, help="NAB labels/combined_windows.json")
    p.add_argument("--out", default="", help="write NAB-layout results under this directory")
    p.add_argument("--detector", default=RECOMMENDED, help="one of %s, or all" % ", ".join(DETECTORS))
    p.add_argument("--per-file", action="store_true", help="also print the standard-profile score of each file")
    args = p.parse_args(argv)
    names = list(DETECTORS) if args.detector == "all" else [args.detector]
    for name in names:
        if name not in DETECTORS:
            p.error("unknown detector %r; choose from %s" % (name, ", ".join(DETECTORS)))
    corpus = list(read_corpus(args.data, args.labels))
    if not corpus:
        p.error("no labelled data files found under %s" % args.data)
    print("corpus: %d files, %d rows, %d windows" % (
        len(corpus), sum(len(c[2]) for c in corpus), sum(len(c[3]) for c in corpus)))
    print("%-16s %9s %12s %12s %14s" % ("detector", "standard", "low_FP", "low_FN", "points/cpu-s"))
    for name in names:
        files, points, seconds = run(name, corpus, args.out)
        res = {prof: nab_scorer.score_corpus(files, prof) for prof in nab_scorer.PROFILES}
        print("%-16s %9.1f %12.1f %12.1f %14.0f" % (
            name, res["standard"]["score"], res["reward_low_FP_rate"]["score"],
            res["reward_low_FN_rate"]["score"], points / max(seconds, 1e-9)))
        std = res["standard"]
        print("  standard: threshold %.6g, TP windows %d/%d, FP rows %d; %.1f cpu-s for the corpus" % (
            std["threshold"], std["tp"], std["windows"], std["fp"], seconds))
        if args.per_file:
            for rel, raw in sorted(std["per_file"].items()):
                print("    %-70s %7.3f" % (rel, raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
