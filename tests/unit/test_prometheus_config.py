# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prometheus role's prometheus.yml and web.yml, rendered with every
option switched on, pass `promtool check config` and `promtool check
web-config`, and say what the options asked for."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import bcrypt
import pytest
import yaml

ROLE = pathlib.Path(__file__).resolve().parents[2] / "roles" / "prometheus"
ANSIBLE = pathlib.Path(sys.executable).parent / "ansible"


def render(template, dest, variables, tmp):
    """Render with Ansible itself, so the collection's filters (lb_bcrypt) resolve."""
    (tmp / "vars.json").write_text(json.dumps(variables))
    result = subprocess.run(
        [str(ANSIBLE), "localhost", "-c", "local", "-m", "ansible.builtin.template",
         "-a", "src=%s dest=%s" % (ROLE / "templates" / template, dest), "-e", "@%s" % (tmp / "vars.json")],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    promtool, openssl = shutil.which("promtool"), shutil.which("openssl")
    assert promtool and openssl, "promtool and openssl are needed (bindep.txt, profile test)"
    root = tmp_path_factory.mktemp("prometheus")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(root / "tls.key"), "-out", str(root / "tls.crt")],
                   check=True, capture_output=True, timeout=60)
    variables = {}
    for part in ("defaults", "vars"):
        variables.update(yaml.safe_load((ROLE / part / "main.yml").read_text()))
    variables.update(
        prometheus_config_dir=str(root), prometheus_external_labels={"site": "lab", "env": "test"},
        prometheus_alertmanagers=["127.0.0.1:9093"], prometheus_haproxy_targets=["127.0.0.1:8081"],
        prometheus_nginx_status_url="http://127.0.0.1:8081/stub_status",
        prometheus_extra_scrape_configs=[{"job_name": "extra", "static_configs": [{"targets": ["127.0.0.1:9999"]}]}],
        prometheus_web_tls_cert_file=str(root / "tls.crt"), prometheus_web_tls_key_file=str(root / "tls.key"),
        prometheus_web_tls_client_ca_file=str(root / "tls.crt"),
        prometheus_web_tls_client_cert_file=str(root / "tls.crt"), prometheus_web_tls_client_key_file=str(root / "tls.key"),
        prometheus_web_basic_auth_users={"ops": "s3cret", "viewer": "an0ther"})
    (root / "rules").mkdir()
    render("prometheus.yml.j2", root / "prometheus.yml", variables, tmp_path_factory.mktemp("vars"))
    render("web.yml.j2", root / "web.yml", variables, tmp_path_factory.mktemp("vars"))
    return root, promtool


def test_full_configuration_passes_promtool(site):
    root, promtool = site
    result = subprocess.run([promtool, "check", "config", str(root / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((root / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert sorted(jobs) == ["extra", "haproxy", "lepton-services", "nginx", "node", "prometheus"]
    assert jobs["prometheus"]["scheme"] == "https" and jobs["prometheus"]["basic_auth"]["username"] == "ops"
    assert jobs["prometheus"]["tls_config"]["cert_file"] == str(root / "tls.crt")   # mutual TLS: scrapes itself with it
    assert jobs["lepton-services"]["file_sd_configs"][0]["files"] == [str(root / "file_sd/services/*.json")]
    assert jobs["nginx"]["static_configs"][0]["targets"] == ["127.0.0.1:9113"]
    assert config["global"]["external_labels"] == {"site": "lab", "env": "test"}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    assert config["rule_files"] == [str(root / "rules/*.yml")]


def test_web_configuration_passes_promtool_with_stable_bcrypt(site):
    root, promtool = site
    result = subprocess.run([promtool, "check", "web-config", str(root / "web.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    web = yaml.safe_load((root / "web.yml").read_text())
    assert web["tls_server_config"]["cert_file"] == str(root / "tls.crt")
    assert web["tls_server_config"]["client_ca_file"] == str(root / "tls.crt")
    assert web["tls_server_config"]["client_auth_type"] == "RequireAndVerifyClientCert"
    assert sorted(web["basic_auth_users"]) == ["ops", "viewer"]
    assert all(h.startswith("$2b$") for h in web["basic_auth_users"].values())
    assert "s3cret" not in (root / "web.yml").read_text()
    assert bcrypt.checkpw(b"s3cret", web["basic_auth_users"]["ops"].encode())
