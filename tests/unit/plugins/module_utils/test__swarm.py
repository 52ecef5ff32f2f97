"""Unit tests of the Swarm service spec, its comparison and the convergence verdicts of swarm_service."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._swarm import (
    HASH_LABEL, SWARM_ARGUMENT_SPEC, SwarmClient, SwarmError, SwarmService, build_spec, compare, interpret,
    managed_view, spec_hash, task_view, tmpfs_size)


def params(**overrides):
    base = {}
    for name, spec in SWARM_ARGUMENT_SPEC.items():
        if spec.get('options') and spec.get('apply_defaults'):
            base[name] = dict((k, v.get('default')) for k, v in spec['options'].items())
        else:
            base[name] = copy.deepcopy(spec.get('default'))
    base.update(name='svc', image='lepton/app:1.0')
    base.update(overrides)
    return base


def stored(spec, network_ids=None):
    """The spec as Docker stores it: defaults filled in, network names resolved to ids, zero values dropped."""
    data = copy.deepcopy(spec)
    task = data['TaskTemplate']
    task['ContainerSpec']['Isolation'] = 'default'
    task['RestartPolicy']['MaxAttempts'] = 0
    task['ForceUpdate'] = 0
    task['Runtime'] = 'container'
    for net in task.get('Networks') or []:
        net['Target'] = (network_ids or {})[net['Target']]
    for flow in (data['UpdateConfig'], data['RollbackConfig']):
        if not flow.get('Delay'):
            flow.pop('Delay', None)
    return data


# Spec ---------------------------------------------------------------------------
def test_spec_is_hardened_and_limited_like_service_deploy():
    spec = build_spec(params(cpus=0.5, memory='256m'), 'sha256:a')
    container = spec['TaskTemplate']['ContainerSpec']
    assert container['Image'] == 'sha256:a'
    assert container['ReadOnly'] is True
    assert container['CapabilityDrop'] == ['ALL']
    assert container['Mounts'] == [dict(Type='tmpfs', Target='/tmp', TmpfsOptions=dict(SizeBytes=64 << 20))]
    assert container['StopGracePeriod'] == 15 * 10 ** 9
    assert container['Labels']['lepton.version'] == '1.0'
    assert container['Labels']['lepton.image'] == 'lepton/app:1.0'
    assert spec['TaskTemplate']['Resources'] == dict(Limits=dict(NanoCPUs=500000000, MemoryBytes=256 << 20))
    assert 'Healthcheck' not in container  # the image's own healthcheck applies


def test_spec_defaults_roll_start_first_and_roll_back_on_failure():
    spec = build_spec(params(), 'sha256:a')
    assert spec['UpdateConfig'] == dict(Parallelism=1, Delay=0, FailureAction='rollback', Monitor=5 * 10 ** 9,
                                        MaxFailureRatio=0, Order='start-first')
    assert spec['RollbackConfig']['FailureAction'] == 'pause'
    assert spec['RollbackConfig']['Order'] == 'stop-first'
    assert spec['EndpointSpec'] == dict(Mode='dnsrr')
    assert spec['Mode'] == dict(Replicated=dict(Replicas=1))


@pytest.mark.parametrize('published, expected', [
    (None, None),
    (0, [dict(Protocol='tcp', TargetPort=8000, PublishMode='host')]),
    (18450, [dict(Protocol='tcp', TargetPort=8000, PublishMode='host', PublishedPort=18450)]),
])
def test_ports_are_published_in_host_mode_only(published, expected):
    assert build_spec(params(published_port=published), 'x')['EndpointSpec'].get('Ports') == expected


def test_command_env_healthcheck_networks():
    spec = build_spec(params(command=['python3', 'app.py'], env={'B': 2, 'A': 'x=y'}, networks=['net'],
                             healthcheck=dict(test=['CMD', 'true'], interval=2, timeout=1.5, retries=3,
                                              start_period=None)), 'x')
    container = spec['TaskTemplate']['ContainerSpec']
    assert container['Args'] == ['python3', 'app.py']
    assert container['Env'] == ['A=x=y', 'B=2']
    assert container['Healthcheck'] == dict(Test=['CMD', 'true'], Interval=2 * 10 ** 9, Timeout=1500000000, Retries=3)
    assert spec['TaskTemplate']['Networks'] == [dict(Target='net')]


@pytest.mark.parametrize('options, expected', [('size=64m', 64 << 20), ('mode=1777,size=1g', 1 << 30), ('', None)])
def test_tmpfs_size(options, expected):
    assert tmpfs_size(options) == expected


# Comparison -----------------------------------------------------------------------
def test_the_stored_spec_reads_back_as_the_desired_one():
    spec = build_spec(params(networks=['net'], published_port=0, cpus=1, memory='1g',
                             healthcheck=dict(test=['CMD', 'true'], interval=2, timeout=None, retries=None,
                                              start_period=None)), 'sha256:a')
    current = managed_view(stored(spec, {'net': 'n1d'}), {'n1d': 'net'})
    assert compare(current, managed_view(spec)) == (False, [])


@pytest.mark.parametrize('change, fields', [
    (dict(image='lepton/app:1.1'), ['image', 'version']),
    (dict(replicas=3), ['replicas']),
    (dict(env={'A': '1'}), ['env']),
    (dict(memory='512m'), ['memory_bytes']),
    (dict(update_config=dict(params()['update_config'], order='stop-first')), ['update_config']),
    (dict(published_port=0), ['ports']),
])
def test_compare_names_the_changed_fields(change, fields):
    before = managed_view(stored(build_spec(params(), 'sha256:a')))
    assert compare(before, managed_view(build_spec(params(**change), 'sha256:a'))) == (True, fields)


def test_compare_with_no_service_changes_everything():
    changed, fields = compare(None, managed_view(build_spec(params(), 'x')))
    assert changed and 'image' in fields


def test_hash_follows_the_tasks_not_the_service():
    base = spec_hash(managed_view(build_spec(params(), 'sha256:a')))
    assert spec_hash(managed_view(build_spec(params(replicas=5), 'sha256:a'))) == base
    assert spec_hash(managed_view(build_spec(params(update_config=dict(params()['update_config'], parallelism=2)),
                                             'sha256:a'))) == base
    assert spec_hash(managed_view(build_spec(params(), 'sha256:b'))) != base  # a rebuilt tag rolls
    assert spec_hash(managed_view(build_spec(params(env={'A': 1}), 'sha256:a'))) != base
    spec = build_spec(params(), 'sha256:a')
    assert spec['TaskTemplate']['ContainerSpec']['Labels'][HASH_LABEL] == base


# Tasks and verdicts -----------------------------------------------------------------
def task(slot, hash_='h2', state='running', desired='running', ports=(), message='started', created='2026-01-01T00:00:10Z',
         tid=None):
    return task_view(dict(
        ID=tid or 'task%d%s%s' % (slot, hash_, state), Slot=slot, NodeID='n1', DesiredState=desired, CreatedAt=created,
        Spec=dict(ContainerSpec=dict(Labels={'lepton.version': hash_, HASH_LABEL: hash_})),
        Status=dict(State=state, Message=message, ContainerStatus=dict(ContainerID='c' * 64),
                    PortStatus=dict(Ports=[dict(PublishedPort=p) for p in ports]))), {'n1': 'node-1'})


def test_task_view():
    view = task(1, ports=(32768, 32768))
    assert view['node'] == 'node-1'
    assert view['container_id'] == 'c' * 12
    assert view['published_ports'] == [32768]
    assert view['version'] == 'h2'


UPDATING = dict(UpdateStatus=dict(State='updating', StartedAt='2026-01-01T00:00:05Z', Message='update in progress'))


@pytest.mark.parametrize('service, tasks, verdict', [
    ({}, [task(1), task(2)], 'converged'),
    (dict(UpdateStatus=dict(State='completed')), [task(1), task(2), task(1, 'h1', desired='shutdown')], 'converged'),
    ({}, [task(1), task(2, 'h1')], 'pending'),                         # an old task still runs
    ({}, [task(1), task(2, state='starting')], 'pending'),             # not healthy yet
    ({}, [task(1)], 'pending'),                                        # scaling up
    ({}, [task(1), task(2), task(3)], 'pending'),                      # scaling down
    (UPDATING, [task(1), task(2)], 'pending'),
    (dict(UpdateStatus=dict(State='rollback_started')), [task(1, 'h1'), task(2, 'h1')], 'pending'),
    (dict(UpdateStatus=dict(State='rollback_completed')), [task(1, 'h1'), task(2, 'h1')], 'rolled_back'),
    (dict(UpdateStatus=dict(State='paused')), [task(1, 'h1'), task(2)], 'paused'),
])
def test_interpret(service, tasks, verdict):
    assert interpret(service, tasks, 'h2', 2)[0] == verdict


def test_rollback_reason_names_the_failed_tasks_of_this_update_only():
    service = dict(UpdateStatus=dict(State='rollback_completed', StartedAt='2026-01-01T00:00:05Z',
                                     Message='rollback completed'))
    tasks = [task(1, 'h1'), task(2, 'h1'),
             task(1, 'h2', 'complete', 'shutdown', message='finished', tid='new'),
             task(1, 'h2', 'failed', 'shutdown', message='old failure', created='2026-01-01T00:00:01Z', tid='old')]
    verdict, reason = interpret(service, tasks, 'h2', 2)
    assert verdict == 'rolled_back'
    assert reason == 'rollback completed; task new (slot 1): complete finished'


# The service, against a fake Swarm manager ------------------------------------------------
class FakeSwarm:
    """Just enough of SwarmClient: a manager whose updates converge, or roll back."""

    def __init__(self, manager=True, images=None, service=None, rolls_back=False, nodes=1, state='running',
                 image_users=None):
        self.state = state
        self.manager = manager
        self.images = images if images is not None else {'lepton/app:1.0': 'sha256:a', 'lepton/app:1.1': 'sha256:b'}
        self.image_users = image_users or {}
        self.current = service
        self.rolls_back = rolls_back
        self.nodes = nodes
        self.applied = []
        self.removed = []

    def require_manager(self):
        if not self.manager:
            SwarmClient.require_manager(self)

    @property
    def api(self):  # what require_manager reads when this fake is no manager
        return type('Api', (), {'info': staticmethod(lambda: {'Swarm': {'LocalNodeState': 'inactive'}})})

    def local_image(self, ref):
        return (self.images[ref], self.image_users.get(ref, '10001')) if ref in self.images else (None, None)

    def service(self, name):
        return copy.deepcopy(self.current)

    def network_names(self):
        return {}

    def swarm_networks(self):
        return {'ingress'}

    def ready_nodes(self):
        return [{}] * self.nodes

    def node_names(self):
        return {'n1': 'node-1'}

    def apply(self, spec, current=None):
        self.applied.append(spec)
        previous = self.current
        self.current = dict(ID='svc1', Version=dict(Index=len(self.applied)), Spec=stored(spec))
        if self.rolls_back and previous:
            self.failed = spec['TaskTemplate']['ContainerSpec']['Labels']
            self.current = dict(previous, UpdateStatus=dict(State='rollback_completed', Message='rollback completed'))
        return 'svc1'

    def tasks(self, service_id):
        spec = self.current['Spec']
        labels = spec['TaskTemplate']['ContainerSpec']['Labels']
        return [dict(ID='t%d' % slot, Slot=slot, NodeID='n1', DesiredState='running',
                     Spec=dict(ContainerSpec=dict(Labels=labels)),
                     Status=dict(State=self.state, Message='starting', ContainerStatus=dict(ContainerID='c%063d' % slot)))
                for slot in range(1, spec['Mode']['Replicated']['Replicas'] + 1)] + [
            dict(ID='failed', Slot=1, NodeID='n1', DesiredState='shutdown', Spec=dict(ContainerSpec=dict(Labels=labels)),
                 Status=dict(State='complete', Message='finished', ContainerStatus=dict(ContainerID='f' * 64)))
            for labels in [getattr(self, 'failed', None)] if labels]

    def remove(self, service_id):
        self.removed.append(service_id)
        self.current = None

    def containers(self, service_id):
        return []

    def container(self, container_id):
        return dict(State=dict(Health=dict(Status='unhealthy', Log=[dict(Output='HTTP Error 503\n')])))


def run(fake, check_mode=False, **overrides):
    return SwarmService(fake, params(**overrides), clock=lambda: 0, sleep=lambda s: None).run(check_mode)


def test_check_mode_predicts_a_new_service_and_changes_nothing():
    fake = FakeSwarm()
    result = run(fake, check_mode=True, replicas=2)
    assert result['changed'] and result['service'] is None and result['tasks'] == []
    assert result['diff']['before'] == {} and result['diff']['after']['replicas'] == 2
    assert fake.applied == []


def test_create_waits_for_the_tasks_then_a_rerun_changes_nothing():
    fake = FakeSwarm()
    created = run(fake, replicas=2)
    assert created['changed'] and not created['rolled_back']
    assert [t['slot'] for t in created['tasks']] == [1, 2]
    assert created['service']['id'] == 'svc1'
    again = run(fake, replicas=2)
    assert not again['changed'] and again['changed_fields'] == []
    assert len(fake.applied) == 1


def test_a_rolled_back_update_fails_with_the_reason():
    fake = FakeSwarm(rolls_back=True)
    run(fake, replicas=2)
    with pytest.raises(SwarmError) as err:
        run(fake, replicas=2, image='lepton/app:1.1')
    assert 'rolled back by Swarm' in str(err.value)
    assert 'task failed (slot 1): complete finished' in str(err.value)
    assert 'task failed: container unhealthy: HTTP Error 503' in str(err.value)
    assert err.value.result['rolled_back'] is True
    assert err.value.result['changed'] is True
    assert [t['version'] for t in err.value.result['tasks']] == ['1.0', '1.0']


def test_absent_removes_once():
    fake = FakeSwarm()
    run(fake)
    assert run(fake, state='absent', check_mode=True)['changed'] and not fake.removed
    assert run(fake, state='absent')['changed'] and fake.removed == ['svc1']
    assert not run(fake, state='absent')['changed']


@pytest.mark.parametrize('fake, overrides, message', [
    (FakeSwarm(manager=False), {}, 'run `docker swarm init`'),
    (FakeSwarm(), dict(image='lepton/app:nope'), 'image lepton/app:nope does not exist on this Docker host'),
    (FakeSwarm(), dict(networks=['backend']), 'network(s) backend do not exist'),
    (FakeSwarm(nodes=1), dict(published_port=18450), 'a node runs at most one task'),
    (FakeSwarm(nodes=2), dict(published_port=18450, replicas=3,
                              update_config=dict(params()['update_config'], order='stop-first')), 'published_port'),
])
def test_clear_errors(fake, overrides, message):
    with pytest.raises(SwarmError) as err:
        run(fake, **overrides)
    assert message in str(err.value)
    assert fake.applied == []


def test_check_mode_predicts_a_change_for_an_image_built_later_in_the_play():
    fake = FakeSwarm()
    result = run(fake, image='lepton/app:nope', check_mode=True)
    assert result['changed'] is True and fake.applied == []
    run(fake)
    result = run(fake, image='lepton/app:nope', check_mode=True)
    assert result['changed'] is True and 'image' in result['changed_fields'] and len(fake.applied) == 1


def test_unpinned_image_is_not_looked_up():
    fake = FakeSwarm(images={})
    run(fake, pin_image=False, image='registry.example.com/app:2')
    container = fake.applied[0]['TaskTemplate']['ContainerSpec']
    assert container['Image'] == 'registry.example.com/app:2'
    assert 'User' not in container   # not on this node: the image's own user


@pytest.mark.parametrize('image_user, user, expected', [
    ('10001', None, None), ('', None, '65534:65534'), ('root', None, '65534:65534'), ('', 'root', 'root'),
])
def test_tasks_of_a_root_image_run_as_nobody_unless_root_is_asked_for(image_user, user, expected):
    fake = FakeSwarm(image_users={'lepton/app:1.0': image_user})
    run(fake, user=user)
    assert fake.applied[0]['TaskTemplate']['ContainerSpec'].get('User') == expected


def test_a_fixed_port_on_enough_nodes_is_accepted():
    fake = FakeSwarm(nodes=3)
    run(fake, published_port=18450, replicas=2)
    assert fake.applied[0]['EndpointSpec']['Ports'][0]['PublishedPort'] == 18450


def test_a_service_that_never_gets_healthy_times_out_with_the_task_states():
    ticks = iter(range(0, 1000, 10))
    service = SwarmService(FakeSwarm(state='starting'), params(wait_timeout=30), clock=lambda: next(ticks),
                           sleep=lambda s: None)
    with pytest.raises(SwarmError) as err:
        service.run()
    assert 'did not converge within 30s: 0 of 1 tasks of the current spec run; task t1 (slot 1): starting' in str(err.value)
    assert err.value.result['rolled_back'] is False
