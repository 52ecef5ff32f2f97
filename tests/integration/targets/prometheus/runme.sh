#!/usr/bin/env bash
# A script target: ansible-test would resolve a role target named prometheus
# to the collection's own role of that name, so the tasks run from a playbook.
set -eux
ANSIBLE_ROLES_PATH=.. ansible-playbook runme.yml -i ../../inventory "$@"
