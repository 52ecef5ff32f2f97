# Save HAProxy's server state (weights, drain, maintenance set through the
# runtime API) to the server-state-file before a reload, so the new process
# starts with it. Used by the haproxy_lb role's reload handler.
# Usage: python3 save_server_state.py <admin socket> <state file>
import os
import socket
import sys


def main(path, dest):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect(path)
    except OSError as exc:
        print("runtime API not reachable, nothing saved: %s" % exc)
        return 0
    sock.sendall(b"show servers state\n")
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    sock.close()
    with open(dest + ".tmp", "wb") as handle:
        handle.write(b"".join(chunks))
    os.replace(dest + ".tmp", dest)
    print("saved %s" % dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
