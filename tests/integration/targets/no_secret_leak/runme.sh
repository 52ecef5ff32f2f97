#!/usr/bin/env bash
# Run the security playbook (and the demo site playbook, when it exists) with
# -vvv and --diff, capture everything they print, and fail if any known
# secret shows up: passphrases, basic-auth password, private key PEM bodies,
# or a file's data key. (The autoscaler callback is enabled too; these
# playbooks make no scaling decision, so it saves nothing here. Whatever it
# does save is scanned as well.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lepton-test-security-leak-XXXXXX)
[ -n "${LEPTON_KEEP_LEAK_WORKDIR:-}" ] || trap 'rm -rf "$work"' EXIT
python=$(command -v python)
# check_leaks.py imports the collection's module_utils: find its root.
for root in ${ANSIBLE_COLLECTIONS_PATH:+${ANSIBLE_COLLECTIONS_PATH//:/ }} "$here/../../../../../.."; do
  if [ -d "$root/ansible_collections/lepton/aiops" ]; then
    root_abs=$(cd "$root" && pwd)
    export PYTHONPATH="$root_abs${PYTHONPATH:+:$PYTHONPATH}"
    break
  fi
done

secret() { "$python" -c 'import secrets; print(secrets.token_urlsafe(18))'; }
cat > "$work/secrets.yml" <<VARS
secure_data_keyring_passphrase: "$(secret)"
secure_data_ca_passphrase: "$(secret)"
secure_data_basic_auth_password: "$(secret)"
# for the demo run: the load balancer's status page and Prometheus' users
nginx_lb_status_password: "$(secret)"
haproxy_lb_status_password: "$(secret)"
prometheus_web_basic_auth_users: {ops: "$(secret)"}
VARS
chmod 0600 "$work/secrets.yml"

export LEPTON_AUTOSCALE_STATE_DIR="$work/callback-state"
export ANSIBLE_NOCOLOR=1
run() {
  ansible-playbook "$@" -i localhost, -c local -e "ansible_python_interpreter=$python" \
    -e "@$work/secrets.yml" -e "secure_data_dir=$work/data" -e "secure_data_hosts=all" \
    -e "secure_data_secrets_dir=$work/controller-secrets" -vvv --diff >> "$work/output.log" 2>&1
}
run lepton.aiops.secure_data --check     # check mode on an empty host
run lepton.aiops.secure_data             # real run
run lepton.aiops.secure_data -e secure_data_keyring_version=2   # rotation and re-wrap
run lepton.aiops.secure_data             # idempotent rerun
# The demo, when the collection has it. It configures the Docker Engine and
# starts containers on fixed ports, so on a shared test machine it runs in
# check mode (still -vvv --diff); LEPTON_LEAK_SITE=real runs it for real,
# LEPTON_LEAK_SITE=skip leaves it out.
site=$("$python" -c 'import os, ansible_collections.lepton.aiops as c
print(os.path.join(list(c.__path__)[0], "playbooks", "site.yml"))')
case "${LEPTON_LEAK_SITE:-check}" in
  skip) ;;
  real) [ ! -f "$site" ] || run lepton.aiops.site -e target_hosts=all ;;
  *) [ ! -f "$site" ] || run lepton.aiops.site -e target_hosts=all --check ;;
esac
[ ! -f "$site" ] || echo "included the demo playbook ($site, mode ${LEPTON_LEAK_SITE:-check})"

"$python" "$here/check_leaks.py" "$work"
