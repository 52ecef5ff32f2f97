# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTPS backend of the nginx_lb and haproxy_lb targets (TLS from the LB to the servers).

Usage: tls_backend.py BODY SERVER_NAME CERT KEY CA PORT. The TLS handshake
requires a client certificate issued by CA (mutual TLS); every GET, health
checks included, gets 200 and BODY when the client sent SERVER_NAME as SNI,
421 otherwise, with the header ``X-TLS: <protocol version> <SNI>``. Each
connection, handshake included, is handled in its own thread, so a client
that fails the handshake never stops the server. It prints ``listening``
once it accepts connections.
"""
import http.server
import ssl
import sys

BODY, SERVER_NAME, CERT, KEY, CA, PORT = sys.argv[1:7]
CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CONTEXT.load_cert_chain(CERT, KEY)
CONTEXT.load_verify_locations(CA)
CONTEXT.verify_mode = ssl.CERT_REQUIRED
CONTEXT.sni_callback = lambda tls, name, context: setattr(tls, "sni", name)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = getattr(self.connection, "sni", None) == SERVER_NAME
        body = (BODY if ok else "SNI %s is not %s" % (getattr(self.connection, "sni", None), SERVER_NAME)).encode() + b"\n"
        self.send_response(200 if ok else 421)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-TLS", "%s %s" % (self.connection.version(), getattr(self.connection, "sni", None)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        request.settimeout(10)
        with CONTEXT.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request, client_address):
        print("connection from %s:%s failed: %s" % (client_address + (sys.exc_info()[1],)), file=sys.stderr)


server = Server(("0.0.0.0", int(PORT)), Handler)
print("listening on port %s" % PORT)
server.serve_forever()
