# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Send ROUNDS rounds of /predict requests to every replica, RATE rounds per second.

Usage: python3 traffic.py ROUNDS RATE URL... ; prints the status counts as JSON.
"""

import collections
import json
import sys
import time
import urllib.error
import urllib.request


def main():
    rounds, rate, urls = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()
    counts = collections.Counter()
    for round_number in range(rounds):
        for url in urls:
            req = urllib.request.Request(url + "/predict", data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    counts[resp.status] += 1
            except urllib.error.HTTPError as exc:
                counts[exc.code] += 1
        time.sleep(1.0 / rate)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
