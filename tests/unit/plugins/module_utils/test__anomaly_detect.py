# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The anomaly_detect glue: input parsing, result shape, inconclusive answers, the HTML report."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser

import numpy as np
import pytest

from ansible_collections.lepton.aiops.plugins.module_utils import _anomaly_detect as ad
from ansible_collections.lepton.aiops.plugins.module_utils._anomaly_report import render, update_report
from ansible_collections.lepton.aiops.plugins.module_utils._prometheus_api import PrometheusError

OPTS = dict(alpha=0.99, two_sided=False, baseline_ratio=0.75, min_baseline=10, sigma_floor=0.0, period=86400.0,
            slots=24, halflife=50.0, window=1000, suppress=100, recent_points=3, system_level=0.5, max_anomalies=50)
RNG = np.random.default_rng(4)
QUIET = RNG.normal(10.0, 1.0, 400).tolist()
LOUD = QUIET[:390] + [30.0] * 10


@pytest.mark.parametrize("text,want", [("90", 90.0), (45, 45.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0),
                                       ("1d", 86400.0), ("1w", 604800.0)])
def test_duration(text, want):
    assert ad.duration(text) == want


@pytest.mark.parametrize("text", ["5 minutes", "m5", "1h x", ""])
def test_bad_duration_is_refused(text):
    with pytest.raises(ad.AnomalyError, match="duration"):
        ad.duration(text)


@pytest.mark.parametrize("text,want", [(1700000000, 1700000000.0), ("1700000000.5", 1700000000.5),
                                       ("2023-11-14T22:13:20Z", 1700000000.0), ("2023-11-14 22:13:20", 1700000000.0)])
def test_timestamp(text, want):
    assert ad.timestamp(text) == want


def test_prometheus_window_defaults_and_point_cap():
    start, end, step = ad.prometheus_window(lookback="1h", now=10000.0)
    assert (start, end, step) == (6400.0, 10000.0, 6.0)
    assert ad.prometheus_window(start=0, end=86400 * 30, step="1s")[2] == pytest.approx(86400 * 30 / 11000.0)
    with pytest.raises(ad.AnomalyError, match="before"):
        ad.prometheus_window(start=10, end=5)


@pytest.mark.parametrize("detector", ad.DETECTORS)
def test_every_detector_flags_the_loud_service_only(detector):
    data = ad.from_inline({"quiet": QUIET, "loud": LOUD})
    # novelty reports the start of an incident, then suppresses it: look at a window that holds the start.
    opts = dict(OPTS, alpha=0.995, recent_points=10)
    out, arrays = ad.analyse(data, detector, opts)
    by_name = {s["name"]: s for s in out["series"]}
    assert out["anomalous"] is True and out["status"] == "anomalous" and not out["inconclusive"]
    assert by_name["loud"]["anomalous_now"]
    assert 390.0 in [a["timestamp"] for a in by_name["loud"]["anomalies"]]
    assert not by_name["quiet"]["anomalous_now"]
    json.dumps(out)  # plain JSON types only
    assert len(arrays) == 2


def test_system_probability_is_the_product_and_alpha_to_n_when_quiet():
    out = ad.analyse(ad.from_inline({"a": QUIET, "b": QUIET[::-1]}), "gaussian", OPTS)[0]
    probs = [s["probability_within"] for s in out["series"]]
    assert out["system"]["probability"] == pytest.approx(probs[0] * probs[1])
    assert out["system"]["expected_probability"] == pytest.approx(0.99 ** 2)
    assert out["anomalous"] is False and out["status"] == "normal"


def test_short_series_is_inconclusive_not_healthy():
    out = ad.analyse(ad.from_inline({"short": [1.0, 2.0, 3.0, 4.0]}), "gaussian", OPTS)[0]
    assert out["inconclusive"] is True and out["anomalous"] is False and out["status"] == "inconclusive"
    assert "usable points" in out["reason"]


def test_one_short_series_among_good_ones_is_reported_alone():
    out = ad.analyse(ad.from_inline({"ok": LOUD, "short": [1.0, 2.0]}), "gaussian", OPTS)[0]
    assert out["inconclusive"] is False and out["anomalous"] is True
    assert [s["inconclusive"] for s in out["series"]] == [False, True]
    assert "1 series inconclusive" in out["summary"]


def test_gaps_are_never_anomalous():
    series = {"gappy": [[i * 60, None if i % 7 == 0 else v] for i, v in enumerate(QUIET)]}
    out = ad.analyse(ad.from_inline(series), "gaussian", OPTS)[0]
    assert all(a["value"] is not None for a in out["series"][0]["anomalies"])


@pytest.mark.parametrize("series,message", [({"a": [[1, 2, 3]]}, "timestamp, value"), ({"a": ["x"]}, "non-numeric")])
def test_malformed_inline_points_are_refused(series, message):
    with pytest.raises(ad.AnomalyError, match=message):
        ad.from_inline(series)


def test_no_series_is_inconclusive():
    with pytest.raises(ad.Inconclusive):
        ad.from_inline({})


class _Client:
    def __init__(self, answer=None, error=None):
        self.answer, self.error = answer, error

    def query_range(self, *_args):
        if self.error:
            raise PrometheusError(self.error)
        return self.answer


@pytest.mark.parametrize("client,reason", [
    (_Client(error="Prometheus at http://x is unreachable: refused"), "unreachable"),
    (_Client(answer=[]), "no data"),
    (_Client(answer=[{"metric": {"job": "a"}, "values": []}]), "no data"),
])
def test_prometheus_failures_are_inconclusive(client, reason):
    with pytest.raises(ad.Inconclusive, match=reason):
        ad.from_prometheus(client, "up", 0.0, 60.0, 1.0, PrometheusError)


def test_prometheus_series_are_named_by_labels():
    answer = [{"metric": {"__name__": "up", "job": "a"}, "values": [[1.0, 1.0], [2.0, 0.0]]}]
    data = ad.from_prometheus(_Client(answer=answer), "up", 0.0, 60.0, 1.0, PrometheusError)
    assert data[0]["name"] == 'up{job="a"}' and data[0]["values"] == [1.0, 0.0]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_report_is_self_contained_html_with_marked_anomalies():
    out, arrays = ad.analyse(ad.from_inline({"loud": LOUD, "short": [1.0]}), "gaussian", OPTS)
    page = render(out, arrays)
    parser = _Tags()
    parser.feed(page)
    assert parser.tags.count("svg") == 1 and parser.tags.count("circle") == out["series"][0]["anomaly_count"]
    assert "script" not in parser.tags and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "ANOMALOUS" in page and "inconclusive" in page


def test_the_report_is_written_when_it_changes_and_check_mode_predicts_it(tmp_path):
    path = str(tmp_path / "report.html")
    assert update_report(path, "<p>1</p>", check_mode=True) is True and not os.path.exists(path)
    assert update_report(path, "<p>1</p>") is True and open(path, encoding="utf-8").read() == "<p>1</p>"
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert update_report(path, "<p>1</p>", check_mode=True) is False
    assert update_report(path, "<p>1</p>") is False
    assert update_report(path, "<p>2</p>", check_mode=True) is True
    with pytest.raises(OSError, match="cannot write the report .*missing/report.html: No such file or directory"):
        update_report(str(tmp_path / "missing" / "report.html"), "<p>1</p>")


def test_novelty_flags_the_onset_once_and_gaussian_the_persisting_level():
    series = {"shifted": QUIET[:300] + [40.0] * 60}
    onset = ad.analyse(ad.from_inline({"shifted": series["shifted"][:303]}), "novelty", dict(OPTS, baseline_ratio=0.5))[0]
    assert onset["series"][0]["anomalous_now"] and onset["anomalous"]
    later = ad.analyse(ad.from_inline(series), "novelty", dict(OPTS, baseline_ratio=0.5))[0]["series"][0]
    assert [a["timestamp"] for a in later["anomalies"]][:1] == [300.0] and later["anomaly_count"] <= 3
    assert not later["anomalous_now"]  # the new level is the new normal for novelty
    still = ad.analyse(ad.from_inline(series), "gaussian", dict(OPTS, baseline_ratio=0.5))[0]["series"][0]
    assert still["anomalous_now"] and still["anomaly_count"] >= 60  # every shifted point (and a noise point or two)


# An online detector scores 0 while it warms up: too few points is no evidence of health.
WARMUP = {"ewma": 10, "rolling_zscore": 10, "novelty": 114}


@pytest.mark.parametrize("detector", ad.ONLINE)
def test_two_points_from_prometheus_are_inconclusive_not_healthy(detector):
    answer = [{"metric": {"__name__": "lat", "service": "api"}, "values": [[60.0, "1"], [120.0, "1000"]]}]
    data = ad.from_prometheus(_Client(answer=answer), "lat", 0.0, 120.0, 60.0, PrometheusError)
    out = ad.analyse(data, detector, OPTS)[0]
    assert out["inconclusive"] is True and out["status"] == "inconclusive" and out["anomalous"] is False
    assert 'lat{service="api"}: 2 usable point(s)' in out["reason"]
    assert "first %d before it scores one: at least %d are needed" % (WARMUP[detector], WARMUP[detector] + 1) in out["reason"]
    assert out["series"][0]["inconclusive"] and "2 usable point(s)" in out["series"][0]["reason"]


@pytest.mark.parametrize("detector", ad.ONLINE)
def test_online_detector_needs_one_usable_point_after_its_warm_up(detector):
    need = WARMUP[detector]
    gaps = [None] * 5  # gaps teach an online detector nothing
    short = ad.analyse(ad.from_inline({"s": gaps + QUIET[:need]}), detector, OPTS)[0]
    assert short["status"] == "inconclusive" and "%d usable point(s)" % need in short["reason"]
    n = len(gaps) + need + 1
    enough = ad.analyse(ad.from_inline({"s": gaps + QUIET[:need + 1]}), detector, dict(OPTS, baseline_ratio=0.5))[0]
    assert enough["status"] == "normal" and not enough["series"][0]["inconclusive"]
    assert enough["series"][0]["baseline"] == {"warmup_points": need}
    assert enough["series"][0]["last"]["timestamp"] == float(n - 1)  # the one point past the warm-up
    evaluated = n - n // 2
    assert enough["series"][0]["summary"].endswith(
        "in %d evaluated (the first %d while %s warmed up)" % (evaluated, evaluated - 1, detector))


@pytest.mark.parametrize("detector,window", [("rolling_zscore", 5), ("novelty", 56)])
def test_a_window_too_short_to_warm_up_is_inconclusive(detector, window):
    out = ad.analyse(ad.from_inline({"s": LOUD}), detector, dict(OPTS, window=window))[0]
    assert out["status"] == "inconclusive" and "never warms up with window=%d" % window in out["reason"]


def test_the_summary_names_the_inconclusive_series():
    out = ad.analyse(ad.from_inline({"ok": LOUD, "short": [1.0, 1000.0]}), "rolling_zscore", OPTS)[0]
    assert out["status"] == "anomalous" and out["summary"].endswith("; 1 series inconclusive (short)")


@pytest.mark.parametrize("detector,band", [("gaussian", True), ("seasonal", True), ("ewma", False),
                                           ("rolling_zscore", False), ("novelty", False)])
def test_the_report_mentions_a_threshold_band_only_when_it_draws_one(detector, band):
    out, arrays = ad.analyse(ad.from_inline({"loud": [[i * 3600.0, v] for i, v in enumerate(LOUD)]}), detector,
                             dict(OPTS, min_baseline=2))
    page = render(out, arrays)
    assert not out["inconclusive"]
    assert ("Dashed: threshold band." in page) is band
    assert ("stroke-dasharray" in page) is band
