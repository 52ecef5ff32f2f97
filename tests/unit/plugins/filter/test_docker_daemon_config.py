"""Unit tests of the daemon.json filter of the container_host role."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lepton.aiops.plugins.filter.docker_daemon_config import docker_daemon_config

BASE = dict(log_driver='json-file', log_max_size='10m', log_max_file=3, live_restore=True,
            storage_driver='overlay2', address_pools=[{'base': '172.30.0.0/16', 'size': 24}], group='docker')


def test_defaults_render_rotation_pools_and_group():
    assert docker_daemon_config(BASE) == {
        'log-driver': 'json-file', 'log-opts': {'max-size': '10m', 'max-file': '3'}, 'live-restore': True,
        'storage-driver': 'overlay2', 'default-address-pools': [{'base': '172.30.0.0/16', 'size': 24}],
        'group': 'docker'}


@pytest.mark.parametrize('default_runtime, expected_default', [(False, None), (True, 'nvidia')])
def test_gpu_registers_nvidia_runtime(default_runtime, expected_default):
    config = docker_daemon_config(dict(BASE, gpu='true', nvidia_runtime_path='/usr/bin/nvidia-container-runtime',
                                       gpu_default_runtime=default_runtime))
    assert config['runtimes'] == {'nvidia': {'path': '/usr/bin/nvidia-container-runtime', 'runtimeArgs': []}}
    assert config.get('default-runtime') == expected_default


def test_no_gpu_no_runtime_and_empty_storage_driver_left_to_dockerd():
    config = docker_daemon_config(dict(BASE, gpu=False, storage_driver=''))
    assert 'runtimes' not in config
    assert 'storage-driver' not in config


def test_extra_options_merge_last():
    assert docker_daemon_config(dict(BASE, extra={'live-restore': False, 'debug': True}))['live-restore'] is False


def test_log_opts_only_for_drivers_that_rotate():
    assert 'log-opts' not in docker_daemon_config(dict(BASE, log_driver='journald'))


def test_bad_pool_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match='base and size'):
        docker_daemon_config(dict(BASE, address_pools=[{'base': '10.0.0.0/8'}]))
