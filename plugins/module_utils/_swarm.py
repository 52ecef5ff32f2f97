# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replicated Docker Swarm services: spec (pure), comparison (pure), effects.

PRIVATE to the lepton.aiops collection: no compatibility promise for code
outside it.

The module's options become one Swarm service spec in the Engine API's own
shape (``build_spec``). ``managed_view`` reads back only the fields this
module manages, from the desired spec and from the spec Docker stores alike,
so comparing the two views tells what would change and gives the diff.

Swarm rolls the tasks itself (update order, failure action, rollback). A task
of the current spec carries the label ``lepton.spec-hash``; the service has
converged when exactly ``replicas`` tasks with that hash run (Swarm only
reports a task with a healthcheck as running once it is healthy). When an
update fails, Swarm restores the previous spec and reports the update state
``rollback_completed``; ``interpret`` turns that into a failure with the
reason.
"""
from __future__ import annotations

import hashlib
import json
import time

from ansible_collections.lepton.aiops.plugins.module_utils._deploy import (
    SERVICE_LABEL, VERSION_LABEL, parse_memory, version_of)
from ansible_collections.lepton.aiops.plugins.module_utils._docker import (
    CONTAINER_ARGUMENT_SPEC, APIError, DockerError, DockerException, NotFound, healthcheck_config, nanoseconds, run_as)

IMAGE_LABEL = 'lepton.image'
HASH_LABEL = 'lepton.spec-hash'
INTERNAL_LABELS = (SERVICE_LABEL, VERSION_LABEL, IMAGE_LABEL, HASH_LABEL)


class SwarmError(DockerError):
    """A Swarm operation failed; ``result`` carries what was done (a rollback included)."""


# Pure: the desired spec ----------------------------------------------------
def _compact(data):
    return dict((k, v) for k, v in data.items() if v is not None)


def _flow(config):
    """UpdateConfig / RollbackConfig in the Engine API's shape from the option dict."""
    config = config or {}
    return _compact(dict(Parallelism=config.get('parallelism'), Delay=nanoseconds(config.get('delay')),
                         FailureAction=config.get('failure_action'), Monitor=nanoseconds(config.get('monitor')),
                         MaxFailureRatio=config.get('max_failure_ratio'), Order=config.get('order')))


def build_spec(params, image, image_user=None):
    """The service spec (Engine API shape) for the options in ``params``.

    ``image`` is what the tasks run: the local image id when the image is
    pinned, else the reference as given; ``image_user`` is the user the image
    runs as, when the image is on this node (see ``run_as``). Pure: same
    inputs, same spec.
    """
    version = version_of(params['image'], params.get('version'))
    labels = dict((k, str(v)) for k, v in (params.get('labels') or {}).items())
    container_labels = dict(labels)
    container_labels.update({SERVICE_LABEL: params['name'], VERSION_LABEL: version, IMAGE_LABEL: params['image']})
    mounts = [dict(Type='tmpfs', Target=path, TmpfsOptions=_compact(dict(SizeBytes=tmpfs_size(options))))
              for path, options in sorted((params.get('tmpfs') or {}).items())]
    healthcheck = healthcheck_config(params.get('healthcheck'))
    if healthcheck:  # the Engine API's spelling of the keys
        healthcheck = dict((key.title().replace('_', ''), value) for key, value in healthcheck.items())
    container = _compact(dict(
        Image=image,
        Args=list(params['command']) if params.get('command') else None,
        Env=['%s=%s' % (k, v) for k, v in sorted((params.get('env') or {}).items())] or None,
        Labels=container_labels,
        User=run_as(params.get('user'), image_user),
        ReadOnly=bool(params.get('read_only')),
        Mounts=mounts or None,
        CapabilityDrop=list(params.get('cap_drop') or []) or None,
        CapabilityAdd=list(params.get('cap_add') or []) or None,
        StopGracePeriod=nanoseconds(params.get('stop_grace_period')),
        Healthcheck=healthcheck,
    ))
    limits = _compact(dict(NanoCPUs=nanoseconds(params['cpus']) if params.get('cpus') else None,
                           MemoryBytes=parse_memory(params.get('memory'))))
    task = dict(ContainerSpec=container, RestartPolicy=dict(Condition='any'))
    if limits:
        task['Resources'] = dict(Limits=limits)
    if params.get('networks'):
        task['Networks'] = [dict(Target=n) for n in params['networks']]
    endpoint = dict(Mode=params.get('endpoint_mode') or 'dnsrr')
    if params.get('published_port') is not None:
        port = dict(Protocol='tcp', TargetPort=int(params['container_port']), PublishMode='host')
        if params['published_port']:
            port['PublishedPort'] = int(params['published_port'])
        endpoint['Ports'] = [port]
    spec = dict(Name=params['name'], Labels=labels, TaskTemplate=task,
                Mode=dict(Replicated=dict(Replicas=int(params['replicas']))),
                UpdateConfig=_flow(params.get('update_config')),
                RollbackConfig=_flow(params.get('rollback_config')),
                EndpointSpec=endpoint)
    container['Labels'][HASH_LABEL] = spec_hash(managed_view(spec))
    return spec


def tmpfs_size(options):
    """Bytes from tmpfs options such as ``size=64m`` (other options are not supported by Swarm)."""
    for option in str(options or '').split(','):
        key, value = (option.split('=', 1) + [''])[:2]
        if key.strip() == 'size':
            return parse_memory(value)
    return None


# Pure: reading a spec back ----------------------------------------------------
def managed_view(spec, network_names=None):
    """The fields of a service spec this module manages, as plain comparable data.

    Works on the spec from ``build_spec`` and on the one Docker returns
    (``network_names`` maps network ids, which Docker stores, to names).
    """
    network_names = network_names or {}
    task = spec.get('TaskTemplate') or {}
    container = task.get('ContainerSpec') or {}
    labels = container.get('Labels') or {}
    limits = (task.get('Resources') or {}).get('Limits') or {}
    endpoint = spec.get('EndpointSpec') or {}
    hc = container.get('Healthcheck')
    view = dict(
        image=labels.get(IMAGE_LABEL, container.get('Image')),
        image_ref=container.get('Image'),
        version=labels.get(VERSION_LABEL),
        command=container.get('Args'),
        env=dict(e.split('=', 1) if '=' in e else (e, '') for e in container.get('Env') or []),
        labels=dict(spec.get('Labels') or {}),
        container_labels=dict((k, v) for k, v in labels.items() if k not in INTERNAL_LABELS),
        user=container.get('User') or None,
        read_only=bool(container.get('ReadOnly')),
        tmpfs=dict((m.get('Target'), (m.get('TmpfsOptions') or {}).get('SizeBytes'))
                   for m in container.get('Mounts') or [] if m.get('Type') == 'tmpfs'),
        cap_drop=sorted(container.get('CapabilityDrop') or []),
        cap_add=sorted(container.get('CapabilityAdd') or []),
        stop_grace_period=container.get('StopGracePeriod'),
        healthcheck=_compact(dict(test=hc.get('Test'), interval=hc.get('Interval'), timeout=hc.get('Timeout'),
                                  retries=hc.get('Retries'), start_period=hc.get('StartPeriod'))) if hc else None,
        nano_cpus=limits.get('NanoCPUs') or None,
        memory_bytes=limits.get('MemoryBytes') or None,
        networks=sorted(network_names.get(n.get('Target'), n.get('Target')) for n in task.get('Networks') or []),
        endpoint_mode=endpoint.get('Mode') or 'vip',
        ports=sorted((dict(target=p.get('TargetPort'), published=p.get('PublishedPort') or 0,
                           mode=p.get('PublishMode') or 'ingress', protocol=p.get('Protocol') or 'tcp')
                      for p in endpoint.get('Ports') or []), key=lambda p: (p['target'], p['published'])),
        replicas=((spec.get('Mode') or {}).get('Replicated') or {}).get('Replicas'),
        update_config=_flow_view(spec.get('UpdateConfig')),
        rollback_config=_flow_view(spec.get('RollbackConfig')),
    )
    return view


def _flow_view(config):
    config = config or {}
    return dict(parallelism=config.get('Parallelism', 1), delay=config.get('Delay') or 0,
                failure_action=config.get('FailureAction') or 'pause', monitor=config.get('Monitor') or 0,
                max_failure_ratio=config.get('MaxFailureRatio') or 0, order=config.get('Order') or 'stop-first')


# The fields that make Swarm replace the tasks; the others (replicas, update
# and rollback config, service labels) change the service without new tasks.
TASK_FIELDS = ('image', 'image_ref', 'version', 'command', 'env', 'container_labels', 'user', 'read_only', 'tmpfs',
               'cap_drop', 'cap_add', 'stop_grace_period', 'healthcheck', 'nano_cpus', 'memory_bytes',
               'networks', 'endpoint_mode', 'ports')


def spec_hash(view):
    """A short hash of the task-level fields of a view: tasks with it run the current spec."""
    task = dict((k, view.get(k)) for k in TASK_FIELDS)
    return hashlib.sha256(json.dumps(task, sort_keys=True).encode()).hexdigest()[:16]


def compare(current, desired):
    """(changed, changed field names) between two views; ``current`` None means absent."""
    if current is None:
        return True, sorted(desired)
    fields = sorted(k for k in desired if current.get(k) != desired.get(k))
    return bool(fields), fields


# Pure: tasks and convergence ------------------------------------------------------
def task_view(task, node_names=None):
    """The facts a user wants about one task."""
    status = task.get('Status') or {}
    labels = ((task.get('Spec') or {}).get('ContainerSpec') or {}).get('Labels') or {}
    ports = sorted(set(p.get('PublishedPort') for p in (status.get('PortStatus') or {}).get('Ports') or []
                       if p.get('PublishedPort')))
    container_id = (status.get('ContainerStatus') or {}).get('ContainerID') or ''
    return dict(id=task.get('ID'), slot=task.get('Slot'), state=status.get('State'), created=task.get('CreatedAt'),
                desired_state=task.get('DesiredState'), node=(node_names or {}).get(task.get('NodeID'), task.get('NodeID')),
                container_id=container_id[:12], version=labels.get(VERSION_LABEL), spec_hash=labels.get(HASH_LABEL),
                published_ports=ports, message=status.get('Err') or status.get('Message') or '')


def recent_tasks(service, tasks, desired_hash):
    """The tasks of the desired spec created by the update Swarm reports on (all of them without one)."""
    started = ((service or {}).get('UpdateStatus') or {}).get('StartedAt') or ''
    return [t for t in tasks if t['spec_hash'] == desired_hash and (t.get('created') or '') >= started]


def interpret(service, tasks, desired_hash, replicas):
    """Where a service stands after an update: (verdict, detail).

    ``tasks`` are ``task_view`` dicts. Verdicts: ``converged`` (``replicas``
    tasks of the desired spec run, no other task should), ``rolled_back``
    (Swarm restored the previous spec), ``paused`` (the update stopped, by
    ``failure_action: pause``), else ``pending``.
    """
    update = (service or {}).get('UpdateStatus') or {}
    state = update.get('State')
    message = update.get('Message') or ''
    failed = ['task %s (slot %s): %s %s' % (t['id'][:12], t['slot'], t['state'], t['message'])
              for t in recent_tasks(service, tasks, desired_hash) if t['state'] in ('failed', 'rejected', 'complete')]
    reason = '; '.join([message] + failed[:3]) if message else '; '.join(failed[:3])
    if state == 'rollback_completed':
        return 'rolled_back', reason
    if state in ('paused', 'rollback_paused'):
        return 'paused', reason
    if state in ('updating', 'rollback_started'):
        return 'pending', message
    should_run = [t for t in tasks if t['desired_state'] == 'running']
    current = [t for t in should_run if t['spec_hash'] == desired_hash and t['state'] == 'running']
    if len(current) == replicas and len(should_run) == replicas:
        return 'converged', ''
    waiting = [t for t in should_run if t not in current]
    return 'pending', '%d of %d tasks of the current spec run%s' % (
        len(current), replicas, ''.join('; task %s (slot %s): %s %s' % (t['id'][:12], t['slot'], t['state'],
                                                                        t['message']) for t in waiting[:3]))


# Effects -----------------------------------------------------------------------
class SwarmClient:
    """The Swarm calls of the Engine API, by composition around DockerClient."""

    def __init__(self, docker_client):
        self.docker = docker_client
        self.api = docker_client.api

    def require_manager(self):
        """Fail with what to do unless this Engine is a Swarm manager."""
        try:
            info = self.api.info()
        except DockerException as exc:
            raise SwarmError('cannot read the Docker Engine info: %s' % exc) from exc
        swarm = info.get('Swarm') or {}
        if swarm.get('LocalNodeState') != 'active':
            hint = ''
            if info.get('LiveRestoreEnabled'):
                hint = ' (Swarm mode also needs live-restore disabled in the daemon configuration)'
            raise SwarmError('this Docker Engine is not part of a swarm (state %s); run `docker swarm init` on it, '
                             'or `docker swarm join` it to a swarm as a manager, first%s'
                             % (swarm.get('LocalNodeState') or 'unknown', hint))
        if not swarm.get('ControlAvailable'):
            raise SwarmError('this Docker Engine is a swarm worker, not a manager; run the task against a manager '
                             'node (`docker node ls` on a manager lists them)')

    def local_image(self, ref):
        """``(id, user)`` of the image on this node, ``(None, None)`` when it is not here."""
        image = self.docker.image(ref)
        return (image['Id'], (image.get('Config') or {}).get('User') or '') if image else (None, None)

    def containers(self, service_id):
        """The containers of a service's tasks on this node."""
        return self.docker.containers({'com.docker.swarm.service.id': service_id})

    def container(self, container_id):
        """Inspect data of a task's container when it is on this node, else None."""
        return self.docker.inspect_container(container_id)

    def service(self, name):
        try:
            return self.api.inspect_service(name)
        except NotFound:
            return None
        except DockerException as exc:
            raise SwarmError('cannot inspect service %s: %s' % (name, exc)) from exc

    def network_names(self):
        """Network id -> name, for every network this manager knows."""
        try:
            return dict((n['Id'], n['Name']) for n in self.api.networks())
        except DockerException as exc:
            raise SwarmError('cannot list networks: %s' % exc) from exc

    def swarm_networks(self):
        """Names of the networks Swarm services can attach to (swarm scope)."""
        try:
            return set(n['Name'] for n in self.api.networks() if n.get('Scope') == 'swarm')
        except DockerException as exc:
            raise SwarmError('cannot list networks: %s' % exc) from exc

    def ready_nodes(self):
        try:
            return [n for n in self.api.nodes() if (n.get('Status') or {}).get('State') == 'ready'
                    and (n.get('Spec') or {}).get('Availability') == 'active']
        except DockerException as exc:
            raise SwarmError('cannot list swarm nodes: %s' % exc) from exc

    def node_names(self):
        try:
            return dict((n['ID'], (n.get('Description') or {}).get('Hostname') or n['ID']) for n in self.api.nodes())
        except DockerException as exc:
            raise SwarmError('cannot list swarm nodes: %s' % exc) from exc

    def tasks(self, service_id):
        try:
            return self.api.tasks(filters={'service': service_id})
        except NotFound:
            return []
        except DockerException as exc:
            raise SwarmError('cannot list the tasks of service %s: %s' % (service_id, exc)) from exc

    def apply(self, spec, current=None):
        """Create the service, or update ``current`` to ``spec``; return the service id."""
        kwargs = dict(name=spec['Name'], labels=spec['Labels'], mode=spec['Mode'],
                      update_config=spec['UpdateConfig'], rollback_config=spec['RollbackConfig'],
                      endpoint_spec=spec['EndpointSpec'])
        try:
            if current is None:
                return self.api.create_service(spec['TaskTemplate'], **kwargs)['ID']
            task = dict(spec['TaskTemplate'])
            task['ForceUpdate'] = (current['Spec'].get('TaskTemplate') or {}).get('ForceUpdate', 0)
            self.api.update_service(current['ID'], current['Version']['Index'], task_template=task, **kwargs)
            return current['ID']
        except APIError as exc:
            verb = 'create' if current is None else 'update'
            raise SwarmError('cannot %s service %s: %s' % (verb, spec['Name'], exc.explanation or exc)) from exc
        except DockerException as exc:
            raise SwarmError('cannot apply service %s: %s' % (spec['Name'], exc)) from exc

    def remove(self, service_id):
        try:
            self.api.remove_service(service_id)
        except NotFound:
            pass
        except DockerException as exc:
            raise SwarmError('cannot remove service %s: %s' % (service_id, exc)) from exc


class SwarmService:
    """Brings one replicated Swarm service to the state the options describe."""

    def __init__(self, client, params, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.params = params
        self.name = params['name']
        self.clock = clock
        self.sleep = sleep

    def run(self, check_mode=False):
        self.client.require_manager()
        current = self.client.service(self.name)
        names = self.client.network_names() if current else {}
        before = managed_view(current['Spec'], names) if current else None
        if self.params['state'] == 'absent':
            return self.remove(current, before, check_mode)
        desired = build_spec(self.params, *self.image(check_mode))
        self.validate(desired)
        after = managed_view(desired)
        changed, fields = compare(before, after)
        result = dict(changed=changed, changed_fields=fields, rolled_back=False,
                      diff=dict(before=before or {}, after=after))
        if changed and not check_mode:
            service_id = self.client.apply(desired, current)
            if self.params['wait']:
                self.wait(service_id, after, result)
        elif current is None:  # check mode: nothing runs yet
            return dict(result, service=None, tasks=[])
        else:
            service_id = current['ID']
        return dict(result, **self.describe(service_id))

    def image(self, check_mode=False):
        """The image reference the tasks run (the local image id unless pinning is off) and its user.

        In check mode an image that is not built yet (an earlier task of the
        same play builds it) is a change, not an error.
        """
        ref = self.params['image']
        image_id, user = self.client.local_image(ref)
        if not self.params.get('pin_image', True):
            return ref, user
        if image_id is None and check_mode:
            return '%s (not built yet)' % ref, None
        if image_id is None:
            raise SwarmError('image %s does not exist on this Docker host; build it first (lepton.aiops.image_build) '
                             'or pull it, or set pin_image=false to let every node pull it from its registry' % ref)
        return image_id, user

    def validate(self, spec):
        missing = sorted(set(self.params.get('networks') or []) - self.client.swarm_networks())
        if missing:
            raise SwarmError('network(s) %s do not exist as swarm-scoped networks; create them first, for example '
                             '`docker network create --driver overlay --attachable %s`' % (', '.join(missing), missing[0]))
        port = self.params.get('published_port')
        if port:
            nodes = len(self.client.ready_nodes())
            replicas = int(self.params['replicas'])
            start_first = spec['UpdateConfig'].get('Order') == 'start-first'
            needed = replicas + 1 if start_first else replicas  # start-first runs one more task while it rolls
            if needed > nodes:
                raise SwarmError(
                    'published_port %d in host mode binds the port on the node, so a node runs at most one task of '
                    'the service: %d replica(s)%s need %d ready node(s) and the swarm has %d. Use published_port=0 '
                    '(a free port per task, see the returned tasks), fewer replicas, or update_config.order=stop-first'
                    % (port, replicas, ' with start-first updates' if start_first else '', needed, nodes))

    def remove(self, current, before, check_mode):
        if current and not check_mode:
            self.client.remove(current['ID'])
            if self.params['wait']:
                deadline = self.clock() + float(self.params['wait_timeout'])
                while self.client.containers(current['ID']) and self.clock() < deadline:
                    self.sleep(0.5)
        return dict(changed=bool(current), changed_fields=[], rolled_back=False, service=None, tasks=[],
                    diff=dict(before=before or {}, after={}))

    def describe(self, service_id):
        service = self.client.service(service_id) or {}
        nodes = self.client.node_names()
        tasks = [task_view(t, nodes) for t in self.client.tasks(service_id)]
        running = sorted((t for t in tasks if t['desired_state'] == 'running'), key=lambda t: (t['slot'] or 0, t['id']))
        return dict(service=dict(id=service.get('ID', service_id), name=self.name,
                                 version=(service.get('Version') or {}).get('Index'),
                                 update_status=service.get('UpdateStatus')),
                    tasks=running)

    def health_notes(self, tasks):
        """Why the containers of ``tasks`` were unhealthy, for those on this node."""
        notes = []
        for task in tasks:
            if not task['container_id']:
                continue
            health = ((self.client.container(task['container_id']) or {}).get('State') or {}).get('Health') or {}
            if health.get('Status') == 'unhealthy':
                output = ((health.get('Log') or [{}])[-1].get('Output') or '').strip().splitlines()
                notes.append('task %s: container unhealthy%s' % (task['id'][:12], (': ' + output[-1][:200]) if output else ''))
        return notes

    def wait(self, service_id, after, result):
        """Wait until the service converged; raise SwarmError when it rolled back, paused or timed out."""
        desired_hash = spec_hash(after)
        nodes = self.client.node_names()
        deadline = self.clock() + float(self.params['wait_timeout'])
        why = ''
        while True:
            service = self.client.service(service_id)
            tasks = [task_view(t, nodes) for t in self.client.tasks(service_id)]
            verdict, detail = interpret(service, tasks, desired_hash, int(self.params['replicas']))
            if verdict == 'converged':
                return
            if ((service or {}).get('UpdateStatus') or {}).get('State') == 'rollback_started':
                why = detail  # Swarm names the failed task only while it rolls back
            if verdict == 'rolled_back' and why and why not in detail:
                detail = '%s; %s' % (why, detail)
            if verdict in ('rolled_back', 'paused'):
                detail = '; '.join([detail] + self.health_notes(recent_tasks(service, tasks, desired_hash)))
            if verdict in ('rolled_back', 'paused') or self.clock() >= deadline:
                failure = dict(result, **self.describe(service_id))
                failure['rolled_back'] = verdict == 'rolled_back'
                failure.pop('diff', None)
                what = {'rolled_back': 'was rolled back by Swarm; the previous spec keeps running',
                        'paused': 'was paused by Swarm'}.get(verdict)
                what = what or 'did not converge within %ss' % self.params['wait_timeout']
                raise SwarmError('update of service %s to %s %s: %s' % (self.name, after['version'], what,
                                                                        detail or 'no detail from Swarm'), failure)
            self.sleep(1)


FLOW_OPTIONS = dict(
    parallelism=dict(type='int', default=1),
    delay=dict(type='float', default=0),
    failure_action=dict(type='str', choices=['continue', 'pause', 'rollback']),
    monitor=dict(type='float', default=5),
    max_failure_ratio=dict(type='float', default=0),
    order=dict(type='str', choices=['start-first', 'stop-first']),
)


def _flow_spec(failure_action, order):
    options = dict((k, dict(v)) for k, v in FLOW_OPTIONS.items())
    options['failure_action']['default'] = failure_action
    if failure_action != 'rollback':  # a rollback cannot itself roll back
        options['failure_action']['choices'] = ['continue', 'pause']
    options['order']['default'] = order
    return options


SWARM_ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    image=dict(type='str'),
    pin_image=dict(type='bool', default=True),
    version=dict(type='str'),
    replicas=dict(type='int', default=1),
    command=dict(type='list', elements='str'),
    env=dict(type='dict', default={}),
    labels=dict(type='dict', default={}),
    container_port=dict(type='int', default=8000),
    published_port=dict(type='int'),
    networks=dict(type='list', elements='str', default=[]),
    endpoint_mode=dict(type='str', choices=['dnsrr', 'vip'], default='dnsrr'),
    cpus=dict(type='float'),
    memory=dict(type='str'),
    user=dict(type='str'),
    tmpfs=dict(type='dict', default={'/tmp': 'size=64m'}),
    stop_grace_period=dict(type='float', default=15),
    update_config=dict(type='dict', apply_defaults=True, options=_flow_spec('rollback', 'start-first')),
    rollback_config=dict(type='dict', apply_defaults=True, options=_flow_spec('pause', 'stop-first')),
    wait=dict(type='bool', default=True),
    wait_timeout=dict(type='float', default=120),
    **CONTAINER_ARGUMENT_SPEC
)
