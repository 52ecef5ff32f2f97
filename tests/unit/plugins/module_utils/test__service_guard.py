"""Unit tests of the service records and the guard that keeps recorded replicas running."""
from __future__ import annotations

import os

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._service_guard import (
    Guard, ServiceBusy, main, read_record, recorded_services, remove_record, replicas_to_start, service_lock,
    write_record)

RECORD = dict(service='svc', config_hash='h1', slots=[0, 1], self_heal=True)


def container(slot, state, hash_='h1', service='svc'):
    return {'Names': ['/%s-%d' % (service, slot)], 'State': state,
            'Labels': {'lepton.service': service, 'lepton.slot': str(slot), 'lepton.config-hash': hash_}}


class FakeDocker:
    """The parts of docker.APIClient the guard uses."""

    def __init__(self, containers, windows=()):
        self.list = containers
        self.windows = list(windows)
        self.started = []
        self.event_calls = []

    def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        assert all is True
        service = filters['label'][0].split('=', 1)[1]
        return [c for c in self.list if c['Labels']['lepton.service'] == service]

    def start(self, name):
        self.started.append(name)
        for item in self.list:
            if item['Names'][0] == '/' + name:
                item['State'] = 'running'

    def events(self, since, until, decode, filters):
        assert decode is True and until > since
        assert filters == {'type': 'container', 'event': 'die', 'label': 'lepton.service'}
        self.event_calls.append((since, until))
        return self.windows.pop(0) if self.windows else []


@pytest.mark.parametrize('record, containers, expected', [
    # A killed replica of the recorded hash and slot comes back; running ones are left alone.
    (RECORD, [container(0, 'running'), container(1, 'exited')], ['svc-1']),
    (RECORD, [container(0, 'created'), container(1, 'exited')], ['svc-0', 'svc-1']),
    # An old version left running by retire: false, and slots outside the record, stay down.
    (RECORD, [container(1, 'exited', hash_='h0'), container(2, 'exited')], []),
    # Docker is already restarting it, or it is on its way out.
    (RECORD, [container(0, 'restarting'), container(1, 'removing'), container(1, 'dead')], []),
    # self_heal: false, or no record at all.
    (dict(RECORD, self_heal=False), [container(1, 'exited')], []),
    (None, [container(1, 'exited')], []),
])
def test_replicas_to_start(record, containers, expected):
    assert replicas_to_start(record, containers) == expected


def test_records_round_trip_and_are_written_only_on_change(tmp_path):
    state_dir = str(tmp_path / 'services')
    assert read_record(state_dir, 'svc') is None
    assert write_record(state_dir, 'svc', RECORD) is True
    mtime = os.stat(os.path.join(state_dir, 'svc.json')).st_mtime_ns
    assert write_record(state_dir, 'svc', dict(RECORD)) is False
    assert os.stat(os.path.join(state_dir, 'svc.json')).st_mtime_ns == mtime
    assert read_record(state_dir, 'svc') == RECORD
    with service_lock(state_dir, 'svc'):
        pass
    assert recorded_services(state_dir) == ['svc']  # the lock file is not a record
    assert remove_record(state_dir, 'svc') is True
    assert remove_record(state_dir, 'svc') is False
    assert recorded_services(state_dir) == []


def test_an_unreadable_record_counts_as_none(tmp_path):
    (tmp_path / 'svc.json').write_text('{not json')
    assert read_record(str(tmp_path), 'svc') is None
    (tmp_path / 'svc.json').write_text('[1, 2]')
    assert read_record(str(tmp_path), 'svc') is None


def test_the_guard_starts_stopped_replicas_and_says_so(tmp_path):
    write_record(str(tmp_path), 'svc', RECORD)
    docker = FakeDocker([container(0, 'running'), container(1, 'exited')])
    lines = []
    assert Guard(docker, str(tmp_path), log=lines.append).heal('svc') == ['svc-1']
    assert docker.started == ['svc-1']
    assert lines == ['svc: started svc-1, which had stopped outside a rollout']


def test_the_guard_keeps_out_of_a_rollout_in_progress(tmp_path):
    write_record(str(tmp_path), 'svc', RECORD)
    docker = FakeDocker([container(1, 'exited')])
    guard = Guard(docker, str(tmp_path), log=lambda line: None)
    with service_lock(str(tmp_path), 'svc'):
        with pytest.raises(ServiceBusy):
            guard.heal('svc')
        assert guard.sweep({'svc'}) == {'svc'}
    assert docker.started == []
    assert guard.sweep({'svc'}) == set()
    assert docker.started == ['svc-1']


def test_a_failed_start_is_logged_and_the_others_still_start(tmp_path):
    write_record(str(tmp_path), 'svc', RECORD)
    docker = FakeDocker([container(0, 'exited'), container(1, 'exited')])
    real_start = docker.start

    def start(name):
        if name == 'svc-0':
            raise RuntimeError('port is already allocated')
        real_start(name)

    docker.start = start
    lines = []
    assert Guard(docker, str(tmp_path), log=lines.append).heal('svc') == ['svc-1']
    assert lines[0] == 'svc: could not start svc-0: port is already allocated'


def test_the_guard_follows_die_events_in_windows(tmp_path):
    state_dir = str(tmp_path)
    write_record(state_dir, 'svc', RECORD)
    write_record(state_dir, 'other', dict(RECORD, service='other'))
    replicas = [container(0, 'running'), container(1, 'running'), container(0, 'running', service='other')]
    die = {'Type': 'container', 'Action': 'die', 'Actor': {'Attributes': {'lepton.service': 'svc', 'name': 'svc-1'}}}

    class Killing(FakeDocker):
        def events(self, since, until, decode, filters):
            window = super().events(since, until, decode, filters)
            if window:
                replicas[1]['State'] = 'exited'  # docker kill svc-1 during the first window
            return window

    docker = Killing(replicas, windows=[[die]])
    clock = iter([1000.0]).__next__
    Guard(docker, state_dir, log=lambda line: None, clock=clock).run(period=2, rounds=2)
    assert docker.started == ['svc-1']
    assert docker.event_calls == [(1000, 1002), (1002, 1004)]  # contiguous windows, nothing missed


def test_main_needs_the_docker_socket_only_when_run(monkeypatch, tmp_path):
    calls = []

    class FakeModule:
        @staticmethod
        def APIClient(base_url):  # pylint: disable=invalid-name
            calls.append(base_url)
            return FakeDocker([])

    monkeypatch.setitem(__import__('sys').modules, 'docker', FakeModule)
    monkeypatch.setattr(Guard, 'run', lambda self, period: calls.append((self.state_dir, period)))
    monkeypatch.delenv('DOCKER_HOST', raising=False)
    assert main(['--state-dir', str(tmp_path), '--period', '3']) == 0
    assert calls == ['unix:///var/run/docker.sock', (str(tmp_path), 3)]


def test_the_examples_in_the_docs_run():
    import doctest  # pylint: disable=import-outside-toplevel
    from ansible_collections.lepton.aiops.plugins.module_utils import _service_guard  # pylint: disable=import-outside-toplevel
    result = doctest.testmod(_service_guard)
    assert result.attempted > 0 and result.failed == 0
