# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the prometheus role.

``prometheus_file_sd`` turns one service (its name and the ``endpoints`` that
lepton.aiops.service_deploy returns) into the target groups of a Prometheus
file_sd file: one group per replica, labelled ``service``, ``replica`` and
``version``, sorted so that the file only changes when the replicas do.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _target(endpoint, service):
    try:
        address, port = str(endpoint["address"]), int(endpoint["port"])
    except (KeyError, TypeError, ValueError):
        raise AnsibleFilterError(
            "prometheus_file_sd: every endpoint of service %s needs an address and a port, got %r"
            % (service, endpoint))
    if ":" in address and not address.startswith("["):
        address = "[%s]" % address
    return "%s:%d" % (address, port)


def prometheus_file_sd(service):
    """File_sd target groups of ``service`` ({name, endpoints, metrics_path?, scheme?, labels?})."""
    if not isinstance(service, dict) or not service.get("name"):
        raise AnsibleFilterError("prometheus_file_sd: expected a service with a name, got %r" % (service,))
    name = str(service["name"])
    extra = {str(k): str(v) for k, v in (service.get("labels") or {}).items()}
    if service.get("metrics_path"):
        extra["__metrics_path__"] = str(service["metrics_path"])
    if service.get("scheme"):
        extra["__scheme__"] = str(service["scheme"])
    groups = []
    for endpoint in service.get("endpoints") or []:
        target = _target(endpoint, name)
        labels = dict(extra, service=name, replica=str(endpoint.get("name") or target))
        if endpoint.get("version") is not None:
            labels["version"] = str(endpoint["version"])
        groups.append({"targets": [target], "labels": labels})
    return sorted(groups, key=lambda g: (g["labels"]["replica"], g["targets"][0]))


class FilterModule(object):
    """Monitoring filters."""

    def filters(self):
        return {"prometheus_file_sd": prometheus_file_sd}
