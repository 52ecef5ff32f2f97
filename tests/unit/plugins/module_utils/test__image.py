"""Unit tests of the build-context and recipe hashing behind image_build and rootfs_image."""
from __future__ import annotations

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._docker import DockerError, split_ref
from ansible_collections.lepton.aiops.plugins.module_utils._image import (
    CONTEXT_LABEL, base_images, build_image, context_files, context_hash, recipe_hash)


@pytest.fixture
def ctx(tmp_path):
    (tmp_path / 'Dockerfile').write_text('FROM scratch\n')
    (tmp_path / 'app.py').write_text('print(1)\n')
    (tmp_path / 'notes.log').write_text('x\n')
    (tmp_path / '.dockerignore').write_text('*.log\n!keep.log\n')
    return tmp_path


def test_hash_is_stable_and_follows_content(ctx):
    first = context_hash(str(ctx))
    assert context_hash(str(ctx)) == first
    (ctx / 'app.py').write_text('print(2)\n')
    assert context_hash(str(ctx)) != first


def test_hash_ignores_dockerignored_files_but_not_reincluded_ones(ctx):
    first = context_hash(str(ctx))
    (ctx / 'notes.log').write_text('changed\n')
    assert context_hash(str(ctx)) == first
    (ctx / 'keep.log').write_text('kept\n')
    assert context_hash(str(ctx)) != first


def test_hash_follows_build_options_and_modes(ctx):
    first = context_hash(str(ctx))
    assert context_hash(str(ctx), buildargs={'A': '1'}) != first
    assert context_hash(str(ctx), labels={'team': 'ml'}) != first
    assert context_hash(str(ctx), target='runtime') != first
    (ctx / 'app.py').chmod(0o755)
    assert context_hash(str(ctx)) != first


@pytest.mark.parametrize('patterns, expected', [
    ('*.md\n', ['.dockerignore', 'Dockerfile', 'build/out.o', 'docs/app.md']),   # * stays in one directory
    ('**/*.md\n', ['.dockerignore', 'Dockerfile', 'build/out.o']),               # ** crosses them
    ('build/\n# a comment\n', ['.dockerignore', 'Dockerfile', 'README.md', 'docs/app.md']),
    ('*\n!docs\n', ['.dockerignore', 'Dockerfile', 'docs/app.md']),   # these two always go, as Docker says
    ('**\n!**/*.md\ndocs\n', ['.dockerignore', 'Dockerfile', 'README.md']),   # the last match wins
])
def test_context_files_follow_dockers_dockerignore_rules(tmp_path, patterns, expected):
    for rel in ('Dockerfile', 'README.md', 'docs/app.md', 'build/out.o'):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / '.dockerignore').write_text(patterns)
    assert context_files(str(tmp_path)) == expected


def test_a_file_docker_sends_changes_the_hash_even_when_a_top_level_pattern_looks_like_it(ctx):
    (ctx / 'docs').mkdir()
    (ctx / 'docs' / 'app.log').write_text('v1\n')
    first = context_hash(str(ctx))
    (ctx / 'docs' / 'app.log').write_text('v2\n')   # '*.log' does not match docs/app.log for Docker
    assert context_hash(str(ctx)) != first


def test_missing_context_and_dockerfile_are_clear_errors(tmp_path):
    with pytest.raises(DockerError, match='not a directory'):
        context_hash(str(tmp_path / 'nope'))
    with pytest.raises(DockerError, match='Dockerfile Dockerfile not found'):
        context_hash(str(tmp_path))


def test_recipe_hash_counts_packages_as_a_set_and_cas_by_content(tmp_path):
    ca = tmp_path / 'ca.crt'
    ca.write_text('one')
    base = recipe_hash('bookworm', 'http://deb.debian.org/debian', 'minbase', ['b', 'a'], [str(ca)])
    assert recipe_hash('bookworm', 'http://deb.debian.org/debian', 'minbase', ['a', 'b', 'a'], [str(ca)]) == base
    assert recipe_hash('trixie', 'http://deb.debian.org/debian', 'minbase', ['a', 'b'], [str(ca)]) != base
    ca.write_text('two')
    assert recipe_hash('bookworm', 'http://deb.debian.org/debian', 'minbase', ['a', 'b'], [str(ca)]) != base


@pytest.mark.parametrize('ref, expected', [
    ('lepton/app:1.0', ('lepton/app', '1.0')),
    ('lepton/app', ('lepton/app', 'latest')),
    ('127.0.0.1:5000/app', ('127.0.0.1:5000/app', 'latest')),
    ('127.0.0.1:5000/app:2', ('127.0.0.1:5000/app', '2')),
])
def test_split_ref(ref, expected):
    assert split_ref(ref) == expected


@pytest.mark.parametrize('text, buildargs, expected', [
    ('FROM debian:12\n', None, ['debian:12']),
    ('ARG BASE_IMAGE=lepton/base:bookworm\nFROM ${BASE_IMAGE}\n', None, ['lepton/base:bookworm']),
    ('ARG BASE_IMAGE=lepton/base:bookworm\nFROM ${BASE_IMAGE}\n', {'BASE_IMAGE': 'x:1'}, ['x:1']),
    ('ARG V\nFROM app:${V:-2}\n', None, ['app:2']),
    ('FROM a AS build\n# FROM commented:1\nRUN make \\\n  all\nFROM build\nFROM scratch\nFROM --platform=$P b\n', None,
     ['a', 'b']),
    # an ARG inside a stage (here after FROM scratch) is not a global one: later FROM lines do not see it
    ('FROM scratch AS empty\nARG BASE=debian:12\nFROM ${BASE:-lepton/base:bookworm}\n', None, ['lepton/base:bookworm']),
])
def test_base_images(text, buildargs, expected):
    assert base_images(text, buildargs) == expected


class FakeEngine:
    """Images by reference; a build records its labels and gets a new id."""

    def __init__(self, images):
        self.images, self.builds = dict(images), 0

    def image(self, ref):
        return self.images.get(ref)

    def build(self, path, dockerfile, name, buildargs, labels, nocache=False, target=None):
        self.builds += 1
        self.images[name] = {'Id': 'sha256:built%d' % self.builds, 'Config': {'Labels': labels}}
        return self.images[name]['Id'], []


def test_a_rebuilt_base_image_rebuilds_the_image_on_top(tmp_path):
    (tmp_path / 'Dockerfile').write_text('ARG BASE=lepton/base:bookworm\nFROM ${BASE}\nCOPY app.py /\n')
    (tmp_path / 'app.py').write_text('print(1)\n')
    engine = FakeEngine({'lepton/base:bookworm': {'Id': 'sha256:base1'}})
    assert build_image(engine, 'app:1', str(tmp_path))['changed'] is True
    assert build_image(engine, 'app:1', str(tmp_path))['changed'] is False
    engine.images['lepton/base:bookworm'] = {'Id': 'sha256:base2'}   # base_image rebuilt it (new CA, packages)
    assert build_image(engine, 'app:1', str(tmp_path), check_mode=True)['changed'] is True
    result = build_image(engine, 'app:1', str(tmp_path))
    assert result['actions'] == ['built'] and engine.builds == 2
    assert engine.images['app:1']['Config']['Labels'][CONTEXT_LABEL] == result['image']['context_hash']


def test_a_missing_dockerfile_is_a_clear_error_of_the_build(tmp_path):
    with pytest.raises(DockerError, match='Dockerfile Missing.dockerfile not found in the build context'):
        build_image(FakeEngine({}), 'app:1', str(tmp_path), dockerfile='Missing.dockerfile')


def test_the_examples_in_the_docs_run():
    import doctest  # pylint: disable=import-outside-toplevel
    from ansible_collections.lepton.aiops.plugins.module_utils import _image  # pylint: disable=import-outside-toplevel
    result = doctest.testmod(_image)
    assert result.attempted > 0 and result.failed == 0
