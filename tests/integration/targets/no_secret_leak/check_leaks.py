#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail when a known secret appears in the captured output (or in any state the autoscaler callback saved).

Secrets: the passphrases and the basic-auth passwords of secrets.yml, every
private key body under data/ and under the demo's /etc/lepton/pki (PEM base64
lines), the decrypted credentials, and the data key of the encrypted
credentials file (hex and base64).
"""

from __future__ import annotations

import base64
import pathlib
import sys

import yaml

from ansible_collections.lepton.aiops.plugins.module_utils._envelope import read_header, unwrap
from ansible_collections.lepton.aiops.plugins.module_utils._keyring import Keyring

DEMO_PKI = pathlib.Path("/etc/lepton/pki")


def pem_lines(path):
    """The base64 body lines of a PEM file (each is unique key material)."""
    lines = []
    in_key = False
    for line in path.read_text().splitlines():
        if line.startswith("-----BEGIN") and "PRIVATE KEY" in line:
            in_key = True
        elif line.startswith("-----END"):
            in_key = False
        elif in_key and len(line) >= 32:
            lines.append(line)
    return lines


def secrets_of(work):
    known = {}
    for name, value in yaml.safe_load((work / "secrets.yml").read_text()).items():
        if isinstance(value, dict):   # {user: password}
            known.update(("%s.%s" % (name, user), password) for user, password in value.items())
        else:
            known[name] = value
    data = work / "data"
    keys = [p for p in data.rglob("*") if p.is_file() and p.suffix in (".key", ".pem")]
    # the demo's keys, when it has run on this host (its CA's and those it issued)
    keys += [p for p in DEMO_PKI.rglob("*") if p.is_file() and p.suffix in (".key", ".pem")]
    for path in keys:
        for index, line in enumerate(pem_lines(path)):
            known["%s line %d" % (path, index)] = line
    envelope = data / "credentials.env"
    ring = Keyring(str(data / "keyring"), known["secure_data_keyring_passphrase"])
    with open(envelope, "rb") as handle:
        header = read_header(handle)
    data_key = unwrap(header, ring.private_key_for(header.key_id, header.key_version))
    known["data key (hex)"] = data_key.hex()
    known["data key (base64)"] = base64.b64encode(data_key).decode()
    known["data key (urlsafe base64)"] = base64.urlsafe_b64encode(data_key).decode().rstrip("=")
    plain = (data / "credentials.plain.env").read_text()
    known["decrypted credentials"] = plain.strip()
    return known


def main():
    work = pathlib.Path(sys.argv[1])
    known = secrets_of(work)
    texts = {"output.log": (work / "output.log").read_text(errors="replace")}
    state = work / "callback-state"
    if state.is_dir():
        for path in state.rglob("*"):
            if path.is_file():
                texts[str(path.relative_to(work))] = path.read_text(errors="replace")
    output = texts["output.log"]
    checks = ["TASK [lepton.aiops.pki : Create or renew the CA certificate]", "TASK [Create or rotate the data keyring]",
              "TASK [Encrypt the credentials at rest]", "TASK [Re-wrap them under the newest keyring version]",
              '"action": "rewrap"', "module_args", "--- before", "PLAY RECAP"]
    missing = [c for c in checks if c not in output]
    if missing:
        sys.exit("the captured output does not look like the playbook runs: missing %s" % missing)
    leaks = ["%s appears in %s" % (name, where) for name, value in known.items()
             for where, text in texts.items() if value and value in text]
    key_lines = sum(1 for name in known if " line " in name)
    print("checked %d secrets (%d private key lines, 3 data key encodings) in %d captured files, %d bytes, "
          "%d playbook runs" % (len(known), key_lines, len(texts), sum(len(t) for t in texts.values()),
                                output.count("PLAY RECAP")))
    if leaks:
        sys.exit("SECRET LEAK:\n" + "\n".join(leaks))
    print("no secret leaked")


if __name__ == "__main__":
    main()
