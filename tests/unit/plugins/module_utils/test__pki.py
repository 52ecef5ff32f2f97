# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private CA and certificates: issue, keep while valid, renew near expiry."""

from __future__ import annotations

import datetime
import json
import os
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.lepton.aiops.plugins.module_utils._pki import (
    PkiError, load_certificate, normalize_sans, run, signed_by, utcnow)

CA_PASS = "ca passphrase for tests"


def ca_params(tmp_path, **extra):
    params = dict(path=str(tmp_path / "ca.crt"), key_path=str(tmp_path / "ca.key"), common_name="Test CA",
                  usage="ca", valid_days=3650, renew_before_days=180, key_passphrase=CA_PASS, key_type="ec")
    params.update(extra)
    return params


def leaf_params(tmp_path, name="svc", **extra):
    params = dict(path=str(tmp_path / (name + ".crt")), key_path=str(tmp_path / (name + ".key")),
                  bundle_path=str(tmp_path / (name + ".pem")), fullchain_path=str(tmp_path / (name + ".full")),
                  common_name="svc.internal", subject_alt_names=["svc.internal", "127.0.0.1"],
                  usage="server", ca_certificate=str(tmp_path / "ca.crt"), ca_key=str(tmp_path / "ca.key"),
                  ca_key_passphrase=CA_PASS, valid_days=90, renew_before_days=30, key_type="ec")
    params.update(extra)
    return params


@pytest.fixture
def ca(tmp_path):
    run(ca_params(tmp_path))
    return tmp_path


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("given, expected", [
    (["a.example", "10.0.0.1"], ["DNS:a.example", "IP:10.0.0.1"]),
    (["DNS:a", "dns:a", "IP:::1", "email:x@y", "URI:https://u"], ["DNS:a", "IP:::1", "URI:https://u",
                                                                  "email:x@y"]),
    ([], []),
])
def test_normalize_sans(given, expected):
    assert normalize_sans(given) == expected


def test_bad_ip_san_is_refused():
    with pytest.raises(PkiError, match="not an IP address"):
        normalize_sans(["IP:300.1.1.1"])


def test_issue_then_keep_while_valid(ca):
    first = run(leaf_params(ca))
    again = run(leaf_params(ca))
    assert first["changed"] and first["renewed"] and first["reasons"] == ["certificate missing or unreadable"]
    assert again["changed"] is False and again["reasons"] == []
    assert again["certificate"]["serial"] == first["certificate"]["serial"]
    cert = load_certificate(str(ca / "svc.crt"))
    assert signed_by(cert, load_certificate(str(ca / "ca.crt")))
    assert first["certificate"]["subject_alt_names"] == ["DNS:svc.internal", "IP:127.0.0.1"]
    assert mode(ca / "svc.key") == 0o600 and mode(ca / "svc.pem") == 0o600 and mode(ca / "ca.key") == 0o600
    assert mode(ca / "svc.crt") == 0o644


def test_near_expiry_renews_and_keeps_the_key(ca):
    first = run(leaf_params(ca))
    key_before = (ca / "svc.key").read_bytes()
    at_59_days = utcnow() + datetime.timedelta(days=59)
    assert run(leaf_params(ca), now=at_59_days)["changed"] is False  # 31 days left: still valid
    at_75_days = utcnow() + datetime.timedelta(days=75)
    check = run(leaf_params(ca), check_mode=True, now=at_75_days)
    assert check["renewed"] and check["reasons"][0].startswith("expires in 14 days")
    assert run(leaf_params(ca))["certificate"]["serial"] == first["certificate"]["serial"]  # check wrote nothing
    renewed = run(leaf_params(ca), now=at_75_days)
    assert renewed["renewed"] and renewed["certificate"]["serial"] != first["certificate"]["serial"]
    assert (ca / "svc.key").read_bytes() == key_before
    assert sorted(renewed["changed_files"]) == sorted(str(ca / n) for n in ("svc.crt", "svc.full", "svc.pem"))


@pytest.mark.parametrize("change, reason", [
    (dict(subject_alt_names=["svc.internal", "other.internal"]), "subject alternative names changed"),
    (dict(common_name="renamed"), "common name changed"),
    (dict(organization="Lepton"), "organization changed"),
    (dict(usage="server_client"), "usage changed"),
    (dict(key_type="rsa", key_size=2048), "key type or size changed"),
    (dict(force=True), "forced"),
])
def test_request_changes_reissue(ca, change, reason):
    run(leaf_params(ca))
    result = run(leaf_params(ca, **change))
    assert result["renewed"] and reason in result["reasons"]
    assert run(leaf_params(ca, **dict(change, force=False)))["changed"] is False


def test_a_path_in_a_missing_directory_is_a_clear_error(ca):
    with pytest.raises(PkiError, match="cannot write .*missing/svc.key: No such file or directory"):
        run(leaf_params(ca, key_path=str(ca / "missing" / "svc.key")))


def test_new_ca_reissues_leaves(ca):
    run(leaf_params(ca))
    os.unlink(ca / "ca.crt")
    os.unlink(ca / "ca.key")
    run(ca_params(ca))
    result = run(leaf_params(ca))
    assert result["reasons"] == ["not issued by the current CA"]
    assert signed_by(load_certificate(str(ca / "svc.crt")), load_certificate(str(ca / "ca.crt")))


def test_bundle_and_fullchain_content(ca):
    run(leaf_params(ca))
    cert, ca_cert = (ca / "svc.crt").read_bytes(), (ca / "ca.crt").read_bytes()
    assert (ca / "svc.full").read_bytes() == cert + ca_cert
    bundle = (ca / "svc.pem").read_bytes()
    assert bundle.startswith(cert + ca_cert) and b"PRIVATE KEY" in bundle
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(ca / "svc.pem"))  # the key in the bundle matches the certificate
    (ca / "svc.pem").write_bytes(b"stale")
    repaired = run(leaf_params(ca))
    assert repaired["changed"] and not repaired["renewed"] and repaired["changed_files"] == [str(ca / "svc.pem")]
    assert (ca / "svc.pem").read_bytes() == bundle


def test_loose_key_mode_is_repaired_without_reissue(ca):
    first = run(leaf_params(ca))
    os.chmod(ca / "svc.key", 0o644)
    fixed = run(leaf_params(ca))
    assert fixed["changed"] and not fixed["renewed"] and mode(ca / "svc.key") == 0o600
    assert fixed["certificate"]["serial"] == first["certificate"]["serial"]


def test_ca_key_is_encrypted_and_secrets_stay_out_of_results(ca):
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key((ca / "ca.key").read_bytes(), password=None)
    serialization.load_pem_private_key((ca / "ca.key").read_bytes(), password=CA_PASS.encode())
    result = run(leaf_params(ca))
    text = json.dumps(result)
    key_body = (ca / "svc.key").read_text().splitlines()[1]
    assert key_body not in text and CA_PASS not in text and "PRIVATE KEY" not in text


def test_wrong_ca_passphrase_fails_clearly(ca):
    with pytest.raises(PkiError, match="cannot load the private key .*ca.key"):
        run(leaf_params(ca, ca_key_passphrase="wrong"))
    assert not (ca / "svc.crt").exists()


def test_leaf_needs_a_ca(tmp_path):
    with pytest.raises(PkiError, match="missing"):
        run(leaf_params(tmp_path))


@pytest.mark.parametrize("extra, message", [
    (dict(valid_days=10, renew_before_days=10), "renew_before_days < valid_days"),
    (dict(key_type="ec", key_size=521), "256 or 384"),
    (dict(key_type="rsa", key_size=1024), "at least 2048"),
])
def test_invalid_requests(ca, extra, message):
    with pytest.raises(PkiError, match=message):
        run(leaf_params(ca, **extra))


def test_ca_certificate_is_a_ca(ca):
    cert = load_certificate(str(ca / "ca.crt"))
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.ca and usage.key_cert_sign
    key = serialization.load_pem_private_key((ca / "ca.key").read_bytes(), CA_PASS.encode())
    assert key.curve.name == "secp256r1"


def test_issued_certificates_complete_a_mutual_tls_handshake(ca):
    """Server and client certificates from the CA work for TLS with hostname checks and client auth."""
    import socket
    import threading

    run(leaf_params(ca, name="server", subject_alt_names=["localhost", "127.0.0.1"]))
    run(leaf_params(ca, name="client", common_name="scraper", subject_alt_names=[], usage="client"))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca / "ca.crt"))
    server_ctx.load_cert_chain(str(ca / "server.crt"), str(ca / "server.key"))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca / "ca.crt"))
    client_ctx.load_cert_chain(str(ca / "client.crt"), str(ca / "client.key"))
    left, right = socket.socketpair()
    seen = {}

    def serve():
        with server_ctx.wrap_socket(left, server_side=True) as tls:
            seen["client"] = tls.getpeercert()["subject"]
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    with client_ctx.wrap_socket(right, server_hostname="localhost") as tls:
        assert tls.recv(2) == b"ok"
    thread.join(5)
    assert seen["client"] == ((("commonName", "scraper"),),)


def test_client_certificate_is_refused_as_a_server(ca):
    import socket
    import threading

    run(leaf_params(ca, name="client", common_name="localhost", subject_alt_names=["localhost"], usage="client"))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(ca / "client.crt"), str(ca / "client.key"))
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca / "ca.crt"))
    left, right = socket.socketpair()

    def serve():
        try:
            with server_ctx.wrap_socket(left, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    with pytest.raises(ssl.SSLCertVerificationError, match="unsuitable certificate purpose"):
        client_ctx.wrap_socket(right, server_hostname="localhost")
    right.close()
    thread.join(5)
