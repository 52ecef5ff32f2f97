#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: x509_certificate
short_description: Issue and renew X.509 certificates from a private CA
version_added: 0.1.0
description:
  - Creates a private key and a certificate on the managed host, self-signed (a CA,
    O(usage=ca)) or issued by the CA given in O(ca_certificate) and O(ca_key).
  - Idempotent. The certificate is re-issued only when it is missing, does not match
    its key, the request changed (common name, organization, SANs, usage, key type or size), it was
    not signed by the current CA, or it expires within O(renew_before_days). The key is
    kept across renewals unless its type or size changes.
  - Private keys are written 0600 and never appear in the result, the diff or the log.
  - Used by the P(lepton.aiops.pki#role) role.
author: lepton.aiops maintainers (@lepton-aiops)
requirements:
  - cryptography >= 41.0
attributes:
  check_mode:
    support: full
    description: Reports whether and why the certificate would be issued; writes nothing.
  diff_mode:
    support: full
    description: Shows subject, SANs, usage, serial, validity and fingerprint before and after; never keys.
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_security
options:
  path:
    description: Certificate file (PEM), written 0644.
    type: path
    required: true
  key_path:
    description: Private key file (PKCS#8 PEM), written 0600. Created when missing.
    type: path
    required: true
  fullchain_path:
    description: Optional file with the certificate followed by the CA certificate (for Nginx), 0644.
    type: path
  bundle_path:
    description:
      - Optional file with the certificate, the CA certificate and the unencrypted private
        key (for HAProxy C(crt)), written 0600.
    type: path
  common_name:
    description: Subject common name.
    type: str
    required: true
  organization:
    description: Optional subject organization name.
    type: str
  subject_alt_names:
    description:
      - Subject alternative names, as V(DNS:name), V(IP:address), V(URI:uri) or
        V(email:address). A bare value is an IP address when it parses as one, else a DNS name.
      - Server certificates without SANs get the common name as their only SAN.
    type: list
    elements: str
    default: []
  usage:
    description:
      - V(ca) makes a self-signed CA certificate (basic constraints CA, path length 0).
      - V(server), V(client) and V(server_client) set the extended key usage of a leaf
        certificate issued by the CA.
    type: str
    choices: [ca, server, client, server_client]
    default: server
  ca_certificate:
    description: CA certificate that issues this certificate. Required unless O(usage=ca).
    type: path
  ca_key:
    description: Private key of the CA. Required unless O(usage=ca).
    type: path
  ca_key_passphrase:
    description: Passphrase of O(ca_key).
    type: str
  key_passphrase:
    description:
      - Passphrase that encrypts O(key_path) on disk. Leave unset for keys a server must
        read without a prompt.
    type: str
  key_type:
    description: Key algorithm.
    type: str
    choices: [rsa, ec]
    default: rsa
  key_size:
    description: RSA bits (2048 or more, default 3072) or EC curve size (256 or 384, default 256).
    type: int
  valid_days:
    description: Validity of a newly issued certificate in days.
    type: int
    default: 365
  renew_before_days:
    description: Re-issue when the certificate expires within this many days.
    type: int
    default: 30
  owner:
    description: Owner (name or uid) of the written files; unchanged when omitted.
    type: str
  group:
    description: Group (name or gid) of the written files; unchanged when omitted.
    type: str
  force:
    description: Re-issue the certificate even when it is valid.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Create the private CA
  lepton.aiops.x509_certificate:
    path: /etc/lepton/pki/ca.crt
    key_path: /etc/lepton/pki/ca.key
    common_name: lepton.aiops private CA
    usage: ca
    valid_days: 3650
    renew_before_days: 180

- name: Issue the load balancer's server certificate
  lepton.aiops.x509_certificate:
    path: /etc/lepton/pki/lb.crt
    key_path: /etc/lepton/pki/lb.key
    bundle_path: /etc/lepton/pki/lb.pem
    common_name: lb.example.internal
    subject_alt_names: [DNS:lb.example.internal, DNS:localhost, IP:127.0.0.1]
    ca_certificate: /etc/lepton/pki/ca.crt
    ca_key: /etc/lepton/pki/ca.key
"""

RETURN = r"""
certificate:
  description: The certificate after the task (predicted in check mode). No key material.
  returned: always
  type: dict
  sample:
    exists: true
    common_name: lb.example.internal
    subject_alt_names: [DNS:lb.example.internal, IP:127.0.0.1]
    usage: server
    serial: 5f1c0a...
    issuer: CN=lepton.aiops private CA
    not_before: "2026-01-01T00:00:00+00:00"
    not_after: "2027-01-01T00:00:00+00:00"
    fingerprint_sha256: 9a0b...
renewed:
  description: Whether the certificate was (or would be) issued.
  returned: always
  type: bool
reasons:
  description: Why it was issued; empty when the existing certificate was kept.
  returned: always
  type: list
  elements: str
  sample: ["expires in 12 days (renew 30 days before)"]
changed_files:
  description: Files written (or that would be written).
  returned: always
  type: list
  elements: str
paths:
  description: Paths of the certificate, key, fullchain, bundle and CA certificate (null when unused).
  returned: always
  type: dict
  sample:
    certificate: /etc/lepton/pki/lb.crt
    key: /etc/lepton/pki/lb.key
    fullchain: null
    bundle: /etc/lepton/pki/lb.pem
    ca: /etc/lepton/pki/ca.crt
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lepton.aiops.plugins.module_utils._pki import (
    CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY, PkiError, run)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            key_path=dict(type="path", required=True, no_log=False),
            fullchain_path=dict(type="path"),
            bundle_path=dict(type="path"),
            common_name=dict(type="str", required=True),
            organization=dict(type="str"),
            subject_alt_names=dict(type="list", elements="str", default=[]),
            usage=dict(type="str", default="server", choices=["ca", "server", "client", "server_client"]),
            ca_certificate=dict(type="path"),
            ca_key=dict(type="path", no_log=False),
            ca_key_passphrase=dict(type="str", no_log=True),
            key_passphrase=dict(type="str", no_log=True),
            key_type=dict(type="str", default="rsa", choices=["rsa", "ec"]),
            key_size=dict(type="int"),
            valid_days=dict(type="int", default=365),
            renew_before_days=dict(type="int", default=30),
            owner=dict(type="str"),
            group=dict(type="str"),
            force=dict(type="bool", default=False),
        ),
        required_if=[("usage", "server", ("ca_certificate", "ca_key")),
                     ("usage", "client", ("ca_certificate", "ca_key")),
                     ("usage", "server_client", ("ca_certificate", "ca_key"))],
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    try:
        result = run(module.params, check_mode=module.check_mode)
    except PkiError as exc:
        module.fail_json(msg=str(exc))
    before = result.pop("before")
    if module._diff:
        result["diff"] = dict(before=before, after=result["certificate"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
