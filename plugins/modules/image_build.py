#!/usr/bin/python
# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: image_build
short_description: Build a container image from a Dockerfile, only when its inputs changed
description:
  - Builds an image from a build context directory and a Dockerfile with the
    Docker Engine's builder, tags it, and optionally pushes it.
  - Idempotent by content, not by name. The module hashes the build context
    (file names, modes and contents, honouring C(.dockerignore)) together with
    the Dockerfile name, build arguments, labels and target, and the local ids
    of the images its C(FROM) lines name (so an image is rebuilt when the base
    image it builds on was rebuilt), and records the hash in the image label
    C(lepton.aiops.context-hash). When the image
    O(name) already carries the same hash, nothing is built and the result is
    C(changed=false).
  - In check mode the module reports whether it would build, retag or push.
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_docker
  - lepton.aiops.docker
  - ansible.builtin.action_common_attributes
options:
  name:
    description:
      - The image reference to build, C(repository[:tag]). The tag defaults to C(latest).
    type: str
    required: true
  path:
    description: The build context directory on the managed host.
    type: path
    required: true
  dockerfile:
    description: The Dockerfile, relative to O(path).
    type: str
    default: Dockerfile
  tags:
    description: More references that must point at the built image.
    type: list
    elements: str
    default: []
  buildargs:
    description: Build arguments (C(ARG) values).
    type: dict
    default: {}
  labels:
    description: Labels to set on the image.
    type: dict
    default: {}
  target:
    description: The build stage to stop at in a multi-stage Dockerfile.
    type: str
  nocache:
    description: Do not use the build cache (only matters when a build happens).
    type: bool
    default: false
  force:
    description: Build even when an image with the same context hash exists.
    type: bool
    default: false
  push:
    description:
      - Push O(name) and every O(tags) entry to their registries. A reference
        whose registry already holds this image is not pushed again.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Build the inference service image
  lepton.aiops.image_build:
    name: lepton/inference-demo:1.0
    path: /opt/src/inference_service
    buildargs:
      BASE_IMAGE: lepton/base:bookworm
    labels:
      org.opencontainers.image.version: "1.0"

- name: Build and push to a registry on this host
  lepton.aiops.image_build:
    name: 127.0.0.1:5000/inference-demo:1.0
    path: /opt/src/inference_service
    push: true
"""

RETURN = r"""
image:
  description: The image after the task.
  returned: success
  type: dict
  contains:
    id:
      description: The image id (in check mode, the current id, or null when it would be built).
      type: str
      sample: sha256:3f1c...
    tags:
      description: The references that point at the image.
      type: list
      elements: str
    context_hash:
      description: The hash of the build inputs recorded in the image label.
      type: str
actions:
  description: What the module did or, in check mode, would do (C(built), C(tagged REF), C(pushed REF)).
  returned: success
  type: list
  elements: str
  sample: [built, tagged lepton/inference-demo:latest]
build_log:
  description: The last lines of the build output when a build ran.
  returned: when a build ran
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lepton.aiops.plugins.module_utils._docker import DOCKER_ARGUMENT_SPEC, run_docker_module
from ansible_collections.lepton.aiops.plugins.module_utils._image import build_image


def main():
    module = AnsibleModule(
        argument_spec=dict(
            DOCKER_ARGUMENT_SPEC,
            name=dict(type='str', required=True),
            path=dict(type='path', required=True),
            dockerfile=dict(type='str', default='Dockerfile'),
            tags=dict(type='list', elements='str', default=[]),
            buildargs=dict(type='dict', default={}),
            labels=dict(type='dict', default={}),
            target=dict(type='str'),
            nocache=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            push=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    run_docker_module(module, lambda client, params, check_mode: build_image(client, check_mode=check_mode, **params))


if __name__ == '__main__':
    main()
