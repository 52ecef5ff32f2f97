"""The lepton.aiops demo inference microservice (Python standard library only).

Serves the Iris classifier that train.py produced:

  POST /predict        {"instances": [[5.1, 3.5, 1.4, 0.2], ...]}
  GET  /healthz        the process is alive
  GET  /readyz         ready to take traffic (503 while starting or draining)
  GET  /metrics        Prometheus text format
  GET|POST /admin/faults   read or set injected faults {"error_rate", "latency_ms"}

Environment: PORT (8000), MODEL_VERSION, INFERENCE_LATENCY_MS and
INFERENCE_ERROR_RATE (injected faults), INFERENCE_STARTUP_SECONDS (delay before
ready), INFERENCE_DRAIN_SECONDS (after SIGTERM: not ready, keep serving with
Connection: close, then exit), INFERENCE_FORCE_UNHEALTHY (never ready; for
rollback tests), INFERENCE_TLS_CERT and INFERENCE_TLS_KEY (PEM files: serve
HTTPS instead of HTTP on PORT).

`python3 app.py healthcheck` asks the running service's /readyz (over HTTPS
when INFERENCE_TLS_CERT is set) and exits 0 when it is ready: the image's
Docker HEALTHCHECK.
"""
import json
import math
import os
import random
import resource
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TICKS = os.sysconf("SC_CLK_TCK")


def env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        sys.exit("%s must be a number, got %r" % (name, os.environ[name]))


class Model:
    """Multinomial logistic regression loaded from model.json."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as handle:
            spec = json.load(handle)
        self.name = spec["name"]
        self.classes = spec["classes"]
        self.features = spec["features"]
        self.mean, self.std = spec["mean"], spec["std"]
        self.weights, self.bias = spec["weights"], spec["bias"]

    def predict(self, row):
        if len(row) != len(self.features):
            raise ValueError("each instance needs %d numbers: %s" % (len(self.features), ", ".join(self.features)))
        z = [(float(v) - m) / s for v, m, s in zip(row, self.mean, self.std)]
        scores = [sum(w * v for w, v in zip(wk, z)) + bk for wk, bk in zip(self.weights, self.bias)]
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        probs = {c: round(e / total, 6) for c, e in zip(self.classes, exp)}
        return {"label": max(probs, key=probs.get), "probabilities": probs}


class Metrics:
    """Counters, a latency histogram and gauges, rendered in Prometheus text format."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}
        self.hist = {}
        self.in_flight = 0

    def observe(self, route, code, seconds):
        with self.lock:
            self.requests[(route, code)] = self.requests.get((route, code), 0) + 1
            counts, total = self.hist.setdefault(route, ([0] * (len(BUCKETS) + 1), [0.0]))
            counts[next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))] += 1
            total[0] += seconds

    def render(self, state):
        out = [
            "# HELP inference_requests_total Requests handled, by route and HTTP status code.",
            "# TYPE inference_requests_total counter",
        ]
        with self.lock:
            for (route, code), n in sorted(self.requests.items()):
                out.append('inference_requests_total{route="%s",code="%d"} %d' % (route, code, n))
            out += ["# HELP inference_request_duration_seconds Request latency.",
                    "# TYPE inference_request_duration_seconds histogram"]
            for route, (counts, total) in sorted(self.hist.items()):
                cumulative = 0
                for bound, n in zip(BUCKETS + (float("inf"),), counts):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    out.append('inference_request_duration_seconds_bucket{route="%s",le="%s"} %d' % (route, le, cumulative))
                out.append('inference_request_duration_seconds_sum{route="%s"} %.6f' % (route, total[0]))
                out.append('inference_request_duration_seconds_count{route="%s"} %d' % (route, cumulative))
            in_flight = self.in_flight
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out += [
            "# HELP inference_in_flight_requests Requests being handled now.",
            "# TYPE inference_in_flight_requests gauge",
            "inference_in_flight_requests %d" % in_flight,
            "# HELP inference_model_info The model being served.",
            "# TYPE inference_model_info gauge",
            'inference_model_info{model="%s",version="%s"} 1' % (state.model.name, state.version),
            "# HELP inference_ready Whether the replica takes traffic (1) or not (0).",
            "# TYPE inference_ready gauge",
            "inference_ready %d" % state.ready(),
            "# HELP inference_fault_error_rate Injected error rate (0 in normal operation).",
            "# TYPE inference_fault_error_rate gauge",
            "inference_fault_error_rate %g" % state.error_rate,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
            "# TYPE process_cpu_seconds_total counter",
            "process_cpu_seconds_total %.3f" % (usage.ru_utime + usage.ru_stime),
            "# HELP process_resident_memory_bytes Resident memory size in bytes.",
            "# TYPE process_resident_memory_bytes gauge",
            "process_resident_memory_bytes %d" % rss_bytes(),
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            "process_start_time_seconds %.3f" % state.started,
        ]
        return "\n".join(out) + "\n"


def rss_bytes():
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class State:
    def __init__(self):
        self.model = Model(os.path.join(HERE, "model.json"))
        self.version = os.environ.get("MODEL_VERSION", "dev")
        self.error_rate = env_float("INFERENCE_ERROR_RATE", 0)
        self.latency_ms = env_float("INFERENCE_LATENCY_MS", 0)
        self.started = time.time()
        self.ready_at = self.started + env_float("INFERENCE_STARTUP_SECONDS", 0)
        self.unhealthy = os.environ.get("INFERENCE_FORCE_UNHEALTHY", "") not in ("", "0", "false")
        self.draining = False
        self.metrics = Metrics()
        self.random = random.Random()

    def ready(self):
        return not self.draining and not self.unhealthy and time.time() >= self.ready_at


STATE = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lepton-inference/1"
    # Headers and body go out in two writes; without TCP_NODELAY the body
    # waits for the client's delayed ACK (about 40 ms per keep-alive request).
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - quiet access log
        pass

    def send(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Model-Version", STATE.version)
        if STATE.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def handle_one(self, method):
        route = self.path.split("?", 1)[0]
        start = time.perf_counter()
        with STATE.metrics.lock:
            STATE.metrics.in_flight += 1
        code = 500
        try:
            code = self.dispatch(method, route)
        finally:
            with STATE.metrics.lock:
                STATE.metrics.in_flight -= 1
            if route in ("/predict", "/healthz", "/readyz", "/admin/faults"):
                STATE.metrics.observe(route, code, time.perf_counter() - start)

    def dispatch(self, method, route):
        if method == "GET" and route == "/healthz":
            self.send(200, {"status": "alive", "version": STATE.version})
            return 200
        if method == "GET" and route == "/readyz":
            code = 200 if STATE.ready() else 503
            self.send(code, {"ready": code == 200, "draining": STATE.draining, "version": STATE.version})
            return code
        if method == "GET" and route == "/metrics":
            self.send(200, STATE.metrics.render(STATE).encode(), "text/plain; version=0.0.4")
            return 200
        if route == "/admin/faults":
            return self.faults(method)
        if method == "POST" and route == "/predict":
            return self.predict()
        self.send(404, {"error": "no route %s %s" % (method, route)})
        return 404

    def faults(self, method):
        if method == "POST":
            try:
                spec = self.body()
                STATE.error_rate = min(1.0, max(0.0, float(spec.get("error_rate", STATE.error_rate))))
                STATE.latency_ms = max(0.0, float(spec.get("latency_ms", STATE.latency_ms)))
            except (ValueError, TypeError, AttributeError) as exc:
                self.send(400, {"error": "bad fault spec: %s" % exc})
                return 400
        self.send(200, {"error_rate": STATE.error_rate, "latency_ms": STATE.latency_ms})
        return 200

    def predict(self):
        try:
            payload = self.body()
            instances = payload["instances"] if isinstance(payload, dict) else None
            if not isinstance(instances, list) or not instances:
                raise ValueError('send {"instances": [[f1, f2, f3, f4], ...]}')
            if STATE.latency_ms:
                time.sleep(STATE.latency_ms / 1000.0)
            if STATE.error_rate and STATE.random.random() < STATE.error_rate:
                self.send(500, {"error": "injected fault"})
                return 500
            predictions = [STATE.model.predict(row) for row in instances]
        except (ValueError, KeyError, TypeError) as exc:
            self.send(400, {"error": str(exc)})
            return 400
        self.send(200, {"predictions": predictions, "model": STATE.model.name, "model_version": STATE.version})
        return 200

    def do_GET(self):  # noqa: N802
        self.handle_one("GET")

    def do_POST(self):  # noqa: N802
        self.handle_one("POST")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog of 5 drops connections under a burst of
    # new clients (a load balancer opening its pool, a load test).
    request_queue_size = 256

    def handle_error(self, request, client_address):
        """Clients that hang up mid-request are normal; log anything else."""
        error = sys.exc_info()[1]
        if isinstance(error, ssl.SSLError):
            print("TLS handshake with %s:%d failed: %s" % (client_address[0], client_address[1], error), flush=True)
        elif not isinstance(error, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def tls_context():
    """The server's TLS context from INFERENCE_TLS_CERT and INFERENCE_TLS_KEY, None when neither is set."""
    cert, key = os.environ.get("INFERENCE_TLS_CERT"), os.environ.get("INFERENCE_TLS_KEY")
    if not cert and not key:
        return None
    if not (cert and key):
        sys.exit("set both INFERENCE_TLS_CERT and INFERENCE_TLS_KEY to serve HTTPS, or neither")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        sys.exit("cannot load the TLS certificate %s and key %s: %s" % (cert, key, exc))
    return context


def healthcheck():
    """Exit 0 when the service on PORT answers /readyz with 200 (the certificate is not checked: it is us)."""
    import urllib.request  # pylint: disable=import-outside-toplevel
    scheme = "https" if os.environ.get("INFERENCE_TLS_CERT") else "http"
    unverified = ssl.create_default_context()
    unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
    url = "%s://127.0.0.1:%s/readyz" % (scheme, os.environ.get("PORT", "8000"))
    try:
        with urllib.request.urlopen(url, timeout=2, context=unverified) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print("%s: %s" % (url, exc))
        return 1


def main():
    global STATE
    context = tls_context()
    STATE = State()
    port = int(os.environ.get("PORT", "8000"))
    server = Server(("0.0.0.0", port), Handler)
    if context is not None:
        # The handshake happens in the request's thread, on its first read,
        # so a slow client never holds up the accept loop.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    drain = env_float("INFERENCE_DRAIN_SECONDS", 2)

    def on_term(_signum, _frame):
        if STATE.draining:
            return
        STATE.draining = True
        threading.Thread(target=lambda: (time.sleep(drain), server.shutdown()), daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("serving %s version %s on :%d (%s)" % (STATE.model.name, STATE.version, port,
                                                 "https" if context else "http"), flush=True)
    server.serve_forever()
    print("drained and stopped", flush=True)


if __name__ == "__main__":
    sys.exit(healthcheck() if sys.argv[1:] == ["healthcheck"] else main())
