#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Envelope encryption throughput and peak memory on a large file.

Usage (from the repository root, with the test venv active)::

    PYTHONPATH=.build/collections nice python benchmarks/crypto.py [--size-mib 1100] [--chunk-kib 1024]

Each encrypt and decrypt runs in its own child process (one thread, so one
core); the parent reads the child's peak resident set size with wait4(), and
the child reports its wall and CPU time. "file" rows go file to file;
"stream" rows encrypt generated input into a discarding sink and decrypt
the encrypted file into a discarding sink, to show the cost of the cipher
and framing apart from the kernel's page-cache writes. A run on a small file gives the baseline
that shows memory does not grow with the file; the default large file is
1100 MiB, above 1 GiB. Every "file" round trip is checked: the parent hashes
(SHA-256) the random plaintext as it writes it and the decrypted file once the
decrypt child has exited, a block at a time (no whole-file buffer, not in the
children's times or peak RSS), and exits non-zero if the two differ. Files go
to --dir (default /dev/shm when it exists, to measure the cipher rather than
the disk) and are removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, os, resource, sys, time
from ansible_collections.lepton.aiops.plugins.module_utils._envelope import (
    decrypt_file, decrypt_stream, encrypt_file, encrypt_stream)
from ansible_collections.lepton.aiops.plugins.module_utils._keyring import Keyring


class Source:
    # 'size' bytes of one random block, handed out with readinto (one copy).
    def __init__(self, size):
        self.left, self.block = size, memoryview(os.urandom(1 << 20))

    def readinto(self, view):
        count = min(len(view), len(self.block), self.left)
        view[:count] = self.block[:count]
        self.left -= count
        return count


class Null:
    def write(self, data):
        return len(data)


op, ring_path, src, dest, chunk = sys.argv[1:6]
ring = Keyring(ring_path)
ring.private_key(ring.current_version)  # load keys outside the timed part
public = ring.public_key()
start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
if op == "encrypt":
    encrypt_file(src, dest, ring.name, ring.current_version, public, int(chunk))
elif op == "decrypt":
    decrypt_file(src, dest, ring.private_key_for)
elif op == "encrypt-stream":
    encrypt_stream(Source(int(dest)), Null(), ring.name, ring.current_version, public, int(chunk))
else:
    with open(src, "rb", buffering=0) as handle:
        decrypt_stream(handle, Null().write, ring.private_key_for)
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(dict(seconds=time.perf_counter() - start, user=after.ru_utime - before.ru_utime,
                      system=after.ru_stime - before.ru_stime)))
"""


def run_child(op, ring, src, dest, chunk):
    """Run one operation in a child; (wall, user CPU, system CPU seconds, peak RSS in MiB)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, op, ring, src, dest, str(chunk)],
                            stdout=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))
    out = proc.stdout.read()
    proc.stdout.close()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit("%s failed with exit code %d" % (op, proc.returncode))
    times = json.loads(out)
    return times["seconds"], times["user"], times["system"], usage.ru_maxrss / 1024.0


def make_input(path, size):
    """Write 'size' random bytes (fresh 4 MiB blocks, so misplaced chunks differ); their SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            block = os.urandom(min(left, 4 << 20))
            handle.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def sha256_of(path):
    """SHA-256 and size of a file, read a block at a time into one buffer."""
    digest, buf, size = hashlib.sha256(), bytearray(4 << 20), 0
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as handle:
        count = handle.readinto(buf)
        while count:
            digest.update(view[:count])
            size += count
            count = handle.readinto(buf)
    return digest.hexdigest(), size


def measure(workdir, ring, size, chunk):
    src = os.path.join(workdir, "plain-%d" % size)
    enc, dec = src + ".enc", src + ".dec"
    plain_sha256 = make_input(src, size)
    rows = []
    for mode in ("file", "stream"):
        if mode == "file":
            enc_s, enc_user, enc_sys, enc_rss = run_child("encrypt", ring, src, enc, chunk)
            os.unlink(src)
            dec_s, dec_user, dec_sys, dec_rss = run_child("decrypt", ring, enc, dec, chunk)
            dec_sha256, dec_size = sha256_of(dec)  # after the child: outside its time and RSS
            os.unlink(dec)
            if (dec_sha256, dec_size) != (plain_sha256, size):
                sys.exit("round trip FAILED at %d MiB: plaintext %d bytes, SHA-256 %s; decrypted %d bytes, "
                         "SHA-256 %s" % (size >> 20, size, plain_sha256, dec_size, dec_sha256))
        else:
            enc_s, enc_user, enc_sys, enc_rss = run_child("encrypt-stream", ring, "-", str(size), chunk)
            dec_s, dec_user, dec_sys, dec_rss = run_child("decrypt-stream", ring, enc, "-", chunk)
            os.unlink(enc)
        rows.append(dict(mode=mode, size_bytes=size, chunk_bytes=chunk,
                         round_trip_sha256=plain_sha256 if mode == "file" else None,
                         encrypt_gb_per_s=size / enc_s / 1e9, decrypt_gb_per_s=size / dec_s / 1e9,
                         encrypt_gb_per_cpu_s=size / max(enc_user + enc_sys, 1e-3) / 1e9,
                         decrypt_gb_per_cpu_s=size / max(dec_user + dec_sys, 1e-3) / 1e9,
                         encrypt_user_s=enc_user, encrypt_system_s=enc_sys,
                         decrypt_user_s=dec_user, decrypt_system_s=dec_sys,
                         encrypt_peak_rss_mib=enc_rss, decrypt_peak_rss_mib=dec_rss))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1100)
    parser.add_argument("--baseline-mib", type=int, default=16)
    parser.add_argument("--chunk-kib", type=int, default=1024)
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = parser.parse_args()
    from ansible_collections.lepton.aiops.plugins.module_utils._keyring import Keyring

    workdir = tempfile.mkdtemp(prefix="lepton-bench-crypto-", dir=args.dir)
    try:
        ring = os.path.join(workdir, "ring")
        Keyring(ring).add_versions("bench", 1)
        chunk = args.chunk_kib * 1024
        results = [row for size in (args.baseline_mib, args.size_mib)
                   for row in measure(workdir, ring, size << 20, chunk)]
    finally:
        shutil.rmtree(workdir)
    print("GB/s: 1e9 bytes per wall second (shared machine: other jobs take CPU). GB/cpu-s: per second of")
    print("this process's user + system CPU, i.e. one core to itself. user/sys s: CPU seconds (sys = kernel:")
    print("page cache, file system). file: file to file in --dir; stream: generated input, discarded output.")
    head = ("mode", "size", "enc GB/s", "dec GB/s", "enc GB/cpu-s", "dec GB/cpu-s", "enc user s", "enc sys s",
            "dec user s", "dec sys s", "enc peak MiB", "dec peak MiB")
    print("%-6s %-8s" % head[:2] + "".join(" %12s" % h for h in head[2:]))
    for row in results:
        values = (row["encrypt_gb_per_s"], row["decrypt_gb_per_s"], row["encrypt_gb_per_cpu_s"],
                  row["decrypt_gb_per_cpu_s"], row["encrypt_user_s"], row["encrypt_system_s"],
                  row["decrypt_user_s"], row["decrypt_system_s"], row["encrypt_peak_rss_mib"],
                  row["decrypt_peak_rss_mib"])
        print("%-6s %-8s" % (row["mode"], "%d MiB" % (row["size_bytes"] >> 20))
              + "".join(" %12.2f" % v for v in values))
    print("chunk %d KiB" % args.chunk_kib)
    print("round trip verified (SHA-256 of plaintext == SHA-256 of decrypted file): "
          + ", ".join("%d MiB %s..." % (row["size_bytes"] >> 20, row["round_trip_sha256"][:16])
                      for row in results if row["mode"] == "file"))
    print(json.dumps(dict(results=results, python=sys.version.split()[0], cpus=os.cpu_count(),
                          load_average=os.getloadavg(),
                          when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))))


if __name__ == "__main__":
    main()
