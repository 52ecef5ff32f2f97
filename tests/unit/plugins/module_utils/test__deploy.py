"""Unit tests of the rollout planner and container spec of service_deploy."""
from __future__ import annotations

import doctest
import http.server
import ssl
import threading

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._deploy import (
    DEPLOY_ARGUMENT_SPEC, Deployer, DeployError, desired_spec, free_slots, http_ready, moved, parse_memory,
    plan_rollout, version_of, volume_bind)
from ansible_collections.lepton.aiops.plugins.module_utils import _pki as pki
from ansible_collections.lepton.aiops.plugins.module_utils._docker import NOBODY, run_as
from ansible_collections.lepton.aiops.plugins.module_utils._service_guard import ServiceBusy, read_record, service_lock


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Every test keeps its service records in its own directory."""
    path = str(tmp_path / 'services')
    monkeypatch.setitem(DEPLOY_ARGUMENT_SPEC['state_dir'], 'default', path)
    return path


def params(**overrides):
    base = dict((name, spec.get('default')) for name, spec in DEPLOY_ARGUMENT_SPEC.items())
    base.update(name='svc', image='lepton/app:1.0', docker_host=None, timeout=60)
    base.update(overrides)
    return base


def replica(slot, hash_='new', running=True, version='1', health=None):
    return dict(name='svc-%d' % slot, id='%064d' % slot, slot=slot, hash=hash_, version=version,
                running=running, health=health, published=None)


@pytest.mark.parametrize('image, explicit, expected', [
    ('lepton/app:1.2', None, '1.2'),
    ('registry:5000/lepton/app:2', None, '2'),
    ('registry:5000/lepton/app', None, 'latest'),
    ('lepton/app:1.2', 'canary', 'canary'),
])
def test_version_of(image, explicit, expected):
    assert version_of(image, explicit) == expected


@pytest.mark.parametrize('text, expected', [
    ('512m', 512 << 20), ('2g', 2 << 30), ('1048576', 1048576), ('64k', 64 << 10), ('1.5g', int(1.5 * (1 << 30))),
    (None, None), ('', None),
])
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


def test_spec_hash_changes_with_config_and_image_not_with_replicas():
    base = desired_spec(params(), 'sha256:a')
    assert desired_spec(params(replicas=5), 'sha256:a')['hash'] == base['hash']
    assert desired_spec(params(), 'sha256:b')['hash'] != base['hash']
    assert desired_spec(params(env={'A': 1}), 'sha256:a')['hash'] != base['hash']
    assert desired_spec(params(memory='256m'), 'sha256:a')['hash'] != base['hash']


def test_spec_hardening_defaults_and_limits():
    spec = desired_spec(params(cpus=0.5, memory='256m'), 'sha256:a')
    hc = spec['host_config']
    assert hc['read_only'] is True
    assert hc['cap_drop'] == ['ALL']
    assert hc['security_opt'] == ['no-new-privileges']
    assert hc['nano_cpus'] == 500000000
    assert hc['mem_limit'] == 256 << 20
    assert hc['restart_policy'] == {'Name': 'unless-stopped'}
    assert 'device_requests' not in hc


@pytest.mark.parametrize('requested, image_user, expected', [
    (None, '10001', None),            # the image's own non-root user
    (None, 'app:app', None),
    (None, '', NOBODY),               # no USER in the image: root, so nobody instead
    (None, 'root', NOBODY),
    (None, '0:0', NOBODY),
    ('root', '', 'root'),             # asked for explicitly
    ('1000:1000', '10001', '1000:1000'),
    (None, None, None),               # image not on this host: its own user
])
def test_run_as(requested, image_user, expected):
    assert run_as(requested, image_user) == expected


def test_run_as_examples_run():
    runner = doctest.DocTestRunner()
    for example in doctest.DocTestFinder().find(run_as, 'run_as', globs={'run_as': run_as}):
        runner.run(example)
    assert runner.tries > 0 and runner.failures == 0


def test_a_replica_of_a_root_image_runs_as_nobody_unless_root_is_asked_for():
    assert desired_spec(params(), 'sha256:a', '')['user'] == NOBODY
    assert desired_spec(params(), 'sha256:a', '10001')['user'] is None
    assert desired_spec(params(user='root'), 'sha256:a', '')['user'] == 'root'
    assert desired_spec(params(), 'sha256:a', '')['hash'] != desired_spec(params(), 'sha256:a', '10001')['hash']


@pytest.mark.parametrize('gpus, count', [('all', -1), ('2', 2)])
def test_spec_gpu_request(gpus, count):
    hc = desired_spec(params(gpus=gpus), 'sha256:a')['host_config']
    assert hc['device_requests'] == [dict(Driver='', Count=count, Capabilities=[['gpu']])]


def test_spec_healthcheck_in_nanoseconds():
    spec = desired_spec(params(healthcheck=dict(test=['CMD', 'true'], interval=2, timeout=1.5, retries=3,
                                                start_period=None)), 'sha256:a')
    assert spec['healthcheck'] == dict(test=['CMD', 'true'], interval=2000000000, timeout=1500000000, retries=3)


def test_spec_volumes_are_binds_and_part_of_the_hash():
    spec = desired_spec(params(volumes=['/etc/tls:/run/tls:ro', 'models:/srv/models']), 'sha256:a')
    assert spec['host_config']['binds'] == ['/etc/tls:/run/tls:ro', 'models:/srv/models:rw']
    assert 'binds' not in desired_spec(params(), 'sha256:a')['host_config']
    assert spec['hash'] != desired_spec(params(), 'sha256:a')['hash']


@pytest.mark.parametrize('text', ['/etc/tls', '/etc/tls:run/tls', ':/run/tls', '/etc/tls:/run/tls:rx', 'a:/b:ro:z'])
def test_volume_bind_says_what_is_wrong(text):
    with pytest.raises(DeployError, match='SOURCE:TARGET'):
        volume_bind(text)


def test_volume_bind_examples_run():
    runner = doctest.DocTestRunner()
    for example in doctest.DocTestFinder().find(volume_bind, 'volume_bind', globs={'volume_bind': volume_bind}):
        runner.run(example)
    assert runner.tries > 0 and runner.failures == 0


@pytest.mark.parametrize('scheme', ['http', 'https'])
def test_the_readiness_probe_uses_the_scheme_asked_for(scheme):
    client = FakeClient()
    seen = []

    def probe(address, port, path, scheme):
        seen.append((address, port, path, scheme))
        return True, 'HTTP 200'
    Deployer(client, params(replicas=1, readiness_scheme=scheme), probe=probe, sleep=lambda s: None).run()
    assert seen == [('127.0.0.1', 18080, '/readyz', scheme)]


def test_http_ready_reports_a_refused_connection_without_raising():
    ready, detail = http_ready('127.0.0.1', 1, '/readyz', timeout=1, scheme='https')
    assert ready is False and detail


@pytest.fixture
def https_replica(tmp_path):
    """A local HTTPS server with a self-signed certificate no one trusts: 200 on /readyz, 503 elsewhere."""
    paths = dict(certificate=str(tmp_path / 'r.crt'), key=str(tmp_path / 'r.key'))
    pki.ensure(paths, pki.Request('replica', sans=['IP:127.0.0.1'], usage='ca', key_type='ec'))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == '/readyz' else 503)
            self.send_header('Content-Length', '0')
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(paths['certificate'], paths['key'])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_https_probe_asks_a_replica_whose_certificate_no_one_trusts(https_replica):
    assert http_ready('127.0.0.1', https_replica, '/readyz', scheme='https') == (True, 'HTTP 200')
    assert http_ready('127.0.0.1', https_replica, '/other', scheme='https') == (False, 'HTTP 503')
    ready, detail = http_ready('127.0.0.1', https_replica, '/readyz', scheme='http')
    assert ready is False and detail


@pytest.mark.parametrize('replicas, count, retire, expect', [
    # Nothing there: start them all.
    ([], 3, True, dict(start=3, keep=[], stale=[], scale_down=[], changed=True)),
    # Up to date: nothing to do.
    ([replica(0), replica(1)], 2, True, dict(start=0, keep=[0, 1], stale=[], scale_down=[], changed=False)),
    # Scale down removes the highest slots.
    ([replica(0), replica(1), replica(2)], 1, True, dict(start=0, keep=[0], scale_down=[1, 2], changed=True)),
    # New config: all old ones are stale, as many new ones start.
    ([replica(0, 'old'), replica(1, 'old')], 2, True, dict(start=2, keep=[], stale=[0, 1], changed=True)),
    # Old ones kept for the LB (retire=false) and new ones ready: no change.
    ([replica(0, 'old'), replica(2), replica(3)], 2, False, dict(start=0, keep=[2, 3], stale=[0], changed=False)),
    # ... and the run that retires them changes.
    ([replica(0, 'old'), replica(2), replica(3)], 2, True, dict(start=0, keep=[2, 3], stale=[0], changed=True)),
    # A dead current replica is replaced.
    ([replica(0), replica(1, running=False)], 2, True, dict(start=1, keep=[0], remove=[1], changed=True)),
    # So is one that runs but fails Docker's healthcheck; a healthy or unchecked one stays.
    ([replica(0, health='healthy'), replica(1, health='unhealthy'), replica(2, health='starting')], 3, True,
     dict(start=1, keep=[0, 2], remove=[1], changed=True)),
    # An unhealthy old replica is replaced, not kept for the load balancer.
    ([replica(0, 'old', health='unhealthy'), replica(1)], 1, False,
     dict(start=0, keep=[1], stale=[], remove=[0], changed=True)),
])
def test_plan_rollout(replicas, count, retire, expect):
    plan = plan_rollout(replicas, 'new', count, retire)
    for key, value in expect.items():
        got = plan[key]
        if isinstance(got, list):
            got = [r['slot'] for r in got]
        assert got == value, key


@pytest.mark.parametrize('taken, n, expected', [
    (set(), 3, [0, 1, 2]), ({0, 1, 2}, 2, [3, 4]), ({1, 3}, 3, [0, 2, 4]),
])
def test_free_slots(taken, n, expected):
    assert free_slots(taken, n) == expected


class FakeClient:
    """An in-memory Docker Engine: containers by name, each with a readiness flag."""

    def __init__(self, never_ready=()):
        self.containers_ = {}
        self.never_ready = set(never_ready)
        self.events = []
        self.api = self

    def image(self, ref):
        return {'Id': 'sha256:' + ref}

    def containers(self, labels):
        return [c for c in self.containers_.values() if c['Config']['Labels']['lepton.service'] == labels['lepton.service']]

    def inspect_container(self, name):
        return self.containers_.get(name)

    def run_container(self, name, image, labels=None, host_config=None, **_kwargs):
        self.events.append('run %s' % name)
        bindings = {'%s/tcp' % inside: [{'HostIp': address, 'HostPort': str(port)}]   # as Docker inspects them
                    for inside, (address, port) in (host_config or {}).get('port_bindings', {}).items()}
        self.containers_[name] = {'Name': '/' + name, 'Id': name * 3, 'Image': image,
                                  'Config': {'Labels': labels}, 'State': {'Running': True},
                                  'HostConfig': {'PortBindings': bindings}}
        return name * 3

    def stop_container(self, name, timeout):
        self.events.append('stop %s' % name)
        self.containers_[name]['State']['Running'] = False

    def start(self, name):
        self.events.append('start %s' % name)
        self.containers_[name]['State']['Running'] = True

    def remove_container(self, name):
        if self.containers_.pop(name, None):
            self.events.append('rm %s' % name)


def probe_for(client):
    def probe(_address, port, _path, scheme='http'):
        name = next(n for n, c in client.containers_.items()
                    if c['HostConfig']['PortBindings']['8000/tcp'][0]['HostPort'] == str(port))
        ready = name not in client.never_ready
        return ready, 'HTTP %d' % (200 if ready else 503)
    return probe


def deploy(client, **overrides):
    clock = iter(range(0, 100000)).__next__
    return Deployer(client, params(**overrides), probe=probe_for(client), clock=clock, sleep=lambda s: None).run()


def test_rollout_replaces_one_batch_at_a_time():
    client = FakeClient()
    deploy(client, replicas=3)
    client.events.clear()
    result = deploy(client, replicas=3, image='lepton/app:1.1', batch_size=2)
    assert client.events == ['run svc-3', 'run svc-4', 'stop svc-0', 'stop svc-1', 'run svc-5', 'stop svc-2',
                             'rm svc-0', 'rm svc-1', 'rm svc-2']
    assert [e['port'] for e in result['endpoints']] == [18083, 18084, 18085]
    assert {e['version'] for e in result['endpoints']} == {'1.1'}


def test_an_unhealthy_replica_is_replaced_and_never_an_endpoint():
    client = FakeClient()
    deploy(client, replicas=3)
    client.containers_['svc-1']['State']['Health'] = {'Status': 'unhealthy', 'Log': [{'Output': 'HTTP 503'}]}
    client.events.clear()
    result = deploy(client, replicas=3)
    assert result['changed'] is True
    assert 'remove svc-1 (unhealthy)' in result['actions']
    assert client.events == ['stop svc-1', 'rm svc-1', 'run svc-1']   # drained, removed, started afresh in its slot
    assert 'Health' not in client.containers_['svc-1']['State']
    assert sorted(e['name'] for e in result['endpoints']) == ['svc-0', 'svc-1', 'svc-2']
    assert deploy(client, replicas=3)['changed'] is False


def test_moving_the_published_ports_rolls_the_service():
    client = FakeClient()
    deploy(client, replicas=2)
    assert deploy(client, replicas=2)['changed'] is False
    client.events.clear()
    result = deploy(client, replicas=2, published_port_start=18090)
    assert result['changed'] is True
    assert client.events == ['run svc-2', 'stop svc-0', 'run svc-3', 'stop svc-1', 'rm svc-0', 'rm svc-1']
    assert [e['port'] for e in result['endpoints']] == [18092, 18093]
    published = [c['HostConfig']['PortBindings']['8000/tcp'][0]['HostPort'] for c in client.containers_.values()]
    assert sorted(published) == ['18092', '18093']
    assert deploy(client, replicas=2, published_port_start=18090)['changed'] is False
    assert deploy(client, replicas=2, published_port_start=18090, bind_address='0.0.0.0')['changed'] is True


@pytest.mark.parametrize('published, address, expect_moved', [
    (('127.0.0.1', 18081), '127.0.0.1', False),
    (('127.0.0.1', 18082), '127.0.0.1', True),    # another port
    (('0.0.0.0', 18081), '127.0.0.1', True),      # another address
    (('0.0.0.0', 18081), '', False),              # Docker's two spellings of every address
    (None, '127.0.0.1', False),                   # host networking publishes nothing
])
def test_moved(published, address, expect_moved):
    replica_1 = dict(replica(1), published=published)
    assert (moved([replica_1], address, 18080)[0]['hash'] is None) is expect_moved


def test_failed_rollout_rolls_back_and_restarts_retired_replicas():
    client = FakeClient(never_ready={'svc-3'})
    deploy(client, replicas=2)
    client.events.clear()
    with pytest.raises(DeployError) as err:
        deploy(client, replicas=2, image='lepton/app:bad', health_timeout=5)
    assert 'rolled back' in str(err.value)
    assert 'svc-3: HTTP 503' in str(err.value)
    assert err.value.result['rolled_back'] is True
    # svc-2 became ready and svc-0 was retired; svc-3 never did: both new go, svc-0 comes back.
    assert client.events == ['run svc-2', 'stop svc-0', 'run svc-3', 'rm svc-2', 'rm svc-3', 'start svc-0']
    assert sorted(client.containers_) == ['svc-0', 'svc-1']
    assert [e['version'] for e in err.value.result['endpoints']] == ['1.0', '1.0']


def test_failed_rollout_without_rollback_only_removes_the_failed_batch():
    client = FakeClient(never_ready={'svc-3'})
    deploy(client, replicas=2)
    with pytest.raises(DeployError, match='stopped'):
        deploy(client, replicas=2, image='lepton/app:bad', health_timeout=5, rollback=False)
    assert sorted(client.containers_) == ['svc-0', 'svc-1', 'svc-2']
    assert [c['State']['Running'] for _n, c in sorted(client.containers_.items())] == [False, True, True]


def test_check_mode_changes_nothing():
    client = FakeClient()
    deploy(client, replicas=2)
    client.events.clear()
    result = Deployer(client, params(replicas=3, image='lepton/app:2'), probe=probe_for(client)).run(check_mode=True)
    assert result['changed'] is True
    assert client.events == []
    assert result['actions'] == ['start 3 new replica(s)', 'retire 2 old replica(s): svc-0, svc-1']


def test_check_mode_predicts_a_rollout_to_an_image_built_later_in_the_play():
    client = FakeClient()
    deploy(client, replicas=2)
    client.image = lambda ref: None if ref == 'lepton/app:2' else {'Id': 'sha256:' + ref}
    client.events.clear()
    result = Deployer(client, params(replicas=2, image='lepton/app:2'), probe=probe_for(client)).run(check_mode=True)
    assert result['changed'] is True and client.events == []
    assert result['actions'][0] == 'image lepton/app:2 is not built yet'
    with pytest.raises(DeployError, match='does not exist on this host; build it first'):
        deploy(client, replicas=2, image='lepton/app:2')


def test_each_run_records_what_should_run_for_the_guard(state_dir):
    client = FakeClient()
    first = deploy(client, replicas=3)
    record = read_record(state_dir, 'svc')
    assert record == dict(service='svc', config_hash=first['diff']['after']['config_hash'], slots=[0, 1, 2],
                          self_heal=True)
    # Drain-first: the old replicas keep running but are no longer recorded.
    second = deploy(client, replicas=2, image='lepton/app:2', retire=False, self_heal=False)
    assert len(second['retiring']) == 3
    assert read_record(state_dir, 'svc') == dict(service='svc', config_hash=second['diff']['after']['config_hash'],
                                                 slots=[3, 4], self_heal=False)
    deploy(client, state='absent')
    assert read_record(state_dir, 'svc') is None


def test_a_rolled_back_run_keeps_the_previous_record(state_dir):
    client = FakeClient(never_ready={'svc-2'})
    deploy(client, replicas=2)
    before = read_record(state_dir, 'svc')
    with pytest.raises(DeployError):
        deploy(client, replicas=2, image='lepton/app:bad', health_timeout=5)
    assert read_record(state_dir, 'svc') == before


def test_the_lock_is_held_while_containers_change(state_dir):
    client = FakeClient()
    seen = []

    def run_container(name, image, labels=None, **kwargs):
        try:
            with service_lock(state_dir, 'svc', wait=False):
                seen.append('free')
        except ServiceBusy:
            seen.append('held')
        return FakeClient.run_container(client, name, image, labels=labels, **kwargs)

    client.run_container = run_container
    deploy(client, replicas=2)
    assert seen == ['held', 'held']
    with service_lock(state_dir, 'svc', wait=False):  # released afterwards
        pass


def test_check_mode_neither_locks_nor_records(state_dir):
    with service_lock(state_dir, 'svc'):
        result = Deployer(FakeClient(), params(replicas=1), probe=lambda *a: (True, '')).run(check_mode=True)
    assert result['changed'] is True
    assert read_record(state_dir, 'svc') is None


def test_an_unusable_state_dir_says_what_to_do(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    with pytest.raises(DeployError, match='cannot keep the service record in .*point state_dir at a directory'):
        deploy(FakeClient(), replicas=1, state_dir=str(blocker))
