#!/usr/bin/env python3
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny Alertmanager webhook receiver that logs every alert it gets.

Python standard library only. The lepton.aiops.alertmanager role runs it
(alertmanager_demo_receiver_enabled) so the path rule -> Prometheus ->
Alertmanager -> receiver is visible end to end.

  POST /alerts   Alertmanager webhook payload (version 4); each alert is
                 logged as one JSON line (stdout and --log) with the time it
                 was received
  GET  /alerts   the alerts received so far, newest last, as a JSON list
  GET  /healthz  200 "ok"

Usage: receiver.py [--listen 127.0.0.1:9096] [--log FILE] [--keep 1000]
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Store:
    """The last ``keep`` alerts, and the log they are appended to."""

    def __init__(self, keep, log_path):
        self.keep, self.log_path, self.lock, self.alerts = keep, log_path, threading.Lock(), []

    def add(self, payload):
        received = time.time()
        lines = []
        with self.lock:
            for alert in payload.get("alerts", []):
                record = {"received_at": received, "receiver": payload.get("receiver"),
                          "status": alert.get("status"), "labels": alert.get("labels", {}),
                          "annotations": alert.get("annotations", {}), "startsAt": alert.get("startsAt"),
                          "endsAt": alert.get("endsAt"), "fingerprint": alert.get("fingerprint")}
                self.alerts.append(record)
                lines.append(json.dumps(record, sort_keys=True))
            del self.alerts[:-self.keep]
            if self.log_path and lines:
                with open(self.log_path, "a", encoding="utf-8") as log:
                    log.write("\n".join(lines) + "\n")
        for line in lines:
            print(line, flush=True)
        return len(lines)


class Handler(BaseHTTPRequestHandler):
    server_version = "lepton-alert-receiver/1"

    def send(self, code, body, kind="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 (http.server naming)
        if self.path != "/alerts":
            return self.send(404, '{"error": "not found"}')
        try:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            return self.send(400, '{"error": "body is not JSON"}')
        return self.send(200, json.dumps({"logged": self.server.store.add(payload)}))

    def do_GET(self):  # noqa: N802
        if self.path == "/healthz":
            return self.send(200, "ok\n", "text/plain")
        if self.path == "/alerts":
            with self.server.store.lock:
                return self.send(200, json.dumps(self.server.store.alerts))
        return self.send(404, '{"error": "not found"}')

    def log_message(self, fmt, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9096", help="address:port to listen on")
    parser.add_argument("--log", default=None, help="also append each alert as a JSON line to this file")
    parser.add_argument("--keep", type=int, default=1000, help="alerts kept for GET /alerts")
    args = parser.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), Handler)
    server.store = Store(args.keep, args.log)
    print("lepton alert receiver listening on %s" % args.listen, file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
