# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to a Kubernetes API server, shared by the lepton.aiops Kubernetes modules.

PRIVATE to the lepton.aiops collection: no compatibility promise to anything
outside it. The options are documented once, in the ``lepton.aiops.kubernetes``
doc fragment; ``K8S_CONNECTION_SPEC`` is their argument spec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from urllib3.exceptions import HTTPError
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
    #: What a call raises when the API server cannot be reached (refused, timed out, TLS).
    TRANSPORT_ERRORS = (HTTPError, OSError)
except ImportError as exc:  # pragma: no cover - reported by the modules
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc
    TRANSPORT_ERRORS = (OSError,)

K8S_CONNECTION_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
)


class K8sConnectionError(Exception):
    """No usable configuration for the API server."""


def connection_params(params):
    """The connection options out of a module's params."""
    return dict((key, params.get(key)) for key in K8S_CONNECTION_SPEC)


def new_api_client(kubeconfig=None, context=None, host=None, api_key=None, ca_cert=None, validate_certs=True):
    """A ``kubernetes.client.ApiClient`` for these options (see the doc fragment)."""
    configuration = k8s_client.Configuration()
    if kubeconfig or context or not host:
        try:
            k8s_config.load_kube_config(config_file=kubeconfig, context=context,
                                        client_configuration=configuration)
        except Exception as exc:  # the loader raises several unrelated types
            if kubeconfig or context:
                raise K8sConnectionError("cannot load kubeconfig %s: %s" % (kubeconfig or "(default)", exc))
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except Exception as exc2:  # likewise
                raise K8sConnectionError("no kubeconfig (%s) and not in a cluster (%s); set kubeconfig or host"
                                         % (exc, exc2))
    if host:
        configuration.host = host
    if api_key:
        configuration.api_key = {"authorization": api_key}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    if ca_cert:
        configuration.ssl_ca_cert = ca_cert
    if not validate_certs:
        configuration.verify_ssl = False
    return k8s_client.ApiClient(configuration)
