# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/nab.py on a tiny corpus in NAB's layout."""

from __future__ import annotations

import csv
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
import nab  # noqa: E402 pylint: disable=wrong-import-position


def _corpus(tmp_path):
    data = tmp_path / "data"
    (data / "catA").mkdir(parents=True)
    (data / "catB").mkdir(parents=True)
    stamps = ["2020-01-%02d %02d:%02d:00" % (1 + i // 288, (i % 288) // 12, (i % 12) * 5) for i in range(1200)]
    values = [10.0 + (i % 5) * 0.1 for i in range(1200)]
    values[900] = 50.0
    for name in ("catA/spike.csv", "catB/quiet.csv"):
        with open(data / name, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value"])
            w.writerows(zip(stamps, values if name.endswith("spike.csv") else [10.0 + (i % 5) * 0.1 for i in range(1200)]))
    labels = tmp_path / "combined_windows.json"
    labels.write_text(json.dumps({
        "catA/spike.csv": [[stamps[850] + ".000000", stamps[950] + ".000000"]],
        "catB/quiet.csv": [],
        "catC/missing.csv": [],
    }))
    return data, labels


@pytest.mark.parametrize("detector", ["novelty", "rolling_zscore", "null"])
def test_writes_nab_layout_and_prints_scores(tmp_path, capsys, detector):
    data, labels = _corpus(tmp_path)
    out = tmp_path / "results"
    assert nab.main(["--data", str(data), "--labels", str(labels), "--out", str(out), "--detector", detector]) == 0
    result = out / detector / "catA" / ("%s_spike.csv" % detector)
    with open(result, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1200 and list(rows[0]) == ["timestamp", "value", "anomaly_score"]
    assert (out / detector / "catB" / ("%s_quiet.csv" % detector)).exists()
    printed = capsys.readouterr().out
    assert "corpus: 2 files, 2400 rows, 1 windows" in printed
    line = next(x for x in printed.splitlines() if x.startswith(detector))
    standard = float(line.split()[1])
    if detector == "null":
        assert standard == 0.0
    else:  # an isolated spike inside the only window, nothing else: a near-perfect score
        assert standard > 80.0


def test_unknown_detector_is_refused(tmp_path):
    data, labels = _corpus(tmp_path)
    with pytest.raises(SystemExit):
        nab.main(["--data", str(data), "--labels", str(labels), "--detector", "nope"])
