# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Requests/s and p50/p99 latency: one replica direct vs nginx and HAProxy in front of three.

    nice python benchmarks/lb.py [--seconds 10] [--connections 64] [--keep]

Sets up benchmarks/lb_stack.yml (three replicas of the demo inference
service, nginx_lb and haproxy_lb with the container runtime, all on
loopback), drives POST /predict with wrk (keep-alive, fixed connections)
against each target in the same run, prints a table and removes the stack.
Needs wrk and lepton/inference-demo:1.0.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = [
    ("direct, 1 replica", "http://127.0.0.1:18900/predict"),
    ("nginx_lb, 3 replicas", "http://127.0.0.1:18910/predict"),
    ("haproxy_lb, 3 replicas", "http://127.0.0.1:18920/predict"),
]
LUA = """wrk.method = "POST"
wrk.body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
wrk.headers["Content-Type"] = "application/json"
"""
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def playbook(state):
    subprocess.run(["ansible-playbook", os.path.join(HERE, "lb_stack.yml"), "-e", "bench_state=" + state],
                   check=True, stdout=subprocess.DEVNULL)


def parse_wrk(text):
    """Requests/s, p50 and p99 in ms, and failed requests from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    pct = {}
    for q, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        pct[q] = float(value) * UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    failed = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return rps, pct.get("50"), pct.get("99"), failed


def run_wrk(url, seconds, connections, script):
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", "-s", script, url],
                         check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args(argv)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(LUA)
    rows = []
    try:
        playbook("present")
        for label, url in TARGETS:
            run_wrk(url, 2, args.connections, handle.name)  # warm up keep-alive pools
            rows.append((label,) + run_wrk(url, args.seconds, args.connections, handle.name))
    finally:
        os.unlink(handle.name)
        if not args.keep:
            playbook("absent")
    print("%d s per target, %d connections, wrk -t2, POST /predict, %d CPUs shared"
          % (args.seconds, args.connections, os.cpu_count()))
    print("| target | requests/s | p50 ms | p99 ms | failed |")
    print("|---|---:|---:|---:|---:|")
    for label, rps, p50, p99, failed in rows:
        print("| %s | %.0f | %.2f | %.2f | %d |" % (label, rps, p50, p99, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
