#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: exposure_info
short_description: Audit what in the cluster is reachable from where, and who can do what
version_added: 1.0.0
description:
  - Read-only audit (LIST requests only, so a view-only kubeconfig is enough) of NodePort and LoadBalancer
    Services (public or private, NodePorts blocked by a preDNAT policy or not), Ingresses and the ALB or class
    serving them, enabled ALBs, hostNetwork and hostPort pods, pods on edge nodes without the edge toleration,
    namespaces without a default-deny policy, and the strongSwan VPN pod.
  - Who can do what (one LIST each of ClusterRoles, ClusterRoleBindings, Roles, RoleBindings and
    ServiceAccounts), reporting bindings of roles with all verbs on all resources (such as C(cluster-admin)) or that read
    Secrets cluster-wide, create C(pods/exec), escalate, bind, impersonate or write RBAC, and who holds them
    (high when the subject is C(system:authenticated), C(system:unauthenticated), C(system:anonymous) or every
    service account); service accounts whose token is mounted into pods and that hold such rights; C(default)
    service accounts with bindings. Kubernetes' bootstrap RBAC, IKS-managed components and the bindings IBM
    Cloud IAM syncs (C(ibm-admin), C(ibm-operate), C(ibm-edit), C(ibm-view)) are reported as info.
    RBAC this identity may not list is reported as unknown, not as a failure.
  - Each finding has a severity (high, medium, low, info), the object, what is exposed, and the fix.
author:
  - secure_cluster maintainers (@containers-workload)
options:
  edge_labels:
    description:
      - Labels that mark an edge node (playbooks pass C(secure_cluster_edge_labels)); pods on such nodes without
        tolerations of O(edge_taints) are reported.
    type: dict
    default:
      dedicated: edge
  edge_taints:
    description: Taints of the edge nodes (playbooks pass C(secure_cluster_edge_taints)).
    type: list
    elements: dict
    default:
      - key: dedicated
        value: edge
        effect: NoSchedule
      - key: dedicated
        value: edge
        effect: NoExecute
    suboptions:
      key:
        description: Taint key.
        type: str
        required: true
      value:
        description: Taint value.
        type: str
        default: ""
      effect:
        description: Taint effect.
        type: str
        required: true
        choices: [NoSchedule, PreferNoSchedule, NoExecute]
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
  description:
    - What is exposed, most severe first, each with C(severity), C(kind), C(object), C(exposure) and C(fix).
    - Access findings (who can do what) also carry C(area=access); their C(kind) is C(ClusterRoleBinding),
      C(RoleBinding), C(ServiceAccount) or C(Access).
  returned: always
  type: list
  elements: dict
  sample:
    - severity: high
      kind: NodePort
      object: shop/web
      exposure: NodePort 30080/TCP open on every node's public interface
      fix: role nodeport_lockdown (preDNAT deny of the NodePort range)
    - severity: high
      kind: ClusterRoleBinding
      object: anyone-admin
      exposure: "ClusterRole cluster-admin grants all verbs on all resources cluster-wide to group
        system:authenticated: group system:authenticated stands for everyone or for every service account"
      fix: remove the broad subject; bind named users, groups or service accounts
      area: access
summary:
  description:
    - Counts per severity, the provider, whether every NodePort is blocked, public ALBs enabled, VPN present,
      how many nodes carry the edge labels, and C(access_unknown), the RBAC kinds this identity may not list.
  returned: always
  type: dict
  sample: {high: 1, medium: 2, low: 3, info: 4, provider: ibm, nodeports_blocked: false, public_albs_enabled: 1,
           vpn: false, edge_nodes: 6, access_unknown: []}
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import exposure_info
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.edge_nodes import EDGE_LABELS, EDGE_TAINTS, EFFECTS
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "edge_labels": {"type": "dict", "default": EDGE_LABELS},
    "edge_taints": {"type": "list", "elements": "dict", "default": EDGE_TAINTS, "options": {
        "key": {"type": "str", "required": True, "no_log": False},
        "value": {"type": "str", "default": ""},
        "effect": {"type": "str", "required": True, "choices": list(EFFECTS)},
    }},
}


def main() -> None:
    run_module("exposure_info", ARGUMENT_SPEC, exposure_info.run)


if __name__ == "__main__":
    main()
