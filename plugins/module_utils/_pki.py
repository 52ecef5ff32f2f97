# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small private PKI: CA, server and client certificates with ``cryptography``.

PRIVATE to the lepton.aiops collection: no compatibility promise to anything
outside it.

A certificate is (re)issued only when it is missing, unreadable, does not
match its key, no longer matches the request (subject, SANs, usage, CA), was
not signed by the given CA, or expires within ``renew_before_days``. Keys are
kept across renewals unless their type or size changes. Private keys are
written 0600 and never returned.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import ipaddress
import os

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

from ansible_collections.lepton.aiops.plugins.module_utils._keyring import write_atomic

USAGES = ("ca", "server", "client", "server_client")
KEY_TYPES = ("rsa", "ec")
_CURVES = {256: "SECP256R1", 384: "SECP384R1"}
CLOCK_SKEW = datetime.timedelta(minutes=5)


class PkiError(Exception):
    """A certificate or key cannot be read, checked or issued as asked."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def normalize_sans(entries):
    """``DNS:``/``IP:``/``URI:``/``email:`` prefixed strings; bare values are guessed (IP or DNS)."""
    result = []
    for entry in entries or []:
        entry = str(entry).strip()
        kind, sep, value = entry.partition(":")
        if sep and kind.upper() in ("DNS", "IP", "URI", "EMAIL"):
            kind = "email" if kind.upper() == "EMAIL" else kind.upper()
        else:
            kind, value = "DNS", entry
            try:
                ipaddress.ip_address(entry)
                kind = "IP"
            except ValueError:
                pass
        if kind == "IP":
            try:
                value = str(ipaddress.ip_address(value))
            except ValueError:
                raise PkiError("%r is not an IP address" % value)
        if not value:
            raise PkiError("empty subject alternative name %r" % entry)
        result.append("%s:%s" % (kind, value))
    return sorted(set(result))


def _general_name(san):
    kind, _sep, value = san.partition(":")
    if kind == "DNS":
        return x509.DNSName(value)
    if kind == "IP":
        return x509.IPAddress(ipaddress.ip_address(value))
    if kind == "URI":
        return x509.UniformResourceIdentifier(value)
    return x509.RFC822Name(value)


def _san_strings(cert):
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out = []
    for name in names:
        if isinstance(name, x509.DNSName):
            out.append("DNS:" + name.value)
        elif isinstance(name, x509.IPAddress):
            out.append("IP:" + str(name.value))
        elif isinstance(name, x509.UniformResourceIdentifier):
            out.append("URI:" + name.value)
        elif isinstance(name, x509.RFC822Name):
            out.append("email:" + name.value)
    return sorted(set(out))


def _usage_of(cert):
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return "ca"
    except x509.ExtensionNotFound:
        pass
    try:
        ekus = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        ekus = set()
    server, client = ExtendedKeyUsageOID.SERVER_AUTH in ekus, ExtendedKeyUsageOID.CLIENT_AUTH in ekus
    return {(True, True): "server_client", (True, False): "server", (False, True): "client"}.get(
        (server, client), "none")


def _common_name(cert):
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


class Request:
    """What a certificate should look like."""

    def __init__(self, common_name, sans=None, usage="server", valid_days=365, renew_before_days=30,
                 key_type="rsa", key_size=None, organization=None):
        if usage not in USAGES:
            raise PkiError("usage must be one of %s, got %r" % (", ".join(USAGES), usage))
        if key_type not in KEY_TYPES:
            raise PkiError("key_type must be rsa or ec, got %r" % key_type)
        if key_size is None:
            key_size = 3072 if key_type == "rsa" else 256
        if key_type == "rsa" and key_size < 2048:
            raise PkiError("RSA keys must have at least 2048 bits, got %d" % key_size)
        if key_type == "ec" and key_size not in _CURVES:
            raise PkiError("EC keys must be 256 or 384 bits, got %d" % key_size)
        if valid_days < 1 or renew_before_days < 0 or renew_before_days >= valid_days:
            raise PkiError("need valid_days >= 1 and 0 <= renew_before_days < valid_days, got %d and %d"
                           % (valid_days, renew_before_days))
        if not common_name:
            raise PkiError("common_name must not be empty")
        self.common_name = common_name
        self.sans = normalize_sans(sans)
        if usage in ("server", "server_client") and not self.sans:
            self.sans = normalize_sans([common_name])
        self.usage = usage
        self.valid_days = valid_days
        self.renew_before_days = renew_before_days
        self.key_type = key_type
        self.key_size = key_size
        self.organization = organization


def load_key(path, passphrase=None):
    """The private key at ``path``, or None when it is missing."""
    try:
        with open(path, "rb") as handle:
            pem = handle.read()
    except (IOError, OSError):
        return None
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        return serialization.load_pem_private_key(pem, password=password)
    except (TypeError, ValueError):
        raise PkiError("cannot load the private key %s: wrong or missing passphrase, or not a PEM key" % path)


def load_certificate(path):
    """The certificate at ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            return x509.load_pem_x509_certificate(handle.read())
    except (IOError, OSError, ValueError):
        return None


def key_matches(key, request):
    if request.key_type == "rsa":
        return isinstance(key, rsa.RSAPrivateKey) and key.key_size == request.key_size
    return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name.upper() == _CURVES[request.key_size]


def new_key(request):
    if request.key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=request.key_size)
    return ec.generate_private_key(getattr(ec, _CURVES[request.key_size])())


def _public_der(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def signed_by(cert, issuer_cert):
    """True when ``cert`` names ``issuer_cert`` as issuer and its signature verifies."""
    if cert.issuer != issuer_cert.subject:
        return False
    public = issuer_cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
        else:
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    except InvalidSignature:
        return False
    return True


def renewal_reasons(cert, key, request, issuer_cert, now):
    """Why the certificate must be (re)issued; empty when it is fine."""
    if cert is None:
        return ["certificate missing or unreadable"]
    reasons = []
    if key is None or _public_der(cert.public_key()) != _public_der(key.public_key()):
        reasons.append("certificate does not match the private key")
    if key is not None and not key_matches(key, request):
        reasons.append("key type or size changed")
    if _common_name(cert) != request.common_name:
        reasons.append("common name changed")
    elif cert.subject != subject_name(request):
        reasons.append("organization changed")
    if _san_strings(cert) != request.sans:
        reasons.append("subject alternative names changed")
    if _usage_of(cert) != request.usage:
        reasons.append("usage changed")
    if issuer_cert is not None and not signed_by(cert, issuer_cert):
        reasons.append("not issued by the current CA")
    if issuer_cert is None and cert.issuer != cert.subject:
        reasons.append("not self-signed")
    left = cert.not_valid_after_utc - now
    if left <= datetime.timedelta(days=request.renew_before_days):
        days = max(left.days, 0)
        reasons.append("expires in %d days (renew %d days before)" % (days, request.renew_before_days))
    return reasons


def subject_name(request):
    """The subject a certificate for ``request`` has: its organization (if any) and common name."""
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, request.common_name)]
    if request.organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, request.organization))
    return x509.Name(attrs)


def build(request, key, issuer_cert, issuer_key, now):
    """Issue a certificate for ``key``; self-signed when there is no issuer."""
    subject = subject_name(request)
    issuer = issuer_cert.subject if issuer_cert is not None else subject
    signer = issuer_key if issuer_key is not None else key
    is_ca = request.usage == "ca"
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - CLOCK_SKEW)
               .not_valid_after(now + datetime.timedelta(days=request.valid_days))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=False,
                   key_encipherment=not is_ca and request.key_type == "rsa", data_encipherment=False,
                   key_agreement=False, key_cert_sign=is_ca, crl_sign=is_ca, encipher_only=False,
                   decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                              critical=False))
    if not is_ca:
        ekus = {"server": [ExtendedKeyUsageOID.SERVER_AUTH], "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
                "server_client": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]}
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus[request.usage]), critical=False)
    if request.sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(s) for s in request.sans]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def describe(cert):
    """What a user may see about a certificate."""
    if cert is None:
        return dict(exists=False)
    return dict(exists=True, common_name=_common_name(cert), subject_alt_names=_san_strings(cert),
                usage=_usage_of(cert), serial="%x" % cert.serial_number, issuer=cert.issuer.rfc4514_string(),
                not_before=cert.not_valid_before_utc.isoformat(), not_after=cert.not_valid_after_utc.isoformat(),
                fingerprint_sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key, passphrase):
    encryption = (serialization.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _attributes_ok(path, mode, uid, gid):
    try:
        st = os.stat(path)
    except OSError:
        return False
    return ((st.st_mode & 0o7777) == mode and (uid is None or st.st_uid == uid)
            and (gid is None or st.st_gid == gid))


def _write(path, data, mode, uid, gid):
    try:
        write_atomic(path, data, mode)
        if uid is not None or gid is not None:
            os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    except OSError as exc:
        raise PkiError("cannot write %s: %s" % (path, exc.strerror or exc)) from exc


def ensure(paths, request, ca_paths=None, ca_passphrase=None, key_passphrase=None, uid=None, gid=None,
           check_mode=False, force=False, now=None):
    """Bring a certificate (and its key, fullchain and bundle files) to the request.

    ``paths``: dict with ``certificate`` and ``key``, optional ``fullchain``
    (certificate + CA) and ``bundle`` (certificate + CA + key, 0600).
    ``ca_paths``: dict with ``certificate`` and ``key`` of the issuing CA, or
    None for a self-signed certificate (a CA).
    """
    now = now or utcnow()
    issuer_cert = issuer_key = None
    if ca_paths:
        issuer_cert = load_certificate(ca_paths["certificate"])
        issuer_key = load_key(ca_paths["key"], ca_passphrase)
        if issuer_cert is None and issuer_key is None and check_mode:
            # The CA task before this one would create the CA: predict an issue.
            files = [p for p in (paths["certificate"], paths["key"], paths.get("fullchain"), paths.get("bundle")) if p]
            cert = load_certificate(paths["certificate"])
            return dict(changed=True, reasons=["the CA does not exist yet"], renewed=True, changed_files=files,
                        before=describe(cert), certificate=dict(
                            exists=True, common_name=request.common_name, subject_alt_names=request.sans,
                            usage=request.usage))
        if issuer_cert is None or issuer_key is None:
            raise PkiError("the CA certificate %s or key %s is missing" % (ca_paths["certificate"], ca_paths["key"]))
        if _public_der(issuer_cert.public_key()) != _public_der(issuer_key.public_key()):
            raise PkiError("the CA certificate %s does not match the CA key %s"
                           % (ca_paths["certificate"], ca_paths["key"]))
    cert = load_certificate(paths["certificate"])
    key = load_key(paths["key"], key_passphrase)
    before = describe(cert)
    reasons = renewal_reasons(cert, key, request, issuer_cert, now)
    if force:
        reasons.append("forced")
    new_key_needed = key is None or not key_matches(key, request)
    if new_key_needed and key is not None and "key type or size changed" not in reasons:
        reasons.append("key type or size changed")
    files = []
    if reasons:
        if not check_mode:
            if new_key_needed:
                key = new_key(request)
                _write(paths["key"], _key_pem(key, key_passphrase), 0o600, uid, gid)
            cert = build(request, key, issuer_cert, issuer_key, now)
            _write(paths["certificate"], _pem(cert), 0o644, uid, gid)
        files = [p for p in (paths["certificate"], paths.get("fullchain"), paths.get("bundle")) if p]
        if new_key_needed:
            files.insert(1, paths["key"])
    elif not _attributes_ok(paths["key"], 0o600, uid, gid) or not _attributes_ok(paths["certificate"], 0o644,
                                                                                 uid, gid):
        files = [paths["key"], paths["certificate"]]
        if not check_mode:
            for path, mode in ((paths["key"], 0o600), (paths["certificate"], 0o644)):
                os.chmod(path, mode)
                if uid is not None or gid is not None:
                    os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    chain = _pem(issuer_cert) if issuer_cert is not None else b""
    derived = []
    if paths.get("fullchain"):
        derived.append((paths["fullchain"], 0o644, lambda: _pem(cert) + chain))
    if paths.get("bundle"):
        derived.append((paths["bundle"], 0o600, lambda: _pem(cert) + chain + _key_pem(key, None)))
    for path, mode, content in derived:
        if path in files:
            if not check_mode:
                _write(path, content(), mode, uid, gid)
        elif _read(path) != content() or not _attributes_ok(path, mode, uid, gid):
            files.append(path)
            if not check_mode:
                _write(path, content(), mode, uid, gid)
    after = describe(cert) if not (reasons and check_mode) else dict(
        exists=True, common_name=request.common_name, subject_alt_names=request.sans, usage=request.usage)
    return dict(changed=bool(files), reasons=reasons, renewed=bool(reasons), changed_files=files,
                certificate=after, before=before)


def _resolve_id(value, kind):
    if value is None or value == "":
        return None
    if str(value).isdigit():
        return int(value)
    import grp
    import pwd
    try:
        return pwd.getpwnam(value).pw_uid if kind == "owner" else grp.getgrnam(value).gr_gid
    except KeyError:
        raise PkiError("%s %r does not exist on this host" % (kind, value))


def run(params, check_mode=False, now=None):
    """The x509_certificate module's options in, its result out."""
    request = Request(params["common_name"], params.get("subject_alt_names"), params.get("usage") or "server",
                      params.get("valid_days") or 365, params.get("renew_before_days", 30),
                      params.get("key_type") or "rsa", params.get("key_size"), params.get("organization"))
    paths = dict(certificate=params["path"], key=params["key_path"], fullchain=params.get("fullchain_path"),
                 bundle=params.get("bundle_path"))
    ca_paths = None
    if request.usage != "ca":
        if not params.get("ca_certificate") or not params.get("ca_key"):
            raise PkiError("ca_certificate and ca_key are required for a %s certificate" % request.usage)
        ca_paths = dict(certificate=params["ca_certificate"], key=params["ca_key"])
    result = ensure(paths, request, ca_paths, params.get("ca_key_passphrase"), params.get("key_passphrase"),
                    _resolve_id(params.get("owner"), "owner"), _resolve_id(params.get("group"), "group"),
                    check_mode=check_mode, force=params.get("force", False), now=now)
    result["paths"] = dict(paths, ca=ca_paths["certificate"] if ca_paths else params["path"])
    return result
