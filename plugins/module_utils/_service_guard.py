# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service records, and the guard that keeps recorded replicas running.

PRIVATE to the lepton.aiops collection.

Docker's restart policy brings back a replica that crashes, but not one
stopped by ``docker kill`` or ``docker stop``: the engine counts both as a
manual stop and leaves the container down. The service guard closes that gap
without a human.

The contract between ``service_deploy`` and the guard is two files per
service in a state directory on the Docker host:

``<state_dir>/<service>.json``
    written by ``service_deploy`` after every successful run, for example
    ``{"service": "inference", "config_hash": "3f...", "slots": [0, 1, 2],
    "self_heal": true}``: the slots that should run and the container spec
    hash they should have.
``<state_dir>/<service>.lock``
    ``service_deploy`` holds an exclusive ``flock`` on it while it changes
    containers, so the guard never undoes a rollout, a scale-down or a
    rollback in progress.

The guard (role ``lepton.aiops.service_guard`` runs this file as a program,
in a container with the Docker socket) follows Docker's container ``die``
events and also looks at every recorded service every ``--period`` seconds.
For a service with ``self_heal`` it takes the lock without waiting (when a
rollout holds it, it tries again later) and starts each stopped container
whose slot the record lists and whose ``lepton.config-hash`` label matches.
It never creates containers: a replica that was removed comes back with the
next ``service_deploy`` run, which has its whole spec.

Standard library only; the program needs the Docker SDK.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sys
import tempfile
import time

SERVICE_LABEL = 'lepton.service'
SLOT_LABEL = 'lepton.slot'
HASH_LABEL = 'lepton.config-hash'
DEFAULT_STATE_DIR = '/var/lib/lepton/services'
#: Container states from which ``docker start`` brings a replica back.
STOPPED_STATES = ('exited', 'created')


class ServiceBusy(Exception):
    """Another process holds the service's lock (a rollout is in progress)."""


def record_path(state_dir, name):
    return os.path.join(state_dir, '%s.json' % name)


@contextlib.contextmanager
def service_lock(state_dir, name, wait=True):
    """Hold the service's exclusive lock; raise ServiceBusy when ``wait`` is false and it is taken."""
    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    fd = os.open(os.path.join(state_dir, '%s.lock' % name), os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise ServiceBusy(name) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def read_record(state_dir, name):
    """The service's record, or None when there is none (or it is unreadable)."""
    try:
        with open(record_path(state_dir, name), encoding='utf-8') as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(state_dir, name, record):
    """Write the record atomically; return whether it changed."""
    if read_record(state_dir, name) == record:
        return False
    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix='.%s.' % name)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            json.dump(record, handle, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, record_path(state_dir, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def remove_record(state_dir, name):
    """Forget the service; return whether there was a record."""
    try:
        os.unlink(record_path(state_dir, name))
    except FileNotFoundError:
        return False
    return True


def recorded_services(state_dir):
    try:
        names = os.listdir(state_dir)
    except FileNotFoundError:
        return []
    return sorted(n[:-len('.json')] for n in names if n.endswith('.json') and not n.startswith('.'))


def replicas_to_start(record, containers):
    """Names of the stopped containers the record says should run.

    ``containers`` are entries of Docker's container list (``Names``,
    ``Labels``, ``State``). Only the recorded slots with the recorded config
    hash count: an old version left behind (``retire: false``) stays down.

    >>> record = {'config_hash': 'h1', 'slots': [0, 1], 'self_heal': True}
    >>> def c(slot, state, hash_='h1'):
    ...     return {'Names': ['/svc-%d' % slot], 'State': state,
    ...             'Labels': {'lepton.slot': str(slot), 'lepton.config-hash': hash_}}
    >>> replicas_to_start(record, [c(0, 'running'), c(1, 'exited'), c(2, 'exited'), c(1, 'exited', 'h0')])
    ['svc-1']
    """
    if not record or not record.get('self_heal', True):
        return []
    slots = set(str(s) for s in record.get('slots') or [])
    names = []
    for container in containers:
        labels = container.get('Labels') or {}
        if (container.get('State') in STOPPED_STATES and labels.get(SLOT_LABEL) in slots
                and labels.get(HASH_LABEL) == record.get('config_hash')):
            names.append(container['Names'][0].lstrip('/'))
    return sorted(names)


class Guard:
    """Starts recorded replicas that stopped outside a rollout.

    ``client`` is a ``docker.APIClient`` (or anything with its ``containers``,
    ``start`` and ``events`` methods).
    """

    def __init__(self, client, state_dir, log=None, clock=time.time):
        self.client = client
        self.state_dir = state_dir
        self.log = log or write_line
        self.clock = clock

    def heal(self, name):
        """Start the service's stopped replicas; return their names. Raises ServiceBusy."""
        with service_lock(self.state_dir, name, wait=False):
            record = read_record(self.state_dir, name)
            if not record or not record.get('self_heal', True):
                return []
            containers = self.client.containers(all=True, filters={'label': ['%s=%s' % (SERVICE_LABEL, name)]})
            started = []
            for container in replicas_to_start(record, containers):
                try:
                    self.client.start(container)
                except Exception as exc:  # pylint: disable=broad-except
                    self.log('%s: could not start %s: %s' % (name, container, exc))
                    continue
                self.log('%s: started %s, which had stopped outside a rollout' % (name, container))
                started.append(container)
            return started

    def sweep(self, names):
        """Heal each service; return the ones whose lock was taken (the next sweep tries them again)."""
        busy = set()
        for name in sorted(names):
            try:
                self.heal(name)
            except ServiceBusy:
                busy.add(name)
        return busy

    def run(self, period=2, rounds=None):
        """Sweep every recorded service, then follow die events for ``period`` seconds; repeat."""
        events = {'type': 'container', 'event': 'die', 'label': SERVICE_LABEL}
        since = int(self.clock())
        count = 0
        while rounds is None or count < rounds:
            count += 1
            self.sweep(recorded_services(self.state_dir))
            until = since + max(1, int(round(period)))  # the events API counts whole seconds
            for event in self.client.events(since=since, until=until, decode=True, filters=events):
                name = ((event.get('Actor') or {}).get('Attributes') or {}).get(SERVICE_LABEL)
                if name:
                    self.sweep([name])
            since = until


def write_line(line):
    """The guard's log: one line to standard output, at once (``docker logs`` shows it)."""
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Start lepton.aiops replicas that stopped outside a rollout.')
    parser.add_argument('--state-dir', default=os.environ.get('LEPTON_STATE_DIR', DEFAULT_STATE_DIR))
    parser.add_argument('--period', type=int, default=2, help='seconds between sweeps of every service')
    args = parser.parse_args(argv)
    import docker  # pylint: disable=import-outside-toplevel
    client = docker.APIClient(base_url=os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock'))
    write_line('lepton service guard: watching %s every %ss' % (args.state_dir, args.period))
    Guard(client, args.state_dir).run(args.period)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
