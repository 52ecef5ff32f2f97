# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inject errors into one replica and time the alert until the webhook receiver logs it.

Sends steady traffic to every replica, switches on error_rate=1.0 on the
first one (POST /admin/faults), then polls the demo receiver (GET /alerts)
until a firing ALERTNAME for SERVICE arrives. Prints one JSON object:
seconds from injection to receipt, and from the alert's activeAt (the rule
evaluation that first saw the condition, from Prometheus' alerts API) to
receipt. Standard library only.
"""

import argparse
import datetime
import json
import re
import threading
import time
import urllib.request


def call(url, body=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def traffic(replicas, stop, rate):
    body = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    while not stop.is_set():
        for replica in replicas:
            call(replica + "/predict", body)
        stop.wait(1.0 / rate)


def parse_time(text):
    """Prometheus' RFC 3339 time with nanoseconds, to epoch seconds."""
    match = re.match(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-].*)$", text)
    stamp, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    return datetime.datetime.fromisoformat(stamp + zone).timestamp() + float(fraction or 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--replica", action="append", required=True, help="base URL of a replica (first: faulty)")
    p.add_argument("--prometheus", required=True)
    p.add_argument("--receiver", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--alertname", default="LeptonServiceErrorRatioHigh")
    p.add_argument("--rate", type=float, default=10.0, help="request rounds per second")
    p.add_argument("--warmup", type=float, default=8.0)
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args()

    stop = threading.Event()
    worker = threading.Thread(target=traffic, args=(args.replica, stop, args.rate), daemon=True)
    worker.start()
    try:
        time.sleep(args.warmup)
        before = {a.get("fingerprint") for a in call(args.receiver + "/alerts")[1]}
        injected = time.time()
        status = call(args.replica[0] + "/admin/faults", {"error_rate": 1.0})[0]
        assert status == 200, "fault switch answered %s" % status
        received = active_at = None
        while time.time() - injected < args.timeout and received is None:
            for alert in call(args.receiver + "/alerts")[1]:
                if (alert["labels"].get("alertname") == args.alertname and alert["status"] == "firing"
                        and alert["labels"].get("service") == args.service and alert["received_at"] >= injected):
                    received = alert["received_at"]
                    break
            if active_at is None:
                for alert in call(args.prometheus + "/api/v1/alerts")[1]["data"]["alerts"]:
                    if alert["labels"].get("alertname") == args.alertname and alert["labels"].get("service") == args.service:
                        active_at = parse_time(alert["activeAt"])
            time.sleep(0.2)
    finally:
        call(args.replica[0] + "/admin/faults", {"error_rate": 0.0})
        stop.set()
        worker.join(5)
    print(json.dumps({
        "alertname": args.alertname, "service": args.service, "received": received is not None,
        "injection_to_receipt_seconds": round(received - injected, 2) if received else None,
        "active_to_receipt_seconds": round(received - active_at, 2) if received and active_at else None,
        "injection_to_active_seconds": round(active_at - injected, 2) if active_at else None,
    }))


if __name__ == "__main__":
    main()
