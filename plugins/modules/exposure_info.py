#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: exposure_info
short_description: Audit what in the cluster is reachable from where
version_added: 1.0.0
description:
  - Read-only audit (LIST requests only, so a view-only kubeconfig is enough) of NodePort and LoadBalancer
    Services (public or private, NodePorts blocked by a preDNAT policy or not), Ingresses and the ALB or class
    serving them, enabled ALBs, hostNetwork and hostPort pods, pods on edge nodes without the edge toleration,
    namespaces without a default-deny policy, and the strongSwan VPN pod.
  - Each finding has a severity (high, medium, low, info), the object, what is exposed, and the fix.
author:
  - secure_cluster maintainers (@containers-workload)
options: {}
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.info
"""

EXAMPLES = r"""
- name: Audit the cluster's exposure
  containers_workload.secure_cluster.exposure_info:
  register: exposure

- name: Fail when anything is exposed with high severity
  ansible.builtin.assert:
    that: exposure.summary.high == 0
"""

RETURN = r"""
findings:
  description: What is exposed, most severe first.
  returned: always
  type: list
  elements: dict
  sample:
    - severity: high
      kind: NodePort
      object: shop/web
      exposure: NodePort 30080/TCP open on every node's public interface
      fix: role nodeport_lockdown (preDNAT deny of the NodePort range)
summary:
  description: Counts per severity, the provider, whether every NodePort is blocked, public ALBs enabled, VPN present.
  returned: always
  type: dict
  sample: {high: 1, medium: 2, low: 3, info: 4, provider: ibm, nodeports_blocked: false, public_albs_enabled: 1, vpn: false}
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import exposure_info
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.runner import run_module


def main() -> None:
    run_module("exposure_info", dict(AUTH_ARG_SPEC), exposure_info.run)


if __name__ == "__main__":
    main()
