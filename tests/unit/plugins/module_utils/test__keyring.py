# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keyrings: creation, rotation, passphrases, file modes, check mode."""

from __future__ import annotations

import datetime
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.lepton.aiops.plugins.module_utils._keyring import Keyring, KeyringError, ensure

PASS = "correct horse battery staple"


@pytest.fixture(scope="module")
def protected(tmp_path_factory):
    """A passphrase-protected keyring at version 2, made once."""
    path = tmp_path_factory.mktemp("protected") / "ring"
    ensure(Keyring(str(path), PASS), "prot", "present", version=2)
    return str(path)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_present_creates_version_one_once(tmp_path):
    ring = Keyring(str(tmp_path / "ring"))
    first = ensure(ring, "data", "present")
    again = ensure(Keyring(str(tmp_path / "ring")), "data", "present")
    assert (first["changed"], first["added_versions"]) == (True, [1])
    assert (again["changed"], again["added_versions"]) == (False, [])
    assert again["keyring"]["current_version"] == 1
    assert mode(tmp_path / "ring") == 0o700
    assert mode(tmp_path / "ring" / "v1.key.pem") == 0o600
    assert mode(tmp_path / "ring" / "v1.pub.pem") == 0o644
    assert ring.private_key(1).key_size == 3072


def test_check_mode_predicts_without_writing(tmp_path):
    result = ensure(Keyring(str(tmp_path / "ring")), "data", "present", version=2, check_mode=True)
    assert result["changed"] and result["added_versions"] == [1, 2]
    assert result["diff"]["after"]["versions"] == [1, 2]
    assert not (tmp_path / "ring").exists()


def test_raising_version_rotates_and_keeps_old_versions(protected):
    ring = Keyring(protected, PASS)
    result = ensure(ring, "prot", "present", version=3)
    assert result["added_versions"] == [3]
    assert [v["version"] for v in result["keyring"]["versions"]] == [1, 2, 3]
    fingerprints = {v["fingerprint"] for v in result["keyring"]["versions"]}
    assert len(fingerprints) == 3
    for version in (1, 2, 3):
        assert Keyring(protected, PASS).private_key(version).key_size == 3072
    assert ensure(Keyring(protected, PASS), "prot", "present", version=3)["changed"] is False


def test_lower_version_keeps_every_version(protected):
    result = ensure(Keyring(protected, PASS), "prot", "present", version=1)
    assert result["changed"] is False
    assert result["keyring"]["current_version"] >= 2 and len(result["keyring"]["versions"]) >= 2


def test_rotate_after_days(tmp_path):
    ring = Keyring(str(tmp_path / "ring"))
    ring.add_versions("data", 1)
    assert ring.plan("data", rotate_after_days=30) == 0
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=31)
    assert ring.plan("data", rotate_after_days=30, when=later) == 1
    meta = json.loads((tmp_path / "ring" / "keyring.json").read_text())
    meta["versions"][0]["created"] = "2020-01-01T00:00:00+00:00"
    (tmp_path / "ring" / "keyring.json").write_text(json.dumps(meta))
    result = ensure(Keyring(str(tmp_path / "ring")), "data", "present", rotate_after_days=30)
    assert result["added_versions"] == [2]


@pytest.mark.parametrize("passphrase, message", [
    ("wrong passphrase", "wrong passphrase or damaged key file"),
    (None, "passphrase is required"),
])
def test_wrong_or_missing_passphrase_fails_before_any_change(protected, passphrase, message):
    before = sorted(os.listdir(protected))
    with pytest.raises(KeyringError, match=message):
        ensure(Keyring(protected, passphrase), "prot", "present", version=9)
    assert sorted(os.listdir(protected)) == before


def test_passphrase_on_an_unprotected_keyring_is_refused(tmp_path):
    ensure(Keyring(str(tmp_path / "ring")), "data", "present")
    with pytest.raises(KeyringError, match="not protected"):
        ensure(Keyring(str(tmp_path / "ring"), "pw"), "data", "present")


def test_private_keys_are_encrypted_on_disk_and_absent_from_results(protected):
    pem = open(os.path.join(protected, "v1.key.pem"), "rb").read()
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(pem, password=None)
    assert serialization.load_pem_private_key(pem, password=PASS.encode()).key_size >= 2048
    result = ensure(Keyring(protected, PASS), "prot", "present")
    text = json.dumps(result)
    assert "PRIVATE KEY" not in text and PASS not in text
    body = pem.decode().splitlines()[1]
    assert body not in text


@pytest.mark.parametrize("name, bits, message", [
    ("bad/name", 3072, "must be 1-128 letters"),
    ("data", 2048, "at least 3072 bits"),
])
def test_invalid_requests_are_refused(tmp_path, name, bits, message):
    with pytest.raises(KeyringError, match=message):
        ensure(Keyring(str(tmp_path / "ring")), name, "present", bits=bits)
    assert not (tmp_path / "ring").exists()


def test_other_name_in_the_same_directory_is_refused(tmp_path):
    ensure(Keyring(str(tmp_path / "ring")), "data", "present")
    with pytest.raises(KeyringError, match="holds keyring 'data', not 'other'"):
        ensure(Keyring(str(tmp_path / "ring")), "other", "present")


@pytest.mark.parametrize("check_mode", [True, False])
def test_absent_refuses_to_remove_a_keyring_of_another_name(tmp_path, check_mode):
    ensure(Keyring(str(tmp_path / "ring")), "other", "present")
    with pytest.raises(KeyringError, match="holds keyring 'other', not 'data'"):
        ensure(Keyring(str(tmp_path / "ring")), "data", "absent", check_mode=check_mode)
    assert (tmp_path / "ring" / "keyring.json").exists()


def test_absent_removes_the_keyring(tmp_path):
    ensure(Keyring(str(tmp_path / "ring")), "data", "present")
    check = ensure(Keyring(str(tmp_path / "ring")), "data", "absent", check_mode=True)
    assert check["changed"] and (tmp_path / "ring" / "keyring.json").exists()
    assert ensure(Keyring(str(tmp_path / "ring")), "data", "absent")["changed"]
    assert not (tmp_path / "ring").exists()
    assert ensure(Keyring(str(tmp_path / "ring")), "data", "absent")["changed"] is False


def test_private_key_for_checks_key_id_and_version(protected):
    ring = Keyring(protected, PASS)
    with pytest.raises(KeyringError, match="encrypted with keyring 'other'"):
        ring.private_key_for("other", 1)
    with pytest.raises(KeyringError, match="has no version 42"):
        ring.private_key_for("prot", 42)
