#!/usr/bin/env bash
# A private Docker Engine for the swarm_service test, run inside
# `unshare --net --mount --fork`: its own network namespace (bridge, iptables,
# published ports), mount namespace, data root, containerd and cgroup parent.
# The shared Engine is never touched: it runs with live-restore, which Swarm
# mode refuses, and other tests use it at the same time.
set -euo pipefail
dir=$1
mount --make-rprivate /
ip link set lo up
echo '{}' > "$dir/daemon.json"
exec dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
  --pidfile "$dir/docker.pid" --host "unix://$dir/docker.sock" --cgroup-parent lepton-swarm-test \
  --storage-driver overlay2 --log-driver json-file
