#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: encrypted_file
short_description: Encrypt, decrypt and re-wrap files with envelope encryption
version_added: 0.1.0
description:
  - Envelope encryption of files on the managed host with a keyring made by
    M(lepton.aiops.keyring). Each file gets a fresh 256-bit data key; the content is
    sealed with AES-256-GCM in chunks (constant memory for any file size) and the
    data key is wrapped with RSA-OAEP (SHA-256) under the keyring's current version.
  - Chunk order, truncation and every header field are authenticated. A tampered,
    truncated or wrong-key file fails with a clear message and leaves no partial
    plaintext behind.
  - Writes are atomic. The result goes to a temporary file in the same directory,
    is fsynced and renamed over the target, so a failure leaves the original intact.
  - Neither file content nor key material appears in the result, the diff or the log.
  - The file format is described in C(docs/encrypted-file-format.md).
author: lepton.aiops maintainers (@lepton-aiops)
requirements:
  - cryptography >= 41.0
attributes:
  check_mode:
    support: full
    description: Reports the action that would be taken; nothing is written.
  diff_mode:
    support: full
    description: Shows whether the target is encrypted and under which key version, never content.
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_security
options:
  path:
    description:
      - The file to act on. Without O(dest) it is changed in place (keeping its mode
        and, when run as root, its owner).
      - With O(dest) and O(state=encrypted) it is the plaintext; with O(state=decrypted)
        it is the encrypted file. It is not changed.
    type: path
    required: true
  dest:
    description:
      - Write the result here instead of replacing O(path). A new O(dest) is created 0600.
      - Idempotence is checked by decrypting and comparing, so it needs the private key
        (and O(passphrase) for a protected keyring).
      - Not used with O(state=rewrapped).
    type: path
  state:
    description:
      - V(encrypted) ensures the target is encrypted under O(keyring) (any version).
      - V(decrypted) ensures the target is plaintext.
      - V(rewrapped) ensures O(path) is encrypted under the current keyring version;
        a file under an older version gets its data key re-wrapped (only the header is
        rewritten, the sealed content is kept byte for byte); a plaintext file is encrypted.
    type: str
    choices: [encrypted, decrypted, rewrapped]
    default: encrypted
  keyring:
    description:
      - Directory of the keyring (the O(lepton.aiops.keyring#module:path) of M(lepton.aiops.keyring)).
    type: path
    required: true
  passphrase:
    description:
      - Passphrase of the keyring's private keys. Encryption needs only the public key.
    type: str
  chunk_size:
    description:
      - Plaintext bytes per AES-GCM chunk for new encryptions, 1 KiB to 64 MiB.
        Memory use is about three chunks.
    type: int
    default: 1048576
seealso:
  - module: lepton.aiops.keyring
"""

EXAMPLES = r"""
- name: Encrypt the model weights in place
  lepton.aiops.encrypted_file:
    path: /srv/models/llm.safetensors
    keyring: /etc/lepton/keyring/data

- name: Decrypt them for the service into a separate file
  lepton.aiops.encrypted_file:
    path: /srv/models/llm.safetensors
    dest: /run/lepton/llm.safetensors
    state: decrypted
    keyring: /etc/lepton/keyring/data
    passphrase: "{{ vault_keyring_passphrase }}"

- name: After a rotation, re-wrap under the newest version
  lepton.aiops.encrypted_file:
    path: /srv/models/llm.safetensors
    state: rewrapped
    keyring: /etc/lepton/keyring/data
    passphrase: "{{ vault_keyring_passphrase }}"
"""

RETURN = r"""
action:
  description: What the task did (or would do in check mode).
  returned: always
  type: str
  choices: [none, encrypt, decrypt, rewrap]
  sample: encrypt
file:
  description: The target file after the task. No content, no key material.
  returned: always
  type: dict
  sample:
    path: /srv/models/llm.safetensors
    exists: true
    encrypted: true
    key_id: data
    key_version: 2
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lepton.aiops.plugins.module_utils._envelope import (
    CRYPTOGRAPHY_IMPORT_ERROR, DEFAULT_CHUNK_SIZE, HAS_CRYPTOGRAPHY, STATES, EnvelopeError, ensure)
from ansible_collections.lepton.aiops.plugins.module_utils._keyring import Keyring


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            dest=dict(type="path"),
            state=dict(type="str", default="encrypted", choices=list(STATES)),
            keyring=dict(type="path", required=True, no_log=False),
            passphrase=dict(type="str", no_log=True),
            chunk_size=dict(type="int", default=DEFAULT_CHUNK_SIZE),
        ),
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    params = module.params
    try:
        result = ensure(params["path"], params["dest"], params["state"],
                        Keyring(params["keyring"], params["passphrase"]),
                        chunk_size=params["chunk_size"], check_mode=module.check_mode)
    except EnvelopeError as exc:
        module.fail_json(msg=str(exc))
    output = dict(changed=result["changed"], action=result["action"], file=result["after"])
    if module._diff:
        output["diff"] = dict(before=result["before"], after=result["after"])
    module.exit_json(**output)


if __name__ == "__main__":
    main()
