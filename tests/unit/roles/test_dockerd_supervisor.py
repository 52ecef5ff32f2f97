# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container_host role's dockerd supervisor, run for real in a private PID namespace.

The script under test is the role's template rendered with Jinja2. A fake
``dockerd`` (a shell script, so pgrep sees the name) and a fake ``docker``
client that answers while the fake daemon runs stand in for the engine, in a
PID and mount namespace of their own: the machine's real dockerd is neither
seen nor touched. The real engine is exercised by the container_host
integration target and by .ci/run, which starts dockerd through the role.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import jinja2
import pytest

TEMPLATE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "container_host" / "templates" / "lepton-dockerd.sh.j2"

FAKE_DOCKERD = """#!/bin/sh
echo "$$" >> "$STATE/starts"
trap 'exit 0' TERM
while :; do sleep 0.05; done
"""
FAKE_DOCKER = """#!/bin/sh
pgrep -x dockerd >/dev/null
"""

# The scenario runs inside the namespace; each step prints a line we check.
SCENARIO = """
set -u
mount -t tmpfs tmpfs /run
sup=$1
st=$($sup status); echo "status1=$st rc=$?"
echo "start=$($sup start)"
st=$($sup status); echo "status2=$st rc=$?"
pkill -KILL -x dockerd
sleep 3
st=$($sup status); echo "after_crash=$st rc=$?"
echo "restart=$($sup restart)"
echo "stop=$($sup stop)"
st=$($sup status); echo "status3=$st rc=$?"
echo "starts=$(wc -l < "$STATE/starts")"
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare for a PID namespace")
def test_supervisor_starts_restarts_after_crash_and_stops(tmp_path):
    rendered = jinja2.Template(TEMPLATE.read_text()).render(
        ansible_managed="test", _container_host_log=str(tmp_path / "dockerd.log"),
        _container_host_socket="/var/run/docker.sock", _container_host_daemon_json="/etc/docker/daemon.json",
        container_host_start_timeout=10)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("lepton-dockerd", rendered), ("dockerd", FAKE_DOCKERD), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = dict(os.environ, PATH="%s:/usr/sbin:/usr/bin:/sbin:/bin" % bin_dir, STATE=str(tmp_path))
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--mount", "sh", "-c", SCENARIO, "sh",
                           str(bin_dir / "lepton-dockerd")], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    out = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert proc.returncode == 0, proc.stderr
    assert out["status1"] == "not running rc=3"
    assert out["start"] == "started"
    assert out["status2"] == "running (supervised) rc=0"
    assert out["after_crash"] == "running (supervised) rc=0"
    assert out["restart"] == "restarted"
    assert out["stop"] == "stopped"
    assert out["status3"] == "not running rc=3"
    assert out["starts"] == "3"
    assert "dockerd exited with 137, restarting" in (tmp_path / "dockerd.log").read_text()
