#!/usr/bin/env bash
# End to end: load through nginx -> Prometheus -> the autoscale playbook
# scales 2 -> 4; load stops -> back to 2 after a shortened stabilisation
# window; not one request through the load balancer fails on the way (the LB
# follows every change, and drops replicas before they stop);
# the predictive policy, set up in a config file, scales 2 -> 4 as well;
# Prometheus stopped -> the replicas are held and the reason is shown.
set -euxo pipefail
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
# run_until CHECK ARGS...: run the playbook (with ARGS) every 3 s until the shell command CHECK
# succeeds; fail after 60 runs. The output of the last run is in $work/last.log.
run_until() {
  local check=$1; shift
  for _ in $(seq 1 60); do
    autoscale "$@" | tee "$work/last.log"
    eval "$check" && return 0
    sleep 3
  done
  echo "run_until: '$check' still false after 60 runs ($(replicas) replicas)" >&2
  return 1
}
# autoscale_until N: until N replicas run.
autoscale_until() { run_until "[ \"\$(replicas)\" -eq $1 ]"; }
# until_decided FIELD TEXT ARGS...: until the decision's FIELD contains TEXT.
until_decided() { local field=$1 text=$2; shift 2; run_until "decision $field | grep -q -- '$text'" "$@"; }

ansible-playbook setup.yml -i "$inventory" "$@"
[ "$(replicas)" -eq 2 ]

loadgen=../../../utils/loadgen.py
# load RATE NAME [METHOD PATH]: requests (POST /predict) through nginx at RATE requests/s until
# $work/stop-NAME exists.
load() {
  local body='{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
  [ "${3:-POST}" = POST ] || body=
  python "$loadgen" "http://127.0.0.1:19795${4:-/predict}" --method "${3:-POST}" --body "$body" \
    --concurrency 4 --rate "$1" --requests 1 \
    --stop-file "$work/stop-$2" --max-seconds 600 --timeout 10 --output "$work/load-$2.json" > /dev/null &
  load_pid=$!
}
# end NAME: stop that load and check that no request failed.
end() {
  touch "$work/stop-$1"; wait "$load_pid"; load_pid=
  python -c "import json,sys; r=json.load(open(sys.argv[1])); print('load', sys.argv[2], r); assert r['failed'] == 0 and r['requests'] > 0" \
    "$work/load-$1.json" "$1"
}

# 10 requests per second for 2 replicas with a target of 2 each: HPA wants 5, capped at 4.
load 10 up
# Check mode decides a scale-up and reports it, but the 2 replicas stay.
until_decided change up --check
grep -q "AUTOSCALER DECISIONS" "$work/last.log"
grep -q "check mode: not applied" "$work/last.log"
[ "$(decision check_mode)" = True ]
[ "$(decision desired)" -gt 2 ]
[ "$(replicas)" -eq 2 ]
autoscale_until 4
[ "$(decision policy)" = hpa ]
[ "$(decision change)" = up ]
end up

# The load stops. Health probes through nginx go on (5/s, GET /healthz): they are not load (the
# request rate leaves probe routes out), and not one of them may fail while replicas go. Once the
# 1 minute rate asks for fewer replicas, the (20 s) stabilisation window still holds 4; after it, 2.
load 5 down GET /healthz
until_decided reason "stabilised from"
[ "$(replicas)" -eq 4 ]
autoscale_until 2
# ... and the request rate falls to 0 while the probes go on (counted, they would be 2.5/s per replica).
until_decided reason "ratio 0.000"
[ "$(replicas)" -eq 2 ]
end down

# The predictive policy, chosen with a parameter of its own in the config file, under the same load:
# it starts with no history (so a wide margin) and scales 2 -> 4 too; its state keeps that parameter.
cat > "$work/autoscale.yml" <<CONFIG
services:
  lepton-test-autoscale-svc:
    policy: predictive
    interval_seconds: 3
    startup_seconds: 5
    metric_delay_seconds: 1
    predictive_params: {budget_share: 0.9, quantile: 0.99}
CONFIG
export LEPTON_AUTOSCALE_CONFIG="$work/autoscale.yml"
load 10 predictive
autoscale_until 4
[ "$(decision policy)" = predictive ]
decision reason | grep -q "forecast"
python -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['policy'] == 'predictive', s['policy']; \
p=s['params']; assert (p['budget_share'], p['quantile'], p['startup_seconds']) == (0.9, 0.99, 5.0), p" \
  "$work/state/lepton-test-autoscale-svc.json"
end predictive

docker stop lepton-test-autoscale-prometheus
autoscale | tee "$work/hold.log"
[ "$(replicas)" -eq 4 ]
[ "$(decision hold)" = True ]
decision reason | grep -q "hold: metrics unavailable"
grep -q "hold: metrics unavailable" "$work/hold.log"
