#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: keyring
short_description: Create and rotate versioned RSA key pairs for envelope encryption
version_added: 0.1.0
description:
  - Keeps a keyring directory of versioned RSA key pairs (3072 bits or more) that
    M(lepton.aiops.encrypted_file) uses to wrap per-file data keys.
  - O(state=present) creates version 1 once. Raising O(version), or the current
    version growing older than O(rotate_after_days), adds versions. Old versions are
    never removed, so files encrypted under them stay readable.
  - Private keys are written 0600 as PKCS#8 PEM, encrypted with O(passphrase) when it
    is set. Key material never appears in the result, the diff or the log.
author: lepton.aiops maintainers (@lepton-aiops)
requirements:
  - cryptography >= 41.0
attributes:
  check_mode:
    support: full
    description: Reports the versions that would be added without generating keys.
  diff_mode:
    support: full
    description: Shows the current version and the list of versions, never keys.
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_security
options:
  name:
    description:
      - Name of the keyring. It is the key id written into every encrypted file.
      - 1 to 128 letters, digits, C(.), C(_) or C(-).
    type: str
    required: true
  path:
    description:
      - Directory that holds the keyring. Created 0700 when missing.
    type: path
    required: true
  state:
    description:
      - V(present) creates the keyring and adds versions as asked.
      - V(absent) deletes the keyring files and the directory if it is then empty.
        A keyring of another O(name) at O(path) is refused, not deleted. Every file encrypted under the keyring becomes unreadable.
    type: str
    choices: [present, absent]
    default: present
  version:
    description:
      - The version the keyring must have at least. Raising it rotates (adds the missing
        versions). A lower number than the current version changes nothing, as versions are
        never removed.
      - When omitted, a new keyring gets version 1 and an existing one keeps its versions
        unless O(rotate_after_days) says otherwise.
    type: int
  rotate_after_days:
    description:
      - Add a version when the current one is at least this many days old.
    type: int
  size:
    description:
      - RSA modulus size in bits for new versions. At least 3072.
    type: int
    default: 3072
  passphrase:
    description:
      - Passphrase that protects the private keys. A keyring created with a passphrase
        needs it for every later rotation and decryption; one created without takes none.
      - When the keyring exists, the current private key is loaded to check the
        passphrase, so a wrong one fails before anything changes.
    type: str
seealso:
  - module: lepton.aiops.encrypted_file
  - name: Encrypted file format
    description: docs/encrypted-file-format.md in the collection.
    link: https://github.com/lepton-aiops/lepton.aiops/blob/main/docs/encrypted-file-format.md
"""

EXAMPLES = r"""
- name: Create the data keyring (version 1)
  lepton.aiops.keyring:
    name: data
    path: /etc/lepton/keyring/data
    passphrase: "{{ vault_keyring_passphrase }}"

- name: Rotate to version 2 (version 1 stays for decryption)
  lepton.aiops.keyring:
    name: data
    path: /etc/lepton/keyring/data
    version: 2
    passphrase: "{{ vault_keyring_passphrase }}"

- name: Rotate every 90 days
  lepton.aiops.keyring:
    name: data
    path: /etc/lepton/keyring/data
    rotate_after_days: 90
    passphrase: "{{ vault_keyring_passphrase }}"
"""

RETURN = r"""
keyring:
  description: The keyring after the task. No key material.
  returned: always
  type: dict
  contains:
    name:
      description: Keyring name (the key id in encrypted files).
      type: str
      sample: data
    path:
      description: Keyring directory.
      type: str
      sample: /etc/lepton/keyring/data
    exists:
      description: Whether the keyring exists.
      type: bool
      sample: true
    current_version:
      description: Version used for new encryptions and re-wraps.
      type: int
      sample: 2
    protected:
      description: Whether the private keys are passphrase-protected.
      type: bool
      sample: true
    versions:
      description: Every version, oldest first.
      type: list
      elements: dict
      sample:
        - version: 1
          created: "2026-01-01T00:00:00+00:00"
          bits: 3072
          fingerprint: 5b0c...e1
          public_key_path: /etc/lepton/keyring/data/v1.pub.pem
          private_key_path: /etc/lepton/keyring/data/v1.key.pem
added_versions:
  description: Versions this task added (or would add in check mode).
  returned: always
  type: list
  elements: int
  sample: [2]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lepton.aiops.plugins.module_utils._keyring import (
    CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY, MIN_BITS, Keyring, KeyringError, ensure)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            path=dict(type="path", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            version=dict(type="int"),
            rotate_after_days=dict(type="int"),
            size=dict(type="int", default=MIN_BITS),
            passphrase=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    params = module.params
    try:
        result = ensure(Keyring(params["path"], params["passphrase"]), params["name"], params["state"],
                        version=params["version"], rotate_after_days=params["rotate_after_days"],
                        bits=params["size"], check_mode=module.check_mode)
    except KeyringError as exc:
        module.fail_json(msg=str(exc))
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
