# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""prometheus_file_sd: service_deploy endpoints to file_sd target groups."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.lepton.aiops.plugins.filter.monitoring import prometheus_file_sd

ENDPOINTS = [
    {"name": "demo-2", "address": "127.0.0.1", "port": 18082, "version": "1.1", "container_id": "b"},
    {"name": "demo-1", "address": "127.0.0.1", "port": 18081, "version": "1.0", "container_id": "a"},
]


def test_one_group_per_replica_sorted_and_labelled():
    assert prometheus_file_sd({"name": "demo", "endpoints": ENDPOINTS}) == [
        {"targets": ["127.0.0.1:18081"], "labels": {"service": "demo", "replica": "demo-1", "version": "1.0"}},
        {"targets": ["127.0.0.1:18082"], "labels": {"service": "demo", "replica": "demo-2", "version": "1.1"}},
    ]


def test_metrics_path_scheme_and_labels():
    groups = prometheus_file_sd({"name": "demo", "endpoints": ENDPOINTS[:1], "metrics_path": "/m",
                                 "scheme": "https", "labels": {"team": "ml"}})
    assert groups[0]["labels"] == {"service": "demo", "replica": "demo-2", "version": "1.1",
                                   "__metrics_path__": "/m", "__scheme__": "https", "team": "ml"}


def test_ipv6_and_no_endpoints():
    assert prometheus_file_sd({"name": "x", "endpoints": [{"address": "::1", "port": 1}]})[0]["targets"] == ["[::1]:1"]
    assert prometheus_file_sd({"name": "x", "endpoints": []}) == []


@pytest.mark.parametrize("service", [{"endpoints": []}, "demo", {"name": "x", "endpoints": [{"address": "a"}]}])
def test_bad_input_is_explained(service):
    with pytest.raises(AnsibleFilterError, match="prometheus_file_sd"):
        prometheus_file_sd(service)
