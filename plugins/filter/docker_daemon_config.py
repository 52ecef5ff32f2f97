# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for Docker hosts."""
from __future__ import annotations

DOCUMENTATION = r"""
name: docker_daemon_config
short_description: Build the content of Docker's daemon.json from role settings
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
description:
  - Turns the settings of the P(lepton.aiops.container_host#role) role into the
    dictionary Docker Engine reads from C(/etc/docker/daemon.json), leaving
    out what is not set, so the engine's own defaults apply.
  - With O(_input.gpu), registers the NVIDIA container runtime (and makes it
    the default runtime with O(_input.gpu_default_runtime)).
options:
  _input:
    description: The settings.
    type: dict
    required: true
    suboptions:
      log_driver:
        description: Default logging driver.
        type: str
      log_max_size:
        description: Rotate a container log at this size (json-file and local drivers).
        type: str
      log_max_file:
        description: Rotated files to keep.
        type: int
      live_restore:
        description: Keep containers running while dockerd restarts.
        type: bool
      storage_driver:
        description: Storage driver; empty lets dockerd choose.
        type: str
      address_pools:
        description: Default address pools for networks, a list of C(base)/C(size) dicts.
        type: list
        elements: dict
      group:
        description: The group owning the Docker socket.
        type: str
      gpu:
        description: Register the NVIDIA runtime.
        type: bool
      nvidia_runtime_path:
        description: Path of C(nvidia-container-runtime).
        type: str
      gpu_default_runtime:
        description: Make the NVIDIA runtime the default.
        type: bool
      extra:
        description: More daemon.json keys, merged last.
        type: dict
"""

EXAMPLES = r"""
- name: Render daemon.json
  ansible.builtin.copy:
    dest: /etc/docker/daemon.json
    content: "{{ {'log_driver': 'json-file', 'log_max_size': '10m', 'gpu': true} | lepton.aiops.docker_daemon_config | to_nice_json }}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The daemon.json content.
  type: dict
"""

from ansible.errors import AnsibleFilterError


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on')
    return bool(value)


def docker_daemon_config(settings):
    """The daemon.json dictionary for ``settings`` (see DOCUMENTATION)."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError('docker_daemon_config expects a dict of settings, got %s' % type(settings).__name__)
    config = {}
    if settings.get('log_driver'):
        config['log-driver'] = settings['log_driver']
        opts = {}
        if settings.get('log_max_size'):
            opts['max-size'] = str(settings['log_max_size'])
        if settings.get('log_max_file'):
            opts['max-file'] = str(settings['log_max_file'])
        if opts and settings['log_driver'] in ('json-file', 'local'):
            config['log-opts'] = opts
    if settings.get('live_restore') is not None:
        config['live-restore'] = _truthy(settings['live_restore'])
    if settings.get('storage_driver'):
        config['storage-driver'] = settings['storage_driver']
    pools = settings.get('address_pools') or []
    for pool in pools:
        if not isinstance(pool, dict) or 'base' not in pool or 'size' not in pool:
            raise AnsibleFilterError('each address pool needs base and size, got %r' % (pool,))
    if pools:
        config['default-address-pools'] = [dict(base=str(p['base']), size=int(p['size'])) for p in pools]
    if settings.get('group'):
        config['group'] = settings['group']
    if _truthy(settings.get('gpu')):
        config['runtimes'] = {'nvidia': {'path': settings.get('nvidia_runtime_path') or 'nvidia-container-runtime',
                                         'runtimeArgs': []}}
        if _truthy(settings.get('gpu_default_runtime')):
            config['default-runtime'] = 'nvidia'
    config.update(settings.get('extra') or {})
    return config


class FilterModule:
    """Docker host filters."""

    def filters(self):
        return {'docker_daemon_config': docker_daemon_config}
