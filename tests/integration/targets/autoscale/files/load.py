#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load generator: POST /predict to the given ports at a steady total rate until killed."""

from __future__ import annotations

import json
import sys
import time
import urllib.request


def main():
    rate = float(sys.argv[1])
    ports = [int(p) for p in sys.argv[2].split(",")]
    body = json.dumps({"instances": [[6.7, 3.0, 5.2, 2.3]]}).encode()
    sent = 0
    start = time.monotonic()
    while True:
        port = ports[sent % len(ports)]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                answer.read()
        except Exception:  # pylint: disable=broad-exception-caught
            pass   # a refused or failed request still counts as offered load
        sent += 1
        pause = start + sent / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)


if __name__ == "__main__":
    main()
