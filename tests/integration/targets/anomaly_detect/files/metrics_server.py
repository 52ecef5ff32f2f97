#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny scrape target for the anomaly_detect test.

Serves /metrics with the gauge ``lepton_test_latency_seconds`` (label
``service="demo"``): about 0.100 with a little deterministic noise while the
file given as second argument holds ``normal``, about 0.900 once it holds
``misbehave``. Usage: metrics_server.py PORT MODE_FILE
"""

from __future__ import annotations

import itertools
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOISE = itertools.cycle([0.0, 0.004, -0.003, 0.002, -0.005, 0.003, -0.001, 0.005, -0.004, 0.001])


class Handler(BaseHTTPRequestHandler):
    mode_file = ""

    def do_GET(self):  # noqa: N802 pylint: disable=invalid-name
        if self.path != "/metrics":
            self.send_error(404)
            return
        with open(self.mode_file, encoding="utf-8") as fh:
            mode = fh.read().strip()
        value = (0.9 if mode == "misbehave" else 0.1) + next(NOISE)
        body = ("# HELP lepton_test_latency_seconds Test latency.\n# TYPE lepton_test_latency_seconds gauge\n"
                'lepton_test_latency_seconds{service="demo"} %.4f\n' % value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def main():
    Handler.mode_file = sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
