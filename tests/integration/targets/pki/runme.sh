#!/usr/bin/env bash
# A script target: as a role target, "pki" would resolve to the collection's
# own pki role instead of these tasks.
set -euo pipefail
cd "$(dirname "$0")"
ansible-playbook runme.yml -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" "$@"
