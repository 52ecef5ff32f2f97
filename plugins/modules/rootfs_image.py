#!/usr/bin/python
# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rootfs_image
short_description: Build a base image from a distribution archive, without any registry
description:
  - Creates a minimal root filesystem with C(debootstrap) from a Debian or
    Ubuntu archive, trusts extra CA certificates in it, and imports it into
    the Docker Engine as an image. No container registry is involved.
  - Idempotent by recipe. The suite, mirror, variant, package list and the
    contents of the CA certificates are hashed and recorded in the image label
    C(lepton.aiops.recipe); when O(name) exists with the same hash, nothing is
    done.
  - Building takes about a minute with a nearby mirror.
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_docker
  - lepton.aiops.docker
  - ansible.builtin.action_common_attributes
options:
  name:
    description: The image reference to create, C(repository[:tag]).
    type: str
    required: true
  suite:
    description: The distribution suite (C(bookworm), C(trixie), C(jammy) ...).
    type: str
    default: bookworm
  mirror:
    description: The archive to bootstrap from.
    type: str
    default: http://deb.debian.org/debian
  variant:
    description: The debootstrap variant.
    type: str
    default: minbase
    choices: [minbase, buildd, fakechroot]
  packages:
    description: Extra packages to include in the image.
    type: list
    elements: str
    default: []
  ca_certificates:
    description:
      - PEM CA certificate files on the managed host to trust inside the image
        (for HTTPS through an intercepting proxy, for example). They are copied
        in at build time and never stored elsewhere.
    type: list
    elements: path
    default: []
  work_dir:
    description: Where to create the temporary root filesystem (needs about 500 MB).
    type: path
  force:
    description: Rebuild even when an image of the same recipe exists.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
requirements:
  - debootstrap and tar on the managed host
"""

EXAMPLES = r"""
- name: Build a Debian 12 base image with Python
  lepton.aiops.rootfs_image:
    name: lepton/base:bookworm
    packages: [python3, ca-certificates]
"""

RETURN = r"""
image:
  description: The image after the task.
  returned: success
  type: dict
  contains:
    name:
      description: The image reference.
      type: str
    id:
      description: The image id (null in check mode when it would be built).
      type: str
    recipe:
      description: The recipe hash recorded in the C(lepton.aiops.recipe) label.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lepton.aiops.plugins.module_utils._docker import DOCKER_ARGUMENT_SPEC, run_docker_module
from ansible_collections.lepton.aiops.plugins.module_utils._image import ensure_rootfs_image


def main():
    module = AnsibleModule(
        argument_spec=dict(
            DOCKER_ARGUMENT_SPEC,
            name=dict(type='str', required=True),
            suite=dict(type='str', default='bookworm'),
            mirror=dict(type='str', default='http://deb.debian.org/debian'),
            variant=dict(type='str', default='minbase', choices=['minbase', 'buildd', 'fakechroot']),
            packages=dict(type='list', elements='str', default=[]),
            ca_certificates=dict(type='list', elements='path', default=[]),
            work_dir=dict(type='path'),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    run_docker_module(module, lambda client, params, check_mode: ensure_rootfs_image(client, check_mode=check_mode, **params))


if __name__ == '__main__':
    main()
