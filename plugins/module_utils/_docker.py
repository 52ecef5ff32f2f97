# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker Engine access for lepton.aiops modules.

PRIVATE to the lepton.aiops collection: no compatibility promise for code
outside it. A thin composition around the Docker SDK's low-level APIClient
that raises one error type, DockerError, with a message a user can act on.
"""
from __future__ import annotations

import json
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import docker
    from docker.errors import DockerException, NotFound, APIError
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):  # type: ignore[no-redef]
        """Placeholder so except clauses work without the SDK."""

    class NotFound(DockerException):  # type: ignore[no-redef]
        """Placeholder so except clauses work without the SDK."""

    class APIError(DockerException):  # type: ignore[no-redef]
        """Placeholder so except clauses work without the SDK."""


DOCKER_ARGUMENT_SPEC = dict(
    docker_host=dict(type='str'),
    timeout=dict(type='int', default=120),
)

#: The container options of the modules that run replicas (doc fragment ``lepton.aiops.docker.container``).
CONTAINER_ARGUMENT_SPEC = dict(
    healthcheck=dict(type='dict', options=dict(
        test=dict(type='list', elements='str', required=True),
        interval=dict(type='float'),
        timeout=dict(type='float'),
        retries=dict(type='int'),
        start_period=dict(type='float'),
    )),
    read_only=dict(type='bool', default=True),
    cap_drop=dict(type='list', elements='str', default=['ALL']),
    cap_add=dict(type='list', elements='str', default=[]),
)


# The user of a replica whose image runs as root and whose task names none.
NOBODY = '65534:65534'


def run_as(requested, image_user):
    """The user a replica runs as (``None``: the image's own).

    ``requested`` when given (C(root) included: an explicit choice);
    otherwise the image's user, unless the image runs as root (its
    ``Config.User`` is empty, ``root`` or ``0``), then :data:`NOBODY`.
    ``image_user`` is ``None`` when the image is not known here.

    >>> run_as(None, '10001'), run_as(None, ''), run_as(None, 'root:root'), run_as('0', ''), run_as(None, None)
    (None, '65534:65534', '65534:65534', '0', None)
    """
    if requested:
        return requested
    if image_user is not None and image_user.split(':')[0] in ('', 'root', '0'):
        return NOBODY
    return None


def nanoseconds(seconds):
    """Docker's durations are nanoseconds; None stays None."""
    return None if seconds is None else int(round(float(seconds) * 1e9))


def healthcheck_config(option):
    """The ``healthcheck`` option as Docker's healthcheck (durations in ns, unset keys left out), or None."""
    if not option:
        return None
    config = dict(test=list(option['test']), interval=nanoseconds(option.get('interval')),
                  timeout=nanoseconds(option.get('timeout')), retries=option.get('retries'),
                  start_period=nanoseconds(option.get('start_period')))
    return dict((k, v) for k, v in config.items() if v is not None)


class DockerError(Exception):
    """A Docker Engine operation failed; the message says what and why.

    ``result`` carries what was done before the failure (for example a
    rollback), reported beside the message.
    """

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result or {}


def run_docker_module(module, action):
    """The main() of every Docker module: connect, act, report.

    ``action(client, params, check_mode)`` returns the result dict with a
    ``diff`` entry (dropped unless --diff); a DockerError becomes fail_json.
    """
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib('docker'), exception=DOCKER_IMPORT_ERROR)
    params = dict((k, v) for k, v in module.params.items() if k not in DOCKER_ARGUMENT_SPEC)
    try:
        client = DockerClient(module.params['docker_host'], module.params['timeout'])
        result = action(client, params, module.check_mode)
    except (DockerError, OSError) as exc:
        module.fail_json(msg=str(exc), **getattr(exc, 'result', {}))
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


class DockerClient:
    """The few Docker Engine calls lepton.aiops needs, with clear errors."""

    def __init__(self, docker_host=None, timeout=120):
        try:
            if docker_host:
                self.api = docker.APIClient(base_url=docker_host, timeout=timeout)
            else:
                self.api = docker.from_env(timeout=timeout).api
            self.api.ping()
        except DockerException as exc:
            raise DockerError(
                'cannot reach the Docker Engine (%s): %s. Is dockerd running? '
                'The lepton.aiops.container_host role installs and starts it.'
                % (docker_host or 'DOCKER_HOST or the local socket', exc)) from exc

    # Images -----------------------------------------------------------
    def image(self, ref):
        """The inspect data of image ``ref``, or None when it does not exist."""
        try:
            return self.api.inspect_image(ref)
        except NotFound:
            return None
        except APIError as exc:
            raise DockerError('cannot inspect image %s: %s' % (ref, exc)) from exc

    def build(self, path, dockerfile, tag, buildargs, labels, nocache=False, pull=False, target=None):
        """Build an image with the legacy builder; return (image id, log lines)."""
        log = []
        image_id = None
        try:
            for chunk in self.api.build(path=path, dockerfile=dockerfile, tag=tag, buildargs=buildargs,
                                        labels=labels, nocache=nocache, pull=pull, rm=True,
                                        forcerm=True, target=target, decode=True):
                if 'stream' in chunk:
                    log.extend(line for line in chunk['stream'].splitlines() if line.strip())
                if 'aux' in chunk and 'ID' in chunk['aux']:
                    image_id = chunk['aux']['ID']
                if 'error' in chunk:
                    raise DockerError('docker build of %s failed: %s\n%s'
                                      % (tag, chunk['error'].strip(), '\n'.join(log[-20:])))
        except (DockerException, OSError) as exc:
            raise DockerError('docker build of %s failed: %s' % (tag, exc)) from exc
        if image_id is None:
            image_id = self.image(tag)['Id']
        return image_id, log

    def tag(self, image_id, ref):
        """Point ``ref`` (repository[:tag]) at ``image_id``."""
        repository, tag = split_ref(ref)
        try:
            self.api.tag(image_id, repository, tag, force=True)
        except DockerException as exc:
            raise DockerError('cannot tag %s as %s: %s' % (image_id, ref, exc)) from exc

    def push(self, ref):
        """Push ``ref`` to its registry; return the pushed digest."""
        repository, tag = split_ref(ref)
        digest = None
        try:
            for chunk in self.api.push(repository, tag=tag, stream=True, decode=True):
                if 'error' in chunk:
                    raise DockerError('docker push of %s failed: %s' % (ref, chunk['error']))
                digest = chunk.get('aux', {}).get('Digest', digest)
        except DockerException as exc:
            raise DockerError('docker push of %s failed: %s' % (ref, exc)) from exc
        return digest

    def import_tarball(self, tarball, ref, changes):
        """Import a root filesystem tarball as image ``ref``; return its id."""
        repository, tag = split_ref(ref)
        try:
            out = self.api.import_image_from_file(tarball, repository=repository, tag=tag, changes=changes)
        except DockerException as exc:
            raise DockerError('docker import of %s failed: %s' % (ref, exc)) from exc
        for line in out.splitlines() if isinstance(out, str) else [out]:
            try:
                status = json.loads(line).get('status', '') if isinstance(line, str) else line.get('status', '')
            except ValueError:
                continue
            if status.startswith('sha256:'):
                return status
        return self.image(ref)['Id']

    # Containers -------------------------------------------------------
    def containers(self, labels):
        """Inspect data of every container (running or not) carrying ``labels``."""
        filters = {'label': ['%s=%s' % item for item in sorted(labels.items())]}
        try:
            return [self.api.inspect_container(c['Id']) for c in self.api.containers(all=True, filters=filters)]
        except NotFound:
            # A container vanished between listing and inspecting: list again.
            return self.containers(labels)
        except DockerException as exc:
            raise DockerError('cannot list containers: %s' % exc) from exc

    def inspect_container(self, name):
        """Inspect data of container ``name`` or None."""
        try:
            return self.api.inspect_container(name)
        except NotFound:
            return None
        except DockerException as exc:
            raise DockerError('cannot inspect container %s: %s' % (name, exc)) from exc

    def run_container(self, name, image, command=None, environment=None, labels=None, ports=None,
                      host_config=None, healthcheck=None, user=None, stop_signal=None):
        """Create and start a container; return its id."""
        try:
            hc = self.api.create_host_config(**(host_config or {}))
            created = self.api.create_container(
                image=image, name=name, command=command, environment=environment, labels=labels,
                ports=list(ports or []), host_config=hc, healthcheck=healthcheck, user=user,
                stop_signal=stop_signal, detach=True)
            self.api.start(created['Id'])
        except DockerException as exc:
            self.remove_container(name)
            raise DockerError('cannot start container %s from %s: %s' % (name, image, exc)) from exc
        return created['Id']

    def stop_container(self, name, timeout):
        """Stop container ``name`` gracefully (SIGTERM, then SIGKILL after ``timeout``)."""
        try:
            self.api.stop(name, timeout=timeout)
        except NotFound:
            pass
        except DockerException as exc:
            raise DockerError('cannot stop container %s: %s' % (name, exc)) from exc

    def remove_container(self, name):
        """Remove container ``name`` whatever its state; absent is fine."""
        try:
            self.api.remove_container(name, force=True, v=True)
        except NotFound:
            pass
        except DockerException as exc:
            raise DockerError('cannot remove container %s: %s' % (name, exc)) from exc


def split_ref(ref):
    """Split ``repository[:tag]`` (registry ports allowed) into (repository, tag)."""
    head, sep, tail = ref.rpartition(':')
    if sep and '/' not in tail:
        return head, tail
    return ref, 'latest'
