# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Envelope encryption of files: chunked AES-256-GCM under a wrapped data key.

PRIVATE to the lepton.aiops collection: no compatibility promise to anything
outside it. The file format is described in docs/encrypted-file-format.md.

Every file gets a fresh 256-bit data key. The content is cut into chunks of
``chunk_size`` bytes, each sealed with AES-256-GCM under a nonce made of a
random per-file prefix, the chunk index and a last-chunk flag (the STREAM
construction), so chunks cannot be reordered, dropped or cut off. The data key
is wrapped with RSA-OAEP (SHA-256) under one version of a keyring; the key id
and version are the OAEP label and, with the rest of the header, the
associated data of a header tag. Re-wrapping therefore rewrites the header
only and leaves the sealed content byte for byte as it was.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hmac
import os
import shutil
import struct
import tempfile

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

MAGIC = b"LEPTENV"
FORMAT_VERSION = 1
TAG_SIZE = 16
DATA_KEY_SIZE = 32
NONCE_PREFIX_SIZE = 7
DEFAULT_CHUNK_SIZE = 1 << 20
MIN_CHUNK_SIZE = 1 << 10
MAX_CHUNK_SIZE = 1 << 26
MAX_CHUNKS = 0xFFFFFFFF
# magic, format version, chunk size, nonce prefix: the part of the header that
# a re-wrap never changes, bound into every chunk.
_FIXED = struct.Struct(">7sBI7s")
_LAST = 0x01
_HEADER_NONCE_FLAG = 0x02


class EnvelopeError(Exception):
    """Anything that stops a file from being encrypted, decrypted or re-wrapped."""


class Header:
    """The parsed header of an envelope file."""

    def __init__(self, chunk_size, nonce_prefix, key_id, key_version, wrapped_key, tag=b""):
        self.chunk_size = chunk_size
        self.nonce_prefix = nonce_prefix
        self.key_id = key_id
        self.key_version = key_version
        self.wrapped_key = wrapped_key
        self.tag = tag

    @property
    def fixed(self):
        """The bytes every chunk is bound to."""
        return _FIXED.pack(MAGIC, FORMAT_VERSION, self.chunk_size, self.nonce_prefix)

    def binding(self):
        """Fixed part, key id and key version: the RSA-OAEP label."""
        key_id = self.key_id.encode("utf-8")
        return self.fixed + struct.pack(">B", len(key_id)) + key_id + struct.pack(">I", self.key_version)

    def authenticated(self):
        """Every header byte before the header tag."""
        return self.binding() + struct.pack(">H", len(self.wrapped_key)) + self.wrapped_key

    def to_bytes(self):
        return self.authenticated() + self.tag

    def __len__(self):
        return len(self.to_bytes())

    def describe(self):
        """What a user may see: no key material."""
        return dict(key_id=self.key_id, key_version=self.key_version, chunk_size=self.chunk_size,
                    format_version=FORMAT_VERSION)


def _oaep(label):
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def _nonce(prefix, index, flag):
    return prefix + struct.pack(">IB", index, flag)


def _chunk_aad(fixed, index, flag):
    return fixed + struct.pack(">QB", index, flag)


def _header_tag(data_key, header):
    nonce = _nonce(header.nonce_prefix, MAX_CHUNKS, _HEADER_NONCE_FLAG)
    return AESGCM(data_key).encrypt(nonce, b"", header.authenticated())


def _check_chunk_size(chunk_size):
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise EnvelopeError("chunk size must be between %d and %d bytes, got %d"
                            % (MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, chunk_size))


def _read_exact(handle, size, what):
    data = handle.read(size)
    if data is None or len(data) != size:
        raise EnvelopeError("the file is truncated inside the header (%s)" % what)
    return data


def read_header(handle):
    """Parse a header from a binary file object positioned at its start."""
    magic = handle.read(len(MAGIC))
    if magic != MAGIC:
        raise EnvelopeError("not an encrypted file: the magic bytes are wrong")
    magic, version, chunk_size, prefix = _FIXED.unpack(magic + _read_exact(handle, _FIXED.size - len(MAGIC),
                                                                           "fixed part"))
    if version != FORMAT_VERSION:
        raise EnvelopeError("unsupported encrypted file format version %d (this collection reads %d)"
                            % (version, FORMAT_VERSION))
    _check_chunk_size(chunk_size)
    (id_len,) = struct.unpack(">B", _read_exact(handle, 1, "key id length"))
    try:
        key_id = _read_exact(handle, id_len, "key id").decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError("the key id in the header is not valid UTF-8: the header was tampered with")
    (key_version,) = struct.unpack(">I", _read_exact(handle, 4, "key version"))
    (wrapped_len,) = struct.unpack(">H", _read_exact(handle, 2, "wrapped key length"))
    wrapped = _read_exact(handle, wrapped_len, "wrapped key")
    tag = _read_exact(handle, TAG_SIZE, "header tag")
    return Header(chunk_size, prefix, key_id, key_version, wrapped, tag)


def is_envelope(path):
    """True when the file starts with the envelope magic bytes."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except (IOError, OSError):
        return False


def peek_header(path):
    """The header of an envelope file, or None when the file is not one."""
    if not is_envelope(path):
        return None
    with open(path, "rb") as handle:
        return read_header(handle)


def wrap(data_key, header, public_key):
    """Wrap the data key for a header whose key id and version are set."""
    header.wrapped_key = public_key.encrypt(data_key, _oaep(header.binding()))
    header.tag = _header_tag(data_key, header)
    return header


def unwrap(header, private_key):
    """The data key of a header, after checking the header tag."""
    try:
        data_key = private_key.decrypt(header.wrapped_key, _oaep(header.binding()))
    except ValueError:
        raise EnvelopeError("cannot unwrap the data key with key %r version %d: wrong key, or the header "
                            "(key id, version, chunk size, nonce or wrapped key) was tampered with"
                            % (header.key_id, header.key_version))
    if len(data_key) != DATA_KEY_SIZE or not hmac.compare_digest(_header_tag(data_key, header), header.tag):
        raise EnvelopeError("header authentication failed: the header was tampered with")
    return data_key


def _fill(handle, view):
    """Read into a memoryview until it is full or the file ends; the byte count."""
    total = 0
    size = len(view)
    while total < size:
        count = handle.readinto(view[total:])
        if not count:
            break
        total += count
    return total


def encrypt_stream(src, dst, key_id, key_version, public_key, chunk_size=DEFAULT_CHUNK_SIZE):
    """Encrypt binary file object ``src`` into ``dst``; returns the header.

    Memory use is about three chunks whatever the size of the input.
    """
    _check_chunk_size(chunk_size)
    data_key = AESGCM.generate_key(bit_length=256)
    header = wrap(data_key, Header(chunk_size, os.urandom(NONCE_PREFIX_SIZE), key_id, key_version, b""),
                  public_key)
    dst.write(header.to_bytes())
    aead = AESGCM(data_key)
    fixed = header.fixed
    prefix = header.nonce_prefix
    current, ahead = bytearray(chunk_size), bytearray(chunk_size)
    out = bytearray(chunk_size + TAG_SIZE)
    out_view = memoryview(out)
    filled = _fill(src, memoryview(current))
    index = 0
    while True:
        next_filled = _fill(src, memoryview(ahead)) if filled == chunk_size else 0
        flag = 0 if next_filled else _LAST
        if index >= MAX_CHUNKS:
            raise EnvelopeError("the input is too large for chunk size %d" % chunk_size)
        data = memoryview(current)[:filled]
        sealed = filled + TAG_SIZE
        aead.encrypt_into(_nonce(prefix, index, flag), data, _chunk_aad(fixed, index, flag), out_view[:sealed])
        dst.write(out_view[:sealed])
        if flag == _LAST:
            return header
        current, ahead = ahead, current
        filled = next_filled
        index += 1


def decrypt_stream(src, sink, private_key_for, size=None):
    """Decrypt envelope ``src`` and hand each verified plaintext chunk to ``sink``.

    ``private_key_for(key_id, version)`` returns the RSA private key.
    ``sink(memoryview)`` must not keep the view. Chunks are verified before
    the sink sees them; the caller decides what to do with plaintext already
    passed on when a later chunk fails (see :func:`decrypt_file`).
    """
    header = read_header(src)
    if size is None:
        size = os.fstat(src.fileno()).st_size
    data_key = unwrap(header, private_key_for(header.key_id, header.key_version))
    body = size - len(header)
    record = header.chunk_size + TAG_SIZE
    count, rest = divmod(body, record)
    if rest:
        if rest < TAG_SIZE:
            raise EnvelopeError("the file is truncated: %d stray bytes after chunk %d" % (rest, count))
        count += 1
    if count == 0:
        raise EnvelopeError("the file is truncated: no content chunk after the header")
    aead = AESGCM(data_key)
    fixed = header.fixed
    prefix = header.nonce_prefix
    buf = bytearray(record)
    view = memoryview(buf)
    out = bytearray(header.chunk_size)
    out_view = memoryview(out)
    for index in range(count):
        flag = _LAST if index == count - 1 else 0
        got = _fill(src, view)
        if got < TAG_SIZE or (flag == 0 and got != record):
            raise EnvelopeError("the file is truncated at chunk %d" % index)
        plain = got - TAG_SIZE
        try:
            aead.decrypt_into(_nonce(prefix, index, flag), view[:got], _chunk_aad(fixed, index, flag),
                              out_view[:plain])
        except InvalidTag:
            if flag == _LAST:
                raise EnvelopeError("chunk %d failed authentication: the content was tampered with, or the "
                                    "file was truncated or extended" % index)
            raise EnvelopeError("chunk %d failed authentication: the content was tampered with or chunks "
                                "were reordered" % index)
        sink(out_view[:plain])
    return header


class AtomicWriter:
    """A temporary file next to ``path`` that replaces it only on commit.

    Used as a context manager: leaving the block with an exception removes
    the temporary file and leaves ``path`` untouched. Where Linux allows it
    the temporary file is anonymous (``O_TMPFILE``) until the commit, so even
    a crash or SIGKILL part way through leaves nothing on disk; elsewhere it
    is a named 0600 file that is removed on failure. The final mode (and
    owner, as root) is applied only at the commit.
    """

    def __init__(self, path, mode=0o600, like=None):
        self.path = path
        self.mode = mode
        self.like = like
        self.handle = None
        self.tmp = None
        self.directory = os.path.dirname(os.path.abspath(path))

    def __enter__(self):
        fd = None
        if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
            try:
                fd = os.open(self.directory, os.O_TMPFILE | os.O_RDWR, 0o600)
            except OSError:  # file system without O_TMPFILE support
                fd = None
        if fd is None:
            fd, self.tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.path), suffix=".tmp",
                                            dir=self.directory)
        self.handle = os.fdopen(fd, "wb", buffering=0)
        return self.handle

    def _commit(self):
        fd = self.handle.fileno()
        self.handle.flush()
        mode = self.mode
        if self.like is not None:
            mode = self.like.st_mode & 0o7777
            if os.geteuid() == 0:
                os.fchown(fd, self.like.st_uid, self.like.st_gid)
        os.fchmod(fd, mode)
        os.fsync(fd)
        if self.tmp is None:
            self.tmp = self._materialize(fd, mode)
        self.handle.close()
        os.rename(self.tmp, self.path)
        _fsync_dir(self.directory)

    def _materialize(self, fd, mode):
        """Give the anonymous file a temporary name: a link, or else a copy."""
        name = os.path.join(self.directory, ".%s.%s.tmp" % (os.path.basename(self.path),
                                                            binascii.hexlify(os.urandom(6)).decode()))
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            # linkat(AT_SYMLINK_FOLLOW) on the /proc link; os.link only uses
            # linkat when a directory fd is given.
            os.link("/proc/self/fd/%d" % fd, name, src_dir_fd=dir_fd, follow_symlinks=True)
            return name
        except OSError:
            pass
        finally:
            os.close(dir_fd)
        out_fd, name = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.path), suffix=".tmp",
                                        dir=self.directory)
        try:
            os.fchmod(out_fd, mode)
            with os.fdopen(os.dup(fd), "rb", buffering=0) as source, os.fdopen(out_fd, "wb", buffering=0) as out:
                source.seek(0)
                shutil.copyfileobj(source, out, DEFAULT_CHUNK_SIZE)
                os.fsync(out.fileno())
        except BaseException:
            os.unlink(name)
            raise
        return name

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is not None:
            self._discard()
            return False
        try:
            self._commit()
        except BaseException:
            self._discard()
            raise
        return False

    def _discard(self):
        if not self.handle.closed:
            self.handle.close()
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


def _fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stat_or_none(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def encrypt_file(src, dest, key_id, key_version, public_key, chunk_size=DEFAULT_CHUNK_SIZE):
    """Encrypt file ``src`` into ``dest`` atomically (``dest`` may equal ``src``)."""
    like = _stat_or_none(dest)   # a new dest is 0600, whatever the source
    with open(src, "rb", buffering=0) as source:
        with AtomicWriter(dest, like=like) as out:
            return encrypt_stream(source, out, key_id, key_version, public_key, chunk_size)


def decrypt_file(src, dest, private_key_for):
    """Decrypt envelope ``src`` into ``dest`` atomically (``dest`` may equal ``src``).

    Plaintext goes to a 0600 temporary file that is removed if any chunk
    fails, so a failure leaves no partial plaintext behind.
    """
    like = _stat_or_none(dest)
    with open(src, "rb", buffering=0) as source:
        with AtomicWriter(dest, like=like) as out:
            return decrypt_stream(source, out.write, private_key_for)


def matches_plaintext(envelope, plain, private_key_for):
    """True when envelope ``envelope`` decrypts to the content of file ``plain``."""
    if _stat_or_none(plain) is None:
        return False
    with open(envelope, "rb", buffering=0) as source, open(plain, "rb", buffering=0) as other:
        state = dict(same=True, buf=bytearray(0))

        def compare(chunk):
            if len(state["buf"]) < len(chunk):
                state["buf"] = bytearray(len(chunk))
            if state["same"]:
                view = memoryview(state["buf"])[:len(chunk)]
                state["same"] = _fill(other, view) == len(chunk) and view == chunk

        decrypt_stream(source, compare, private_key_for)
        return state["same"] and other.read(1) == b""


def rewrap_file(path, private_key_for, key_id, key_version, public_key, dest=None):
    """Wrap the data key of ``path`` under another key version; content bytes are copied unchanged."""
    dest = dest or path
    like = _stat_or_none(dest)
    with open(path, "rb", buffering=0) as source:
        old = read_header(source)
        data_key = unwrap(old, private_key_for(old.key_id, old.key_version))
        new = wrap(data_key, Header(old.chunk_size, old.nonce_prefix, key_id, key_version, b""), public_key)
        with AtomicWriter(dest, like=like) as out:
            out.write(new.to_bytes())
            buf = bytearray(old.chunk_size + TAG_SIZE)
            view = memoryview(buf)
            while True:
                got = _fill(source, view)
                if not got:
                    break
                out.write(view[:got])
    return old, new


# -- desired state of one file (used by the encrypted_file module) -------------

STATES = ("encrypted", "decrypted", "rewrapped")


def _describe(path):
    """What a diff may show about a file: never content or key material."""
    if not os.path.exists(path):
        return dict(path=path, exists=False)
    header = peek_header(path)
    if header is None:
        return dict(path=path, exists=True, encrypted=False)
    return dict(path=path, exists=True, encrypted=True, key_id=header.key_id, key_version=header.key_version)


def plan(path, dest, state, keyring):
    """The action needed to bring ``dest`` (or ``path`` in place) to ``state``.

    One of ``none``, ``encrypt``, ``decrypt``, ``rewrap``; reads files but
    writes nothing, so check mode can use it. ``keyring`` provides ``name``,
    ``current_version`` and ``private_key_for(key_id, version)``.
    """
    if state not in STATES:
        raise EnvelopeError("state must be one of %s, got %r" % (", ".join(STATES), state))
    if not os.path.isfile(path):
        raise EnvelopeError("%s does not exist or is not a regular file" % path)
    header = peek_header(path)
    if header is not None and header.key_id != keyring.name:
        raise EnvelopeError("%s is encrypted with keyring %r, not %r" % (path, header.key_id, keyring.name))
    if state == "rewrapped":
        if dest:
            raise EnvelopeError("dest is not used with state=rewrapped: the file is re-wrapped in place")
        if header is None:
            return "encrypt"
        return "none" if header.key_version == keyring.current_version else "rewrap"
    if not dest or os.path.abspath(dest) == os.path.abspath(path):
        if state == "encrypted":
            return "none" if header is not None else "encrypt"
        return "decrypt" if header is not None else "none"
    if state == "encrypted":
        if header is not None:
            raise EnvelopeError("%s is already encrypted; give the plaintext file as path" % path)
        target = peek_header(dest) if os.path.isfile(dest) else None
        if target is not None and target.key_id == keyring.name and \
                matches_plaintext(dest, path, keyring.private_key_for):
            return "none"
        return "encrypt"
    if header is None:
        raise EnvelopeError("%s is not an encrypted file (wrong magic bytes), so it cannot be decrypted" % path)
    return "none" if matches_plaintext(path, dest, keyring.private_key_for) else "decrypt"


def ensure(path, dest, state, keyring, chunk_size=DEFAULT_CHUNK_SIZE, check_mode=False):
    """Bring a file to ``state``; returns changed, action, before and after descriptions."""
    from ansible_collections.lepton.aiops.plugins.module_utils._keyring import KeyringError

    target = dest or path
    _check_chunk_size(chunk_size)   # check mode refuses what the real run would
    action = None
    try:
        action = plan(path, dest, state, keyring)
        before = _describe(target)
        if action != "none" and not check_mode:
            if action == "encrypt":
                encrypt_file(path, target, keyring.name, keyring.current_version, keyring.public_key(),
                             chunk_size)
            elif action == "decrypt":
                decrypt_file(path, target, keyring.private_key_for)
            else:
                rewrap_file(path, keyring.private_key_for, keyring.name, keyring.current_version,
                            keyring.public_key())
    except KeyringError as exc:
        raise EnvelopeError(str(exc))
    except OSError as exc:
        what = "%s %s into %s" % (action, path, target) if action else "read %s" % path
        raise EnvelopeError("cannot %s: %s" % (what, exc.strerror or exc)) from exc
    if action == "none" or not check_mode:
        after = _describe(target)
    else:
        after = dict(path=target, exists=True, encrypted=action != "decrypt")
        if action != "decrypt":
            after.update(key_id=keyring.name, key_version=keyring.current_version)
    return dict(changed=action != "none", action=action, before=before, after=after)
