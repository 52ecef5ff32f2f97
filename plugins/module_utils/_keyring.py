# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Versioned RSA key pairs on disk for envelope encryption.

PRIVATE to the lepton.aiops collection: no compatibility promise to anything
outside it.

A keyring is a directory::

    keyring.json        {"name": ..., "current": N, "versions": [{"version", "created", "fingerprint", "bits"}]}
    v1.key.pem          PKCS#8 private key, 0600, encrypted when a passphrase is set
    v1.pub.pem          SubjectPublicKeyInfo public key
    v2.key.pem ...

Rotation adds a version and never removes one, so every file encrypted
under an older version stays readable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import re
import tempfile

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

MIN_BITS = 3072
METADATA = "keyring.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class KeyringError(Exception):
    """A keyring cannot be read, created or rotated as asked."""


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def write_atomic(path, data, mode):
    """Write bytes to ``path`` through a fsynced temporary file and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fingerprint(public_key):
    """SHA-256 of the DER SubjectPublicKeyInfo, hex."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _passphrase_bytes(passphrase):
    if passphrase is None or passphrase == "":
        return None
    return passphrase.encode("utf-8") if not isinstance(passphrase, bytes) else passphrase


class Keyring:
    """A keyring directory. Key id of every version is the keyring name."""

    def __init__(self, path, passphrase=None):
        self.path = path
        self._passphrase = _passphrase_bytes(passphrase)
        self._private = {}

    # -- reading ---------------------------------------------------------
    def exists(self):
        return os.path.exists(os.path.join(self.path, METADATA))

    def metadata(self):
        try:
            with open(os.path.join(self.path, METADATA), "r") as handle:
                data = json.load(handle)
        except (IOError, OSError) as exc:
            raise KeyringError("cannot read keyring %s: %s" % (self.path, exc.strerror or exc))
        except ValueError:
            raise KeyringError("keyring %s: %s is not valid JSON" % (self.path, METADATA))
        if not isinstance(data, dict) or not isinstance(data.get("versions"), list) or "current" not in data:
            raise KeyringError("keyring %s: %s lacks 'current' or 'versions'" % (self.path, METADATA))
        return data

    @property
    def name(self):
        return self.metadata()["name"]

    @property
    def current_version(self):
        return int(self.metadata()["current"])

    def _key_path(self, version, kind):
        return os.path.join(self.path, "v%d.%s.pem" % (version, kind))

    def public_key(self, version=None):
        version = self.current_version if version is None else version
        try:
            with open(self._key_path(version, "pub"), "rb") as handle:
                return serialization.load_pem_public_key(handle.read())
        except (IOError, OSError):
            raise KeyringError("keyring %s has no public key for version %d" % (self.path, version))
        except ValueError:
            raise KeyringError("keyring %s: public key of version %d is not a PEM key" % (self.path, version))

    def private_key(self, version):
        if version in self._private:
            return self._private[version]
        try:
            with open(self._key_path(version, "key"), "rb") as handle:
                pem = handle.read()
        except (IOError, OSError):
            raise KeyringError("keyring %s has no private key for version %d" % (self.path, version))
        try:
            key = serialization.load_pem_private_key(pem, password=self._passphrase)
        except TypeError:
            if self._passphrase is None:
                raise KeyringError("the private key of keyring %s version %d is protected: a passphrase is "
                                   "required" % (self.path, version))
            raise KeyringError("the private key of keyring %s version %d is not protected, but a passphrase "
                               "was given" % (self.path, version))
        except ValueError:
            raise KeyringError("cannot load the private key of keyring %s version %d: wrong passphrase or "
                               "damaged key file" % (self.path, version))
        self._private[version] = key
        return key

    def private_key_for(self, key_id, version):
        """Resolver for the envelope layer: checks the key id is this keyring."""
        name = self.name
        if key_id != name:
            raise KeyringError("the file was encrypted with keyring %r, not %r" % (key_id, name))
        if version not in [v["version"] for v in self.metadata()["versions"]]:
            raise KeyringError("keyring %r has no version %d (the file needs it)" % (name, version))
        return self.private_key(version)

    def describe(self):
        """Everything about the keyring a user may see: never key material."""
        if not self.exists():
            return dict(path=self.path, exists=False)
        meta = self.metadata()
        versions = []
        for entry in meta["versions"]:
            versions.append(dict(entry, public_key_path=self._key_path(entry["version"], "pub"),
                                 private_key_path=self._key_path(entry["version"], "key")))
        return dict(path=self.path, exists=True, name=meta["name"], current_version=int(meta["current"]),
                    versions=versions, protected=bool(meta.get("protected")))

    def check_passphrase(self):
        """Load the current private key, so a wrong passphrase fails early."""
        self.private_key(self.current_version)

    # -- planning (pure) -------------------------------------------------
    def plan(self, name, version=None, rotate_after_days=None, when=None):
        """How many versions to add: 0 when the keyring is as asked."""
        if not _NAME.match(name or ""):
            raise KeyringError("keyring name %r must be 1-128 letters, digits, '.', '_' or '-'" % name)
        if not self.exists():
            return max(1, version or 1)
        meta = self.check_name(name)
        current = int(meta["current"])
        add = max(version - current, 0) if version is not None else 0
        if add == 0 and rotate_after_days is not None:
            created = [v for v in meta["versions"] if v["version"] == current][0]["created"]
            age = (when or now()) - datetime.datetime.fromisoformat(created)
            if age >= datetime.timedelta(days=rotate_after_days):
                add = 1
        return add

    def check_name(self, name):
        """The metadata of an existing keyring, if it is the one called ``name``."""
        meta = self.metadata()
        if meta["name"] != name:
            raise KeyringError("%s holds keyring %r, not %r" % (self.path, meta["name"], name))
        return meta

    # -- writing ---------------------------------------------------------
    def add_versions(self, name, count, bits=MIN_BITS):
        """Create the keyring if needed and add ``count`` versions."""
        if bits < MIN_BITS:
            raise KeyringError("RSA keys must have at least %d bits, got %d" % (MIN_BITS, bits))
        if self.exists():
            meta = self.metadata()
            if bool(meta.get("protected")) != (self._passphrase is not None):
                raise KeyringError("keyring %r %s a passphrase" % (
                    name, "is protected by" if meta.get("protected") else "has no passphrase, so it takes no"))
        else:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
            meta = dict(name=name, current=0, versions=[], protected=self._passphrase is not None)
        for _dummy in range(count):
            version = int(meta["current"]) + 1
            key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            if self._passphrase is None:
                encryption = serialization.NoEncryption()
            else:
                encryption = serialization.BestAvailableEncryption(self._passphrase)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
            pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
            write_atomic(self._key_path(version, "key"), pem, 0o600)
            write_atomic(self._key_path(version, "pub"), pub, 0o644)
            meta["versions"].append(dict(version=version, created=now().isoformat(), bits=bits,
                                         fingerprint=fingerprint(key.public_key())))
            meta["current"] = version
            write_atomic(os.path.join(self.path, METADATA),
                         (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8"), 0o644)
        return self.describe()

    def remove(self):
        """Delete the keyring files this code writes, then the directory if empty."""
        meta = self.metadata()
        for entry in meta["versions"]:
            for kind in ("key", "pub"):
                try:
                    os.unlink(self._key_path(entry["version"], kind))
                except OSError:
                    pass
        os.unlink(os.path.join(self.path, METADATA))
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def _summary(description):
    if not description.get("exists"):
        return dict(exists=False)
    return dict(exists=True, name=description["name"], current_version=description["current_version"],
                versions=[v["version"] for v in description["versions"]], protected=description["protected"])


def ensure(keyring, name, state, version=None, rotate_after_days=None, bits=MIN_BITS, check_mode=False):
    """Bring a keyring to ``state``; the module result without key material."""
    if bits < MIN_BITS:
        raise KeyringError("RSA keys must have at least %d bits, got %d" % (MIN_BITS, bits))
    if version is not None and version < 1:
        raise KeyringError("version must be 1 or more, got %d" % version)
    before = keyring.describe()
    added = []
    if state == "absent":
        changed = before["exists"]
        if changed:
            keyring.check_name(name)   # never delete another keyring's keys
        if changed and not check_mode:
            keyring.remove()
        after = dict(path=keyring.path, exists=False)
    else:
        if before["exists"]:
            keyring.check_passphrase()
        count = keyring.plan(name, version, rotate_after_days)
        first = before.get("current_version", 0) + 1
        added = list(range(first, first + count))
        changed = count > 0
        if changed and not check_mode:
            after = keyring.add_versions(name, count, bits)
        elif changed:
            after = dict(before, exists=True, name=name, current_version=added[-1],
                         versions=before.get("versions", []) + [dict(version=v) for v in added],
                         protected=before.get("protected", keyring._passphrase is not None))
        else:
            after = before
    return dict(changed=changed, keyring=after, added_versions=added,
                diff=dict(before=_summary(before), after=_summary(after)))
