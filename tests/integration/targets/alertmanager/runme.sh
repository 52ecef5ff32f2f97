#!/usr/bin/env bash
# A script target: ansible-test would resolve a role target named alertmanager
# to the collection's own role of that name, so the tasks run from playbooks.
# The first pass is a real `--check` run on a host without Alertmanager.
set -eux
export ANSIBLE_ROLES_PATH=..
ansible-playbook check_mode.yml -i ../../inventory --check "$@"
ansible-playbook runme.yml -i ../../inventory "$@"
