# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Envelope files: round trips, rotation, rewrap, tampering, truncation, atomic writes."""

from __future__ import annotations

import os
import struct

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils import _envelope
from ansible_collections.lepton.aiops.plugins.module_utils._envelope import (
    TAG_SIZE, EnvelopeError, decrypt_file, encrypt_file, matches_plaintext, peek_header, rewrap_file)
from ansible_collections.lepton.aiops.plugins.module_utils._keyring import Keyring, KeyringError

CHUNK = 1024


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    """A keyring with three versions (created once: RSA key generation is slow)."""
    path = tmp_path_factory.mktemp("ring") / "data"
    keyring = Keyring(str(path))
    keyring.add_versions("data", 3)
    return keyring


def encrypt(ring, tmp_path, content, version=None, chunk=CHUNK, name="plain.bin"):
    src = tmp_path / name
    src.write_bytes(content)
    dest = tmp_path / (name + ".enc")
    version = version or ring.current_version
    encrypt_file(str(src), str(dest), ring.name, version, ring.public_key(version), chunk)
    return dest


def decrypt(ring, path, dest):
    decrypt_file(str(path), str(dest), ring.private_key_for)
    return dest.read_bytes()


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 17])
def test_round_trip_at_chunk_boundaries(ring, tmp_path, size):
    content = os.urandom(size)
    enc = encrypt(ring, tmp_path, content)
    records = max(1, -(-size // CHUNK))
    assert enc.stat().st_size == len(peek_header(str(enc))) + size + records * TAG_SIZE
    assert size < 16 or content[:16] not in enc.read_bytes()
    assert decrypt(ring, enc, tmp_path / "out") == content


@pytest.mark.parametrize("size", [0, 1, _envelope.DEFAULT_CHUNK_SIZE - 1, _envelope.DEFAULT_CHUNK_SIZE,
                                  _envelope.DEFAULT_CHUNK_SIZE + 1, 2 * _envelope.DEFAULT_CHUNK_SIZE])
def test_round_trip_with_default_chunk(ring, tmp_path, size):
    content = os.urandom(size)
    enc = encrypt(ring, tmp_path, content, chunk=_envelope.DEFAULT_CHUNK_SIZE)
    assert decrypt(ring, enc, tmp_path / "out") == content


def test_each_file_gets_a_fresh_data_key_and_nonce(ring, tmp_path):
    first = encrypt(ring, tmp_path, b"same content", name="a")
    second = encrypt(ring, tmp_path, b"same content", name="b")
    h1, h2 = peek_header(str(first)), peek_header(str(second))
    assert h1.wrapped_key != h2.wrapped_key and h1.nonce_prefix != h2.nonce_prefix
    assert first.read_bytes()[len(h1):] != second.read_bytes()[len(h2):]


def test_in_place_encrypt_and_decrypt_keep_the_file_mode(ring, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights" * 1000)
    path.chmod(0o640)
    encrypt_file(str(path), str(path), ring.name, 3, ring.public_key(3), CHUNK)
    assert peek_header(str(path)).key_version == 3
    assert decrypt(ring, path, path) == b"weights" * 1000
    assert path.stat().st_mode & 0o777 == 0o640
    assert leftovers(tmp_path) == []


def test_rotation_keeps_every_older_file_readable(tmp_path):
    keyring = Keyring(str(tmp_path / "ring"))
    keyring.add_versions("rotating", 1)
    files = {}
    for version in (1, 2, 3):
        if version > 1:
            keyring.add_versions("rotating", 1)
        content = ("version %d" % version).encode() * 300
        files[version] = (encrypt(keyring, tmp_path, content, name="f%d" % version), content)
    assert keyring.current_version == 3
    for version, (enc, content) in files.items():
        assert peek_header(str(enc)).key_version == version
        assert decrypt(Keyring(str(tmp_path / "ring")), enc, tmp_path / "out") == content


def test_rewrap_changes_the_header_only(ring, tmp_path):
    content = os.urandom(3 * CHUNK + 5)
    enc = encrypt(ring, tmp_path, content, version=1)
    before = enc.read_bytes()
    old_len = len(peek_header(str(enc)))
    old, new = rewrap_file(str(enc), ring.private_key_for, ring.name, 3, ring.public_key(3))
    after = enc.read_bytes()
    assert (old.key_version, new.key_version) == (1, 3)
    assert after[len(new):] == before[old_len:]
    assert peek_header(str(enc)).key_version == 3
    assert decrypt(ring, enc, tmp_path / "out") == content


def test_matches_plaintext(ring, tmp_path):
    content = os.urandom(2 * CHUNK + 3)
    enc = encrypt(ring, tmp_path, content)
    other = tmp_path / "other"
    for candidate, expected in ((content, True), (content[:-1], False), (content + b"x", False),
                                (bytes([content[0] ^ 1]) + content[1:], False)):
        other.write_bytes(candidate)
        assert matches_plaintext(str(enc), str(other), ring.private_key_for) is expected
    assert matches_plaintext(str(enc), str(tmp_path / "missing"), ring.private_key_for) is False


# -- tampering ---------------------------------------------------------------

def field_offsets(header):
    """Offset of a byte inside each header field."""
    id_len = len(header.key_id.encode())
    wrapped_at = 19 + 1 + id_len + 4 + 2
    return {
        "magic": 0,
        "format_version": 7,
        "chunk_size": 10,
        "nonce_prefix": 14,
        "key_id_length": 19,
        "key_id": 20,
        "key_version": 20 + id_len + 3,
        "wrapped_key_length": 20 + id_len + 4 + 1,
        "wrapped_key_first_byte": wrapped_at,
        "wrapped_key_last_byte": wrapped_at + len(header.wrapped_key) - 1,
        "header_tag": wrapped_at + len(header.wrapped_key) + 3,
    }


def flip(data, offset, bit=0x01):
    data = bytearray(data)
    data[offset] ^= bit
    return bytes(data)


SAMPLE = bytes(range(256)) * 13  # 3328 bytes: four chunks of 1024


@pytest.fixture(params=["anonymous", "named"])
def temporary_files(request, monkeypatch):
    """Run a failure test with both kinds of temporary file: the named one must be removed too."""
    if request.param == "named":
        monkeypatch.delattr(_envelope.os, "O_TMPFILE", raising=False)
    return request.param


@pytest.mark.parametrize("field", ["magic", "format_version", "chunk_size", "nonce_prefix", "key_id_length",
                                   "key_id", "key_version", "wrapped_key_length", "wrapped_key_first_byte",
                                   "wrapped_key_last_byte", "header_tag"])
def test_tampered_header_field_is_refused_without_output(ring, tmp_path, field):
    enc = encrypt(ring, tmp_path, SAMPLE, version=2)
    header = peek_header(str(enc))
    enc.write_bytes(flip(enc.read_bytes(), field_offsets(header)[field]))
    out = tmp_path / "out"
    with pytest.raises((EnvelopeError, KeyringError)) as err:
        decrypt(ring, enc, out)
    assert str(err.value)
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("field", ["key_id", "key_version", "chunk_size", "nonce_prefix"])
def test_header_binding_holds_even_if_the_right_key_is_supplied(ring, tmp_path, field):
    """Tampered key id/version/chunk size/nonce fail the OAEP label, not just the key lookup."""
    enc = encrypt(ring, tmp_path, SAMPLE, version=2)
    header = peek_header(str(enc))
    enc.write_bytes(flip(enc.read_bytes(), field_offsets(header)[field]))  # version 2 becomes 3
    with pytest.raises(EnvelopeError, match="cannot unwrap|truncated|chunk size"):
        decrypt_file(str(enc), str(tmp_path / "out"), lambda key_id, version: ring.private_key(2))
    assert not (tmp_path / "out").exists()


def chunk_at(header, index):
    return len(header) + index * (CHUNK + TAG_SIZE)


@pytest.mark.parametrize("case", ["first_chunk_byte", "middle_chunk_byte", "last_chunk_byte", "first_chunk_tag",
                                  "last_chunk_tag", "swap_chunks", "drop_middle_chunk", "duplicate_chunk"])
def test_tampered_content_is_refused_and_no_plaintext_is_left(ring, tmp_path, case, temporary_files):
    enc = encrypt(ring, tmp_path, SAMPLE)
    header = peek_header(str(enc))
    data = enc.read_bytes()
    record = CHUNK + TAG_SIZE
    c0, c1, c2 = (data[chunk_at(header, i):chunk_at(header, i + 1)] for i in range(3))
    head, tail = data[:len(header)], data[chunk_at(header, 3):]
    tampered = {
        "first_chunk_byte": flip(data, len(header) + 5),
        "middle_chunk_byte": flip(data, chunk_at(header, 1) + 500),
        "last_chunk_byte": flip(data, len(data) - TAG_SIZE - 1),
        "first_chunk_tag": flip(data, len(header) + record - 1),
        "last_chunk_tag": flip(data, len(data) - 1),
        "swap_chunks": head + c1 + c0 + c2 + tail,
        "drop_middle_chunk": head + c0 + c2 + tail,
        "duplicate_chunk": head + c0 + c0 + c1 + c2 + tail,
    }[case]
    enc.write_bytes(tampered)
    out = tmp_path / "out"
    with pytest.raises(EnvelopeError, match="chunk [0-9]+ failed authentication"):
        decrypt(ring, enc, out)
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("cut", ["last_chunk", "last_two_chunks", "mid_chunk", "one_byte", "inside_tag",
                                 "inside_header", "all_chunks"])
def test_truncation_is_refused(ring, tmp_path, cut):
    enc = encrypt(ring, tmp_path, SAMPLE)
    header = peek_header(str(enc))
    data = enc.read_bytes()
    keep = {
        "last_chunk": chunk_at(header, 3),
        "last_two_chunks": chunk_at(header, 2),
        "mid_chunk": chunk_at(header, 1) + 300,
        "one_byte": len(data) - 1,
        "inside_tag": chunk_at(header, 3) + 5,
        "inside_header": len(header) - 40,
        "all_chunks": len(header),
    }[cut]
    enc.write_bytes(data[:keep])
    out = tmp_path / "out"
    with pytest.raises(EnvelopeError, match="truncated|failed authentication"):
        decrypt(ring, enc, out)
    assert not out.exists() and leftovers(tmp_path) == []


def test_appended_data_is_refused(ring, tmp_path):
    enc = encrypt(ring, tmp_path, SAMPLE)
    enc.write_bytes(enc.read_bytes() + b"\0" * (CHUNK + TAG_SIZE))
    with pytest.raises(EnvelopeError, match="failed authentication"):
        decrypt(ring, enc, tmp_path / "out")


def test_header_spliced_from_another_file_is_refused(ring, tmp_path):
    one = encrypt(ring, tmp_path, SAMPLE, name="one")
    two = encrypt(ring, tmp_path, SAMPLE, name="two")
    h1 = len(peek_header(str(one)))
    h2 = len(peek_header(str(two)))
    one.write_bytes(two.read_bytes()[:h2] + one.read_bytes()[h1:])
    with pytest.raises(EnvelopeError, match="chunk 0 failed authentication"):
        decrypt(ring, one, tmp_path / "out")


def test_wrong_keyring_is_refused(ring, tmp_path):
    enc = encrypt(ring, tmp_path, SAMPLE)
    other = Keyring(str(tmp_path / "other"))
    other.add_versions("data", 1)
    with pytest.raises(EnvelopeError, match="cannot unwrap the data key"):
        decrypt_file(str(enc), str(tmp_path / "out"), lambda key_id, version: other.private_key(1))
    with pytest.raises(KeyringError, match="has no version 3"):
        decrypt(other, enc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_plain_file_is_not_an_envelope(tmp_path):
    path = tmp_path / "plain"
    path.write_bytes(b"hello")
    assert peek_header(str(path)) is None
    with pytest.raises(EnvelopeError, match="magic"):
        decrypt_file(str(path), str(tmp_path / "out"), None)


def test_chunk_size_out_of_range_is_refused(ring, tmp_path):
    with pytest.raises(EnvelopeError, match="chunk size must be between"):
        encrypt(ring, tmp_path, b"x", chunk=16)
    path = tmp_path / "plain"
    path.write_bytes(b"x")
    for check_mode in (True, False):   # check mode refuses it too
        with pytest.raises(EnvelopeError, match="chunk size must be between"):
            _envelope.ensure(str(path), None, "encrypted", ring, 100, check_mode=check_mode)


# -- atomic writes -----------------------------------------------------------

def test_interrupted_decrypt_leaves_the_original_and_no_temporary_file(ring, tmp_path, monkeypatch, temporary_files):
    enc = encrypt(ring, tmp_path, SAMPLE)
    original = enc.read_bytes()
    real = _envelope.decrypt_stream

    def failing(src, sink, resolver):
        def sink_then_fail(chunk):
            sink(chunk)
            raise OSError(28, "No space left on device")
        return real(src, sink_then_fail, resolver)

    monkeypatch.setattr(_envelope, "decrypt_stream", failing)
    with pytest.raises(OSError, match="No space left"):
        decrypt_file(str(enc), str(enc), ring.private_key_for)
    assert enc.read_bytes() == original
    assert leftovers(tmp_path) == []


def test_interrupted_encrypt_leaves_the_original_and_no_temporary_file(ring, tmp_path, monkeypatch, temporary_files):
    path = tmp_path / "plain.bin"
    path.write_bytes(SAMPLE)

    def no_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_envelope.os, "fsync", no_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        encrypt_file(str(path), str(path), ring.name, 3, ring.public_key(3), CHUNK)
    assert path.read_bytes() == SAMPLE
    assert leftovers(tmp_path) == []


def test_header_fields_are_big_endian_as_documented(ring, tmp_path):
    enc = encrypt(ring, tmp_path, b"abc", chunk=4096)
    data = enc.read_bytes()
    assert data[:7] == b"LEPTENV" and data[7] == 1
    assert struct.unpack(">I", data[8:12])[0] == 4096
    assert data[19] == len(b"data") and data[20:24] == b"data"
    assert struct.unpack(">I", data[24:28])[0] == 3
    assert struct.unpack(">H", data[28:30])[0] == 384


# -- desired state (the encrypted_file module) ---------------------------------

def test_ensure_encrypt_decrypt_in_place_is_idempotent_and_check_mode_predicts(ring, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(SAMPLE)
    for state, action, encrypted in (("encrypted", "encrypt", True), ("decrypted", "decrypt", False)):
        check = _envelope.ensure(str(path), None, state, ring, CHUNK, check_mode=True)
        assert (check["changed"], check["action"], check["after"]["encrypted"]) == (True, action, encrypted)
        assert (peek_header(str(path)) is not None) is not encrypted
        real = _envelope.ensure(str(path), None, state, ring, CHUNK)
        assert real["changed"] and real["after"] == check["after"]
        assert _envelope.ensure(str(path), None, state, ring, CHUNK)["changed"] is False
    assert path.read_bytes() == SAMPLE


def test_a_dest_in_a_missing_directory_is_a_clear_error(ring, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(SAMPLE)
    with pytest.raises(EnvelopeError, match="cannot encrypt .*src into .*missing/src.enc: No such file or directory"):
        _envelope.ensure(str(src), str(tmp_path / "missing" / "src.enc"), "encrypted", ring, CHUNK)


def test_ensure_with_dest_compares_content(ring, tmp_path):
    src, dest, out = tmp_path / "src", tmp_path / "src.enc", tmp_path / "out"
    src.write_bytes(SAMPLE)
    src.chmod(0o644)
    assert _envelope.ensure(str(src), str(dest), "encrypted", ring, CHUNK)["action"] == "encrypt"
    assert stat_mode(dest) == 0o600   # a new dest, not the source's mode
    assert _envelope.ensure(str(src), str(dest), "encrypted", ring, CHUNK)["changed"] is False
    assert _envelope.ensure(str(dest), str(out), "decrypted", ring)["action"] == "decrypt"
    assert _envelope.ensure(str(dest), str(out), "decrypted", ring)["changed"] is False
    assert out.read_bytes() == SAMPLE and stat_mode(out) == 0o600
    src.write_bytes(SAMPLE + b"!")
    assert _envelope.ensure(str(src), str(dest), "encrypted", ring, CHUNK)["action"] == "encrypt"
    out.write_bytes(b"edited")
    assert _envelope.ensure(str(dest), str(out), "decrypted", ring)["action"] == "decrypt"
    assert out.read_bytes() == SAMPLE + b"!"


def test_ensure_rewrapped(tmp_path):
    ring = Keyring(str(tmp_path / "ring"))
    ring.add_versions("rw", 1)
    path = tmp_path / "f"
    path.write_bytes(SAMPLE)
    assert _envelope.ensure(str(path), None, "rewrapped", ring, CHUNK)["action"] == "encrypt"
    assert _envelope.ensure(str(path), None, "rewrapped", ring, CHUNK)["changed"] is False
    ring.add_versions("rw", 1)
    check = _envelope.ensure(str(path), None, "rewrapped", ring, CHUNK, check_mode=True)
    assert check["action"] == "rewrap" and peek_header(str(path)).key_version == 1
    assert _envelope.ensure(str(path), None, "rewrapped", ring, CHUNK)["after"]["key_version"] == 2
    assert _envelope.ensure(str(path), None, "rewrapped", ring, CHUNK)["changed"] is False
    assert _envelope.ensure(str(path), None, "encrypted", ring, CHUNK)["changed"] is False
    _envelope.ensure(str(path), None, "decrypted", ring)
    assert path.read_bytes() == SAMPLE


@pytest.mark.parametrize("setup, state, dest, message", [
    ("missing", "encrypted", None, "does not exist"),
    ("plain", "decrypted", "out", "not an encrypted file"),
    ("encrypted", "encrypted", "out", "already encrypted"),
    ("encrypted", "rewrapped", "out", "dest is not used"),
])
def test_ensure_refuses_contradictions(ring, tmp_path, setup, state, dest, message):
    path = tmp_path / "f"
    if setup != "missing":
        path.write_bytes(SAMPLE)
    if setup == "encrypted":
        _envelope.ensure(str(path), None, "encrypted", ring, CHUNK)
    with pytest.raises(EnvelopeError, match=message):
        _envelope.ensure(str(path), dest and str(tmp_path / dest), state, ring, CHUNK)


def test_ensure_refuses_a_file_of_another_keyring(ring, tmp_path):
    other = Keyring(str(tmp_path / "ring"))
    other.add_versions("other", 1)
    path = tmp_path / "f"
    path.write_bytes(SAMPLE)
    _envelope.ensure(str(path), None, "encrypted", other, CHUNK)
    with pytest.raises(EnvelopeError, match="encrypted with keyring 'other', not 'data'"):
        _envelope.ensure(str(path), None, "decrypted", ring)


def stat_mode(path):
    return path.stat().st_mode & 0o777


CRASH = r"""
import os, sys
from ansible_collections.lepton.aiops.plugins.module_utils import _envelope
from ansible_collections.lepton.aiops.plugins.module_utils._keyring import Keyring

real = _envelope.decrypt_stream


def crashing(src, sink, resolver):
    def sink_then_die(chunk):
        sink(chunk)
        os._exit(3)  # no cleanup of any kind, as with SIGKILL or a power cut
    return real(src, sink_then_die, resolver)


_envelope.decrypt_stream = crashing
_envelope.decrypt_file(sys.argv[1], sys.argv[1], Keyring(sys.argv[2]).private_key_for)
"""


def test_crash_during_decrypt_leaves_the_original_and_no_plaintext_file(ring, tmp_path):
    import subprocess
    import sys

    enc = encrypt(ring, tmp_path, SAMPLE)
    original = enc.read_bytes()
    before = sorted(p.name for p in tmp_path.iterdir())
    child = subprocess.run([sys.executable, "-c", CRASH, str(enc), ring.path], env=dict(os.environ), check=False)
    assert child.returncode == 3
    assert enc.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("limit", ["no_o_tmpfile", "no_proc_link"])
def test_atomic_writes_without_anonymous_temporary_files(ring, tmp_path, monkeypatch, limit):
    """Where O_TMPFILE or linking it is unavailable, a named 0600 temporary file is used."""
    if limit == "no_o_tmpfile":
        monkeypatch.delattr(_envelope.os, "O_TMPFILE", raising=False)
    else:
        def no_link(*args, **kwargs):
            raise OSError(18, "Invalid cross-device link")
        monkeypatch.setattr(_envelope.os, "link", no_link)
    path = tmp_path / "f"
    path.write_bytes(SAMPLE)
    path.chmod(0o640)
    encrypt_file(str(path), str(path), ring.name, 3, ring.public_key(3), CHUNK)
    assert peek_header(str(path)).key_version == 3 and stat_mode(path) == 0o640
    assert decrypt(ring, path, path) == SAMPLE and stat_mode(path) == 0o640
    assert leftovers(tmp_path) == []
