# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Closed-loop HTTP/1.1 load generator with keep-alive, for reliability tests.

Each of ``--concurrency`` workers keeps one connection open and sends
requests back to back (optionally capped at ``--rate`` requests/s overall).
It stops when at least ``--requests`` were sent and, if ``--stop-file`` is
given, that file exists; or when ``--max-seconds`` passed. It prints one JSON
object: totals, failures by kind, status counts, requests/s and latency
percentiles. A request fails when the connection is refused or reset, the
response is cut short, it times out, or the status is not 2xx. A connection
that the server closed while idle (a reused keep-alive connection that gives
no response byte at all) is reopened and the request resent, as HTTP clients
do; those resends are counted in ``stale_resends``, not hidden.

Standard library only, so it runs from any Python 3.9+.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from urllib.parse import urlsplit


class Failure(Exception):
    """A request failed; ``kind`` says how."""

    def __init__(self, kind, stale=False):
        super().__init__(kind)
        self.kind = kind
        self.stale = stale


class Connection:
    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.reader = self.writer = None
        self.used = 0

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None
        self.used = 0

    async def request(self, raw):
        if self.writer is None:
            try:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.timeout)
            except asyncio.TimeoutError:
                raise Failure("connect_timeout")
            except OSError:
                raise Failure("connect_error")
        reused = self.used > 0
        got_bytes = False
        try:
            self.writer.write(raw)
            await self.writer.drain()
            line = await asyncio.wait_for(self.reader.readline(), self.timeout)
            if not line:
                raise Failure("closed_before_response", stale=reused)
            got_bytes = True
            status = int(line.split()[1])
            length, close, chunked = 0, False, False
            while True:
                header = await asyncio.wait_for(self.reader.readline(), self.timeout)
                if not header:
                    raise Failure("truncated_response")
                if header in (b"\r\n", b"\n"):
                    break
                name, value = header.decode("latin-1").partition(":")[::2]
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value == "close":
                    close = True
                elif name == "transfer-encoding" and "chunked" in value:
                    chunked = True
            if chunked:
                while True:
                    size = int((await asyncio.wait_for(self.reader.readline(), self.timeout)).split(b";")[0], 16)
                    await asyncio.wait_for(self.reader.readexactly(size + 2), self.timeout)
                    if size == 0:
                        break
            elif length:
                await asyncio.wait_for(self.reader.readexactly(length), self.timeout)
        except Failure:
            await self.close()
            raise
        except asyncio.TimeoutError:
            await self.close()
            raise Failure("timeout")
        except asyncio.IncompleteReadError:
            await self.close()
            raise Failure("truncated_response")
        except (OSError, ValueError, IndexError):
            await self.close()
            raise Failure("connection_error" if got_bytes else "closed_before_response", stale=reused and not got_bytes)
        self.used += 1
        if close:
            await self.close()
        return status


class Stats:
    def __init__(self):
        self.sent = self.ok = self.failed = self.stale_resends = 0
        self.failures, self.statuses, self.latencies = {}, {}, []

    def add_failure(self, kind):
        self.failed += 1
        self.failures[kind] = self.failures.get(kind, 0) + 1


async def worker(args, raw, stats, deadline, pace):
    conn = Connection(args.host, args.port, args.timeout)
    while not done(args, stats, deadline):
        if pace is not None:
            await pace.get()
        stats.sent += 1
        start = time.perf_counter()
        try:
            try:
                status = await conn.request(raw)
            except Failure as exc:
                if not exc.stale:
                    raise
                stats.stale_resends += 1
                status = await conn.request(raw)
        except Failure as exc:
            stats.add_failure(exc.kind)
            await asyncio.sleep(0.01)
            continue
        stats.latencies.append(time.perf_counter() - start)
        stats.statuses[str(status)] = stats.statuses.get(str(status), 0) + 1
        if 200 <= status < 300:
            stats.ok += 1
        else:
            stats.add_failure("status_%d" % status)
    await conn.close()


def done(args, stats, deadline):
    if time.monotonic() >= deadline:
        return True
    if stats.sent < args.requests:
        return False
    return not args.stop_file or os.path.exists(args.stop_file)


async def pacer(queue, rate, stop):
    interval = 1.0 / rate
    next_tick = time.monotonic()
    while not stop.is_set():
        next_tick += interval
        delay = next_tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if queue.qsize() < 64:
            queue.put_nowait(None)


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args):
    url = urlsplit(args.url)
    args.host, args.port = url.hostname, url.port or 80
    body = args.body.encode()
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        args.method, url.path or "/", url.netloc, len(body))
    raw = head.encode() + body
    stats = Stats()
    start = time.monotonic()
    deadline = start + args.max_seconds
    stop = asyncio.Event()
    pace = asyncio.Queue() if args.rate else None
    pace_task = asyncio.ensure_future(pacer(pace, args.rate, stop)) if args.rate else None
    await asyncio.gather(*(worker(args, raw, stats, deadline, pace) for dummy in range(args.concurrency)))
    stop.set()
    if pace_task:
        pace_task.cancel()
    elapsed = time.monotonic() - start
    ms = [x * 1000 for x in stats.latencies]
    return {
        "url": args.url, "concurrency": args.concurrency, "seconds": round(elapsed, 2),
        "requests": stats.sent, "ok": stats.ok, "failed": stats.failed,
        "failed_ratio": round(stats.failed / stats.sent, 6) if stats.sent else 0.0,
        "failures": stats.failures, "statuses": stats.statuses, "stale_resends": stats.stale_resends,
        "rps": round(stats.sent / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(ms, 0.50), 2) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 2) if ms else None,
        "timed_out": time.monotonic() >= deadline,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body", default='{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=10000, help="send at least this many")
    parser.add_argument("--rate", type=float, default=0, help="cap in requests/s (0: as fast as possible)")
    parser.add_argument("--stop-file", help="keep going until this file exists")
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--timeout", type=float, default=10, help="per-request timeout in seconds")
    parser.add_argument("--output", help="write the JSON result here too")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    text = json.dumps(result, sort_keys=True)
    if args.output:
        with open(args.output + ".tmp", "w") as handle:
            handle.write(text + "\n")
        os.replace(args.output + ".tmp", args.output)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
