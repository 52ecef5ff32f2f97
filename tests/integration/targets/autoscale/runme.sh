#!/usr/bin/env bash
# End to end: load -> Prometheus -> the autoscale playbook scales 2 -> 4;
# load stops -> back to 2 after a shortened stabilisation window;
# Prometheus stopped -> the replicas are held and the reason is shown.
set -eux
work=/tmp/lepton-test-autoscale
rm -rf "$work"; mkdir -p "$work"
export ANSIBLE_ROLES_PATH=..
export ANSIBLE_CALLBACKS_ENABLED=lepton.aiops.autoscaler
export LEPTON_AUTOSCALE_STATE_DIR="$work/state"
export LEPTON_AUTOSCALE_POLICY=hpa
export LEPTON_AUTOSCALE_MIN_REPLICAS=2
export LEPTON_AUTOSCALE_MAX_REPLICAS=4
export LEPTON_AUTOSCALE_TARGET_REQUEST_RATE=2
export LEPTON_AUTOSCALE_SCALE_DOWN_STABILIZATION_SECONDS=20
inventory=../../inventory
load_pid=
cleanup() {
  [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
  ansible-playbook cleanup.yml -i "$inventory" || true
  rm -rf "$work"
}
trap cleanup EXIT

replicas() { docker ps --filter label=lepton.service=lepton-test-autoscale-svc --format '{{.Names}}' | wc -l; }
decision() { python -c "import json,sys; d=json.load(open('$work/state/last_decisions.json'))['decisions']['lepton-test-autoscale-svc']; print(d[sys.argv[1]])" "$1"; }
autoscale() { ansible-playbook lepton.aiops.autoscale -i "$inventory" -e @files/vars.yml "$@"; }

ansible-playbook setup.yml -i "$inventory" "$@"
[ "$(replicas)" -eq 2 ]

# 10 requests per second for 2 replicas with a target of 2 each: HPA wants 5, capped at 4.
python files/load.py 10 "$(cat "$work/ports")" &
load_pid=$!
for _ in $(seq 1 40); do
  autoscale
  [ "$(replicas)" -lt 4 ] || break
  sleep 3
done
[ "$(replicas)" -eq 4 ]
[ "$(decision policy)" = hpa ]
[ "$(decision change)" = up ]

# Check mode decides and reports but changes nothing; the load still asks for 4.
autoscale --check | tee "$work/check.log"
grep -q "AUTOSCALER DECISIONS" "$work/check.log"
[ "$(replicas)" -eq 4 ]
[ "$(decision desired)" -eq 4 ]
[ "$(decision check_mode)" = True ]

# Load stops: the 1 minute rate and the stabilisation window keep 4 for a while, then 2.
kill "$load_pid"; load_pid=
autoscale
[ "$(replicas)" -eq 4 ]
for _ in $(seq 1 60); do
  autoscale
  [ "$(replicas)" -gt 2 ] || break
  sleep 3
done
[ "$(replicas)" -eq 2 ]

docker stop lepton-test-autoscale-prometheus
autoscale | tee "$work/hold.log"
[ "$(replicas)" -eq 2 ]
[ "$(decision hold)" = True ]
decision reason | grep -q "hold: metrics unavailable"
grep -q "hold: metrics unavailable" "$work/hold.log"
