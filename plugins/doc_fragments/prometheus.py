# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that query Prometheus."""
from __future__ import annotations


class ModuleDocFragment:
    """Prometheus HTTP API connection options."""

    DOCUMENTATION = r"""
options:
  url:
    description: Base URL of Prometheus.
    type: str
    default: http://127.0.0.1:9090
  timeout:
    description: Seconds to wait for each query.
    type: float
    default: 10
  validate_certs:
    description: Verify the TLS certificate of Prometheus.
    type: bool
    default: true
  ca_path:
    description: CA bundle (PEM) to verify Prometheus with.
    type: path
  client_cert:
    description: Client certificate (PEM) for mutual TLS.
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  username:
    description: Basic auth user.
    type: str
  password:
    description: Basic auth password.
    type: str
"""
