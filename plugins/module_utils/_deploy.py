# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replica deployment on one Docker host: plan (pure) and rollout (effects).

PRIVATE to the lepton.aiops collection.

A service is the set of containers labelled ``lepton.service=<name>``. Each
replica sits in a numbered slot: container ``<name>-<slot>``, host port
``published_port_start + slot``. A replica is current when its
``lepton.config-hash`` label equals the hash of the desired container spec
(image id included, so rebuilding a tag rolls the service) and it publishes
on ``bind_address`` at its slot's port (so moving the ports rolls it too).

A rollout starts new replicas a batch at a time, waits until each answers its
readiness probe, then retires as many old replicas (graceful stop: SIGTERM,
the service drains). Retired replicas are kept stopped until the rollout
succeeds; if a new replica does not become ready in time, the new ones are
removed and the retired ones started again, so the old version keeps
serving (rollback).

After every successful run the deployer records the slots that should run
and their config hash for the service guard (``_service_guard``), and it
holds the service's lock while it changes containers.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import time

from urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.lepton.aiops.plugins.module_utils._docker import (
    CONTAINER_ARGUMENT_SPEC, DockerError, healthcheck_config, run_as)
from ansible_collections.lepton.aiops.plugins.module_utils._service_guard import (
    DEFAULT_STATE_DIR, HASH_LABEL, SERVICE_LABEL, SLOT_LABEL, remove_record, service_lock, write_record)

try:
    from docker.types import DeviceRequest
except ImportError:  # pragma: no cover - the module reports the missing SDK
    DeviceRequest = None

VERSION_LABEL = 'lepton.version'


class DeployError(DockerError):
    """A rollout failed; ``result`` carries what was done (rollback included)."""


# Pure: the desired container spec ----------------------------------------
def version_of(image, version=None):
    """The version label: explicit, else the image tag, else ``latest``."""
    if version:
        return str(version)
    last = image.rsplit('/', 1)[-1]
    return last.split(':', 1)[1] if ':' in last else 'latest'


def parse_memory(value):
    """Bytes from ``512m``, ``2g``, ``1048576``; None passes through."""
    if value in (None, ''):
        return None
    text = str(value).strip().lower().rstrip('b')
    units = {'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def volume_bind(text):
    """``SOURCE:TARGET[:ro|rw]`` checked and normalised (``rw`` when no mode is given).

    SOURCE is an absolute host path or a named volume, TARGET an absolute
    path in the container.

    >>> volume_bind('/etc/lepton/pki/issued/inference:/run/tls:ro')
    '/etc/lepton/pki/issued/inference:/run/tls:ro'
    >>> volume_bind('models:/srv/models')
    'models:/srv/models:rw'
    """
    parts = str(text).split(':')
    if len(parts) == 2:
        parts.append('rw')
    if len(parts) != 3 or not parts[0] or not parts[1].startswith('/') or parts[2] not in ('ro', 'rw'):
        raise DeployError('volumes: expected SOURCE:TARGET[:ro|rw] with an absolute TARGET, got %r' % (text,))
    return ':'.join(parts)


def desired_spec(params, image_id, image_user=None):
    """The container spec every replica of the service must have, and its hash.

    ``params`` holds the module options (name, image, env, limits ...). The
    result is pure data: the same inputs give the same hash.
    """
    version = version_of(params['image'], params.get('version'))
    host_config = dict(
        restart_policy=dict(Name=params.get('restart_policy') or 'unless-stopped'),
        read_only=bool(params.get('read_only')),
        cap_drop=list(params.get('cap_drop') or []),
        cap_add=list(params.get('cap_add') or []),
        security_opt=list(params.get('security_opts') or []),
        tmpfs=dict(params.get('tmpfs') or {}),
    )
    if params.get('volumes'):
        host_config['binds'] = [volume_bind(v) for v in params['volumes']]
    if params.get('cpus'):
        host_config['nano_cpus'] = int(float(params['cpus']) * 1e9)
    if params.get('memory'):
        host_config['mem_limit'] = parse_memory(params['memory'])
    if params.get('network'):
        host_config['network_mode'] = params['network']
    gpus = params.get('gpus')
    if gpus not in (None, '', 0, '0'):
        count = -1 if str(gpus) == 'all' else int(gpus)
        host_config['device_requests'] = [dict(Driver='', Count=count, Capabilities=[['gpu']])]
    healthcheck = healthcheck_config(params.get('healthcheck'))
    spec = dict(
        image=params['image'],
        image_id=image_id,
        version=version,
        command=params.get('command'),
        environment=dict((k, str(v)) for k, v in (params.get('env') or {}).items()),
        labels=dict((k, str(v)) for k, v in (params.get('labels') or {}).items()),
        container_port=int(params.get('container_port') or 8000),
        user=run_as(params.get('user'), image_user),
        host_config=host_config,
        healthcheck=healthcheck,
        stop_timeout=int(params.get('stop_timeout') or 15),
    )
    spec['hash'] = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return spec


# Pure: what to do ----------------------------------------------------------
def replica_view(container):
    """The facts the planner needs from one inspected container."""
    labels = container['Config'].get('Labels') or {}
    state = container.get('State') or {}
    health = (state.get('Health') or {}).get('Status')
    bindings = (container.get('HostConfig') or {}).get('PortBindings') or {}
    published = next(((_any_address(b.get('HostIp')), int(b['HostPort']))
                      for found in bindings.values() for b in found or () if b.get('HostPort')), None)
    return dict(name=container['Name'].lstrip('/'), id=container['Id'], slot=int(labels.get(SLOT_LABEL, -1)),
                hash=labels.get(HASH_LABEL), version=labels.get(VERSION_LABEL),
                running=bool(state.get('Running')), health=health, published=published)


def _any_address(address):
    """Docker writes "publish on every address" as an empty HostIp or 0.0.0.0."""
    return address or '0.0.0.0'


def moved(replicas, address, port_start):
    """The replicas as the planner must see them: one published elsewhere is out of date.

    A replica published on another address, or on another port than
    ``port_start + slot``, gets no config hash, so it is replaced like one
    with an old spec. Replicas that publish nothing (host networking) are
    left alone.
    """
    return [dict(r, hash=None) if r['published'] and r['published'] != (_any_address(address), port_start + r['slot'])
            else r for r in replicas]


def plan_rollout(replicas, desired_hash, count, retire=True):
    """Decide the rollout from the current replicas (``replica_view`` dicts).

    Returns a dict: ``keep`` (current, serving), ``scale_down`` (current
    replicas beyond ``count``), ``stale`` (old config, serving: retired one
    batch at a time), ``remove`` (stopped, or unhealthy by Docker's
    healthcheck: replaced), ``start`` (how many new replicas) and ``changed``.
    """
    serving = [r for r in replicas if r['running'] and r['health'] != 'unhealthy']
    current = sorted((r for r in serving if r['hash'] == desired_hash), key=lambda r: r['slot'])
    stale = sorted((r for r in serving if r['hash'] != desired_hash), key=lambda r: r['slot'])
    remove = [r for r in replicas if r not in serving]
    keep, scale_down = current[:count], current[count:]
    start = count - len(keep)
    changed = bool(scale_down or remove or start or (stale and retire))
    return dict(keep=keep, scale_down=scale_down, stale=stale, remove=remove, start=start, changed=changed)


def _why_replaced(replica):
    return 'unhealthy' if replica['running'] else 'not running'


def free_slots(taken, how_many):
    """The ``how_many`` lowest slot numbers not in ``taken``."""
    slots, slot = [], 0
    while len(slots) < how_many:
        if slot not in taken:
            slots.append(slot)
        slot += 1
    return slots


# Effects -------------------------------------------------------------------
def http_ready(address, port, path, timeout=2.0, scheme='http'):
    """(ready, detail) from one GET of the readiness path.

    Over C(https) the replica's certificate is not verified, as the kubelet
    does not verify it for an HTTPS probe: the probe asks whether the replica
    answers, the clients that use it verify who it is.
    """
    host = '127.0.0.1' if address in ('0.0.0.0', '') else address
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    try:
        with open_url('%s://%s:%d%s' % (scheme, host, port, path), timeout=timeout, use_proxy=False,
                      validate_certs=False) as response:
            return response.status == 200, 'HTTP %d' % response.status
    except HTTPError as exc:
        return False, 'HTTP %d' % exc.code
    except (URLError, OSError) as exc:
        return False, str(getattr(exc, 'reason', exc))


class Deployer:
    """Carries out a service rollout on one Docker host."""

    def __init__(self, client, params, probe=http_ready, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.params = params
        self.name = params['name']
        self.probe = probe
        self.clock = clock
        self.sleep = sleep
        self.actions = []

    # Reading ---------------------------------------------------------------
    def replicas(self):
        return [replica_view(c) for c in self.client.containers({SERVICE_LABEL: self.name})]

    def port_of(self, slot):
        return int(self.params['published_port_start']) + slot

    def endpoint(self, replica):
        return dict(name=replica['name'], address=self.params['bind_address'], port=self.port_of(replica['slot']),
                    version=replica['version'], slot=replica['slot'], container_id=replica['id'][:12])

    def image(self, check_mode=False):
        """The local id and the user of the image; in check mode a missing one (built by an earlier task) is a change."""
        image = self.client.image(self.params['image'])
        if image is None and check_mode:
            self.actions.append('image %s is not built yet' % self.params['image'])
            return 'not built yet', None
        if image is None:
            raise DeployError('image %s does not exist on this host; build it first (lepton.aiops.image_build)'
                              % self.params['image'])
        return image['Id'], (image.get('Config') or {}).get('User') or ''

    # The four beats ----------------------------------------------------------
    def run(self, check_mode=False):
        if check_mode:
            return self.reconcile(check_mode=True)
        state_dir = self.params.get('state_dir') or DEFAULT_STATE_DIR
        with contextlib.ExitStack() as held:
            with self.record_errors(state_dir):
                held.enter_context(service_lock(state_dir, self.name))
            result = self.reconcile(check_mode=False)
            with self.record_errors(state_dir):
                if self.params['state'] == 'absent':
                    remove_record(state_dir, self.name)
                else:
                    write_record(state_dir, self.name, dict(
                        service=self.name, config_hash=result['diff']['after']['config_hash'],
                        slots=sorted(e['slot'] for e in result['endpoints']), self_heal=self.params['self_heal']))
        return result

    @staticmethod
    @contextlib.contextmanager
    def record_errors(state_dir):
        """Turn a failure to lock or record into a DeployError that says what to do."""
        try:
            yield
        except OSError as exc:
            raise DeployError('cannot keep the service record in %s (%s); point state_dir at a directory '
                              'this user can write' % (state_dir, exc)) from exc

    def reconcile(self, check_mode):
        replicas = self.replicas()
        before = self.summary(replicas)
        if self.params['state'] == 'absent':
            changed = bool(replicas)
            if changed and not check_mode:
                for replica in replicas:
                    self.retire(replica, remove=True)
            return dict(changed=changed, endpoints=[], retiring=[], actions=self.actions,
                        diff=dict(before=before, after={}))
        spec = desired_spec(self.params, *self.image(check_mode))
        replicas = moved(replicas, self.params['bind_address'], int(self.params['published_port_start']))
        plan = plan_rollout(replicas, spec['hash'], int(self.params['replicas']), self.params['retire'])
        after = dict(image=spec['image'], version=spec['version'], replicas=int(self.params['replicas']),
                     config_hash=spec['hash'])
        if check_mode or not plan['changed']:
            if plan['changed']:
                self.describe(plan)
            serving = plan['keep'] + (plan['stale'] if check_mode else [])
            return dict(changed=plan['changed'], endpoints=[self.endpoint(r) for r in sorted(serving, key=lambda r: r['slot'])],
                        retiring=[] if plan['changed'] or self.params['retire'] else
                        [self.endpoint(r) for r in plan['stale']],
                        actions=self.actions, diff=dict(before=before, after=after))
        endpoints, retiring = self.rollout(spec, plan)
        return dict(changed=True, endpoints=endpoints, retiring=retiring, actions=self.actions,
                    diff=dict(before=before, after=after))

    def summary(self, replicas):
        if not replicas:
            return {}
        return dict(replicas=len([r for r in replicas if r['running']]),
                    versions=sorted(set(r['version'] or '' for r in replicas)),
                    containers=sorted(r['name'] for r in replicas))

    def describe(self, plan):
        self.actions.extend('remove %s (%s)' % (r['name'], _why_replaced(r)) for r in plan['remove'])
        self.actions.extend('scale down %s' % r['name'] for r in plan['scale_down'])
        if plan['start']:
            self.actions.append('start %d new replica(s)' % plan['start'])
        if plan['stale'] and self.params['retire']:
            self.actions.append('retire %d old replica(s): %s' % (len(plan['stale']),
                                                                  ', '.join(r['name'] for r in plan['stale'])))

    # Rollout -------------------------------------------------------------------
    def rollout(self, spec, plan):
        for replica in plan['remove']:
            self.actions.append('remove %s (%s)' % (replica['name'], _why_replaced(replica)))
            if replica['running']:   # unhealthy: it still drains like any replica
                self.client.stop_container(replica['name'], int(self.params['stop_timeout']))
            self.client.remove_container(replica['name'])
        for replica in plan['scale_down']:
            self.retire(replica, remove=True)
        kept = list(plan['keep'])
        stale = list(plan['stale'])
        retired, started = [], []
        taken = set(r['slot'] for r in kept + stale)
        batch = max(1, int(self.params['batch_size']))
        remaining = plan['start']
        while remaining > 0:
            slots = free_slots(taken, min(batch, remaining))
            fresh = [self.start(spec, slot) for slot in slots]
            taken.update(slots)
            started.extend(fresh)
            failure = self.wait_ready(fresh)
            if failure and self.params['rollback']:
                raise DeployError('rollout of %s to %s rolled back, the previous replicas keep serving: %s'
                                  % (self.name, spec['version'], failure), self.roll_back(started, retired))
            if failure:
                raise DeployError('rollout of %s to %s stopped: %s' % (self.name, spec['version'], failure),
                                  self.roll_back(fresh, []))
            remaining -= len(fresh)
            if self.params['retire']:
                for replica in stale[:len(fresh)]:
                    self.retire(replica, remove=False)
                    retired.append(replica)
                stale = stale[len(fresh):]
        if self.params['retire']:
            for replica in stale:  # more old replicas than wanted new ones
                self.retire(replica, remove=False)
                retired.append(replica)
            stale = []
        for replica in retired:
            self.client.remove_container(replica['name'])
        endpoints = [self.endpoint(r) for r in sorted(kept + started, key=lambda r: r['slot'])]
        return endpoints, [self.endpoint(r) for r in stale]

    def start(self, spec, slot):
        name = '%s-%d' % (self.name, slot)
        self.client.remove_container(name)
        labels = dict(spec['labels'])
        labels.update({SERVICE_LABEL: self.name, VERSION_LABEL: spec['version'], SLOT_LABEL: str(slot),
                       HASH_LABEL: spec['hash']})
        host_config = dict(spec['host_config'])
        if 'device_requests' in host_config:
            host_config['device_requests'] = [DeviceRequest(driver=d['Driver'], count=d['Count'],
                                                            capabilities=d['Capabilities'])
                                              for d in host_config['device_requests']]
        port = self.port_of(slot)
        if host_config.get('network_mode') != 'host':
            host_config['port_bindings'] = {spec['container_port']: (self.params['bind_address'], port)}
        env = dict(spec['environment'])
        if host_config.get('network_mode') == 'host':
            env.setdefault('PORT', str(port))
        container_id = self.client.run_container(
            name, spec['image_id'], command=spec['command'], environment=env, labels=labels,
            ports=[spec['container_port']], host_config=host_config, healthcheck=spec['healthcheck'],
            user=spec['user'])
        self.actions.append('started %s (%s, port %d)' % (name, spec['version'], port))
        return dict(name=name, id=container_id, slot=slot, hash=spec['hash'], version=spec['version'],
                    running=True, health=None)

    def wait_ready(self, replicas):
        """None when every replica is ready in time, else why not."""
        deadline = self.clock() + float(self.params['health_timeout'])
        path = self.params.get('readiness_path')
        pending = dict((r['name'], r) for r in replicas)
        detail = {}
        while pending:
            for name, replica in list(pending.items()):
                data = self.client.inspect_container(name)
                state = (data or {}).get('State') or {}
                health = (state.get('Health') or {}).get('Status')
                if not state.get('Running'):
                    detail[name] = 'exited with code %s' % state.get('ExitCode')
                    continue
                if health == 'unhealthy':
                    log = ((state.get('Health') or {}).get('Log') or [{}])[-1].get('Output', '').strip()
                    detail[name] = 'Docker healthcheck unhealthy%s' % (': ' + log[:200] if log else '')
                    continue
                if path:
                    ready, detail[name] = self.probe(self.params['bind_address'], self.port_of(replica['slot']), path,
                                                     scheme=self.params.get('readiness_scheme') or 'http')
                else:
                    ready = health in (None, 'healthy')
                    detail[name] = 'Docker health %s' % health
                if ready:
                    del pending[name]
            if pending and self.clock() >= deadline:
                return ('replica(s) %s did not become ready within %ss: %s' % (
                    ', '.join(sorted(pending)), self.params['health_timeout'],
                    '; '.join('%s: %s' % (n, detail.get(n, 'no answer')) for n in sorted(pending))))
            if pending:
                self.sleep(0.25)
        return None

    def retire(self, replica, remove):
        """Stop a replica gracefully (its drain period included); remove it if asked."""
        self.client.stop_container(replica['name'], int(self.params['stop_timeout']))
        if remove:
            self.client.remove_container(replica['name'])
        self.actions.append('%s %s' % ('removed' if remove else 'retired', replica['name']))

    def roll_back(self, started, retired):
        """Remove the new replicas and bring the retired ones back."""
        for replica in started:
            self.client.remove_container(replica['name'])
        self.actions.append('rolled back: removed %s' % ', '.join(r['name'] for r in started))
        restarted = []
        for replica in retired:
            try:
                self.client.api.start(replica['name'])
                restarted.append(replica)
            except Exception as exc:  # pylint: disable=broad-except
                self.actions.append('could not restart %s: %s' % (replica['name'], exc))
        if restarted:
            self.wait_ready(restarted)
            self.actions.append('restarted %s' % ', '.join(r['name'] for r in restarted))
        current = [r for r in self.replicas() if r['running']]
        return dict(changed=True, rolled_back=bool(self.params['rollback']), actions=self.actions,
                    endpoints=[self.endpoint(r) for r in sorted(current, key=lambda r: r['slot'])])


DEPLOY_ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    image=dict(type='str'),
    version=dict(type='str'),
    replicas=dict(type='int', default=1),
    bind_address=dict(type='str', default='127.0.0.1'),
    published_port_start=dict(type='int', default=18080),
    container_port=dict(type='int', default=8000),
    command=dict(type='list', elements='str'),
    env=dict(type='dict', default={}),
    labels=dict(type='dict', default={}),
    cpus=dict(type='float'),
    memory=dict(type='str'),
    gpus=dict(type='str'),
    readiness_path=dict(type='str', default='/readyz'),
    readiness_scheme=dict(type='str', choices=['http', 'https'], default='http'),
    health_timeout=dict(type='float', default=60),
    batch_size=dict(type='int', default=1),
    rollback=dict(type='bool', default=True),
    retire=dict(type='bool', default=True),
    stop_timeout=dict(type='int', default=15),
    self_heal=dict(type='bool', default=True),
    state_dir=dict(type='path', default=DEFAULT_STATE_DIR),
    restart_policy=dict(type='str', choices=['no', 'on-failure', 'always', 'unless-stopped'], default='unless-stopped'),
    network=dict(type='str'),
    user=dict(type='str'),
    tmpfs=dict(type='dict', default={'/tmp': 'size=64m'}),
    volumes=dict(type='list', elements='str', default=[]),
    security_opts=dict(type='list', elements='str', default=['no-new-privileges']),
    **CONTAINER_ARGUMENT_SPEC
)
