# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that talk to a Kubernetes API server."""
from __future__ import annotations


class ModuleDocFragment:
    """Kubernetes API connection options (argument spec: module_utils/_k8s_client.py)."""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file.
      - Each module's description says what it does without O(kubeconfig) and O(host).
    type: path
  context:
    description: Context of the kubeconfig to use; its current context when omitted.
    type: str
  host:
    description:
      - URL of the API server, for example C(https://10.0.0.1:6443). With
        O(kubeconfig) it overrides the kubeconfig's server; alone, the module
        connects with O(api_key) and no kubeconfig.
    type: str
  api_key:
    description: Bearer token for the API server. Never logged or returned.
    type: str
  ca_cert:
    description: CA certificate bundle (PEM) to verify the API server with.
    type: path
  validate_certs:
    description: Verify the API server's TLS certificate. Switch off only on a throw-away test cluster.
    type: bool
    default: true
"""
