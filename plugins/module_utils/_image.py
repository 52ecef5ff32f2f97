# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image building for lepton.aiops: Dockerfile builds and debootstrap rootfs images.

PRIVATE to the lepton.aiops collection. Both kinds of image are idempotent
by a hash of everything that goes into them (the build context, or the
debootstrap recipe), recorded in an image label: when an image with the same
hash exists, nothing is built.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.lepton.aiops.plugins.module_utils._docker import DockerError

try:
    from docker.utils.build import exclude_paths
except ImportError:  # pragma: no cover - reported by the module through the Docker client
    exclude_paths = None

CONTEXT_LABEL = 'lepton.aiops.context-hash'
RECIPE_LABEL = 'lepton.aiops.recipe'
RECIPE_VERSION = 1


# Pure helpers -----------------------------------------------------------
def dockerignore_patterns(path):
    """The patterns of ``path``/.dockerignore, in order, read as the Docker SDK reads them."""
    try:
        with open(os.path.join(path, '.dockerignore'), encoding='utf-8') as handle:
            lines = [line.strip() for line in handle.read().splitlines()]
    except FileNotFoundError:
        return []
    return [line for line in lines if line and not line.startswith('#')]


def context_files(path, dockerfile='Dockerfile'):
    """The files of the build context the Docker SDK sends (relative paths, sorted).

    The SDK's own matcher decides (Docker's rules: ``*`` stays within one
    directory, ``**`` crosses them, ``!`` re-includes, the last match wins),
    so the hash covers exactly what the build sees.
    """
    if exclude_paths is None:
        raise DockerError('the docker Python SDK is required to read the build context')
    return sorted(rel for rel in exclude_paths(path, dockerignore_patterns(path), dockerfile=dockerfile)
                  if os.path.islink(os.path.join(path, rel)) or not os.path.isdir(os.path.join(path, rel)))


_ARG_REF = re.compile(r'\$(?:\{(\w+)(?::?-([^}]*))?\}|(\w+))')


def _instructions(text):
    """``(KEYWORD, arguments)`` of a Dockerfile, continuation lines joined, comments dropped."""
    logical = ''
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith('#'):
            continue
        if stripped.endswith('\\'):
            logical += stripped[:-1] + ' '
            continue
        logical += stripped
        if logical:
            keyword, _sep, rest = logical.partition(' ')
            yield keyword.upper(), rest.strip()
        logical = ''


def base_images(text, buildargs=None):
    """The images the ``FROM`` lines of Dockerfile ``text`` build on.

    ``ARG``s declared before the first ``FROM`` are substituted (a build
    argument wins over the declared default); ``scratch`` and the names of
    earlier stages are not images.

    >>> base_images('ARG BASE=lepton/base:bookworm\\nFROM ${BASE} AS build\\nFROM build\\nFROM scratch\\n')
    ['lepton/base:bookworm']
    >>> base_images('ARG BASE\\nFROM --platform=linux/amd64 $BASE', {'BASE': 'debian:12'})
    ['debian:12']
    >>> base_images('FROM scratch AS empty\\nARG BASE=debian:12\\nFROM ${BASE:-lepton/base:bookworm}')
    ['lepton/base:bookworm']
    """
    args, stages, images = {}, set(), []
    buildargs = buildargs or {}
    seen_from = False
    for keyword, rest in _instructions(text):
        if keyword == 'ARG' and not seen_from:
            name, sep, default = rest.partition('=')
            args[name.strip()] = buildargs.get(name.strip(), default.strip().strip('"\'') if sep else '')
        elif keyword == 'FROM':
            seen_from = True
            words = [w for w in rest.split() if not w.startswith('--')]
            if not words:
                continue
            ref = _ARG_REF.sub(lambda m: args.get(m.group(1) or m.group(3)) or (m.group(2) or ''), words[0])
            if ref.lower() not in stages | {'scratch'} and ref not in images:
                images.append(ref)
            if len(words) >= 3 and words[1].upper() == 'AS':
                stages.add(words[2].lower())
    return images


def _check_context(path, dockerfile):
    if not os.path.isdir(path):
        raise DockerError('build context %s is not a directory' % path)
    if not os.path.isfile(os.path.join(path, dockerfile)):
        raise DockerError('Dockerfile %s not found in the build context %s' % (dockerfile, path))


def context_hash(path, dockerfile='Dockerfile', buildargs=None, labels=None, target=None, bases=None):
    """SHA-256 over the build context files (names, modes, contents) and the build options.

    ``bases`` maps the images the Dockerfile builds on to their local ids,
    so a rebuilt base image rebuilds the images on top of it.
    """
    _check_context(path, dockerfile)
    digest = hashlib.sha256()
    options = dict(dockerfile=dockerfile, buildargs=buildargs or {}, labels=labels or {}, target=target)
    if bases:
        options['bases'] = bases
    digest.update(json.dumps(options, sort_keys=True).encode())
    for rel in context_files(path, dockerfile):
        full = os.path.join(path, rel)
        digest.update(b'\0%s\0%o\0' % (rel.encode(), os.lstat(full).st_mode))
        if os.path.islink(full):
            digest.update(os.readlink(full).encode())
            continue
        with open(full, 'rb') as handle:
            for block in iter(lambda: handle.read(1 << 20), b''):
                digest.update(block)
    return digest.hexdigest()


def recipe_hash(suite, mirror, variant, packages, ca_certificates):
    """SHA-256 of a debootstrap recipe; CA certificates count by content."""
    certs = []
    for cert in ca_certificates:
        with open(cert, 'rb') as handle:
            certs.append(hashlib.sha256(handle.read()).hexdigest())
    recipe = dict(version=RECIPE_VERSION, suite=suite, mirror=mirror, variant=variant,
                  packages=sorted(set(packages)), ca_certificates=sorted(certs))
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def label_of(image, label):
    """The value of ``label`` on inspected ``image`` (None when absent)."""
    if not image:
        return None
    return ((image.get('Config') or {}).get('Labels') or {}).get(label)


# Dockerfile builds ------------------------------------------------------
def plan_build(client, name, tags, digest, force=False):
    """What a build must do: build, retag only, or nothing. Pure over inspect data."""
    current = client.image(name)
    if force or label_of(current, CONTEXT_LABEL) != digest:
        return dict(build=True, retag=list(tags), before=_summary(current))
    retag = [ref for ref in tags if (client.image(ref) or {}).get('Id') != current['Id']]
    return dict(build=False, retag=retag, before=_summary(current), image_id=current['Id'])


def _summary(image):
    if not image:
        return None
    return dict(id=image['Id'], tags=image.get('RepoTags') or [], context_hash=label_of(image, CONTEXT_LABEL))


def needs_push(client, ref, image_id):
    """Whether the registry lacks ``image_id`` under ``ref``."""
    try:
        remote = client.api.inspect_distribution(ref)['Descriptor']['digest']
    except Exception:  # pylint: disable=broad-except
        return True  # unknown or unreachable: pushing tells the real story
    local = (client.image(image_id) or {}).get('RepoDigests') or []
    return not any(d.endswith('@' + remote) for d in local)


# Debootstrap rootfs images ---------------------------------------------
def build_rootfs_image(client, ref, suite, mirror, variant, packages, ca_certificates, digest, work_dir=None):
    """Debootstrap a root filesystem, trust extra CAs, import it as ``ref``; return the image id."""
    if not shutil.which('debootstrap'):
        raise DockerError('debootstrap is not installed; install the debootstrap package '
                          '(the lepton.aiops.base_image role does this)')
    tmp = tempfile.mkdtemp(prefix='lepton-rootfs-', dir=work_dir)
    root = os.path.join(tmp, 'root')
    try:
        cmd = ['debootstrap', '--variant=%s' % variant]
        if packages:
            cmd.append('--include=%s' % ','.join(sorted(set(packages))))
        _run(cmd + [suite, root, mirror], 'debootstrap')
        if ca_certificates:
            dest = os.path.join(root, 'usr/local/share/ca-certificates')
            os.makedirs(dest, exist_ok=True)
            for index, cert in enumerate(ca_certificates):
                shutil.copyfile(cert, os.path.join(dest, 'lepton-extra-%02d.crt' % index))
            if os.path.exists(os.path.join(root, 'usr/sbin/update-ca-certificates')):
                _run(['chroot', root, 'update-ca-certificates'], 'update-ca-certificates')
        for junk in ('var/cache/apt/archives', 'var/lib/apt/lists'):
            shutil.rmtree(os.path.join(root, junk), ignore_errors=True)
            os.makedirs(os.path.join(root, junk), exist_ok=True)
        tarball = os.path.join(tmp, 'rootfs.tar')
        _run(['tar', '--numeric-owner', '-C', root, '-cf', tarball, '.'], 'tar')
        changes = ['LABEL %s=%s' % (RECIPE_LABEL, digest),
                   'LABEL org.opencontainers.image.description="Debian %s %s built by lepton.aiops"' % (suite, variant),
                   'ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive',
                   'CMD ["/bin/bash"]']
        return client.import_tarball(tarball, ref, changes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(cmd, what):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = '\n'.join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DockerError('%s failed (exit %d): %s' % (what, proc.returncode, tail))


def build_image(client, name, path, dockerfile='Dockerfile', tags=(), buildargs=None, labels=None,
                target=None, nocache=False, force=False, push=False, check_mode=False):
    """Build, tag and push as needed; return the module result (changed, image, actions, diff)."""
    buildargs = {k: str(v) for k, v in (buildargs or {}).items()}
    labels = {k: str(v) for k, v in (labels or {}).items()}
    _check_context(path, dockerfile)
    with open(os.path.join(path, dockerfile), encoding='utf-8') as handle:
        bases = {ref: (client.image(ref) or {}).get('Id') for ref in base_images(handle.read(), buildargs)}
    digest = context_hash(path, dockerfile, buildargs, labels, target, bases)
    refs = [name] + [t for t in tags if t != name]
    plan = plan_build(client, name, refs[1:], digest, force)
    actions, log = [], None
    image_id = plan.get('image_id')
    if plan['build']:
        actions.append('built')
        if not check_mode:
            image_id, log = client.build(path, dockerfile, name, buildargs,
                                         dict(labels, **{CONTEXT_LABEL: digest}), nocache=nocache, target=target)
    for ref in plan['retag']:
        actions.append('tagged %s' % ref)
        if not check_mode:
            client.tag(image_id, ref)
    if push:
        for ref in refs:
            if image_id is None or needs_push(client, ref, image_id):
                actions.append('pushed %s' % ref)
                if not check_mode:
                    client.push(ref)
    after = dict(id=image_id, tags=refs, context_hash=digest)
    result = dict(changed=bool(actions), image=after, actions=actions,
                  diff=dict(before=plan['before'] or {}, after=after))
    if log is not None:
        result['build_log'] = log[-30:]
    return result


def ensure_rootfs_image(client, name, suite, mirror, variant, packages, ca_certificates,
                        force=False, work_dir=None, check_mode=False):
    """Debootstrap and import ``name`` unless an image of the same recipe exists."""
    digest = recipe_hash(suite, mirror, variant, packages, ca_certificates)
    current = client.image(name)
    changed = force or label_of(current, RECIPE_LABEL) != digest
    image_id = current['Id'] if current else None
    if changed and not check_mode:
        image_id = build_rootfs_image(client, name, suite, mirror, variant, packages,
                                      ca_certificates, digest, work_dir)
    before = dict(id=current['Id'], recipe=label_of(current, RECIPE_LABEL)) if current else {}
    after = dict(id=image_id if not (changed and check_mode) else None, recipe=digest)
    return dict(changed=changed, image=dict(after, name=name), diff=dict(before=before, after=after))
