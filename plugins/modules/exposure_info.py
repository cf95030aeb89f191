#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: exposure_info
short_description: Audit what in the cluster is reachable from where, and who can do what
version_added: 1.0.0
description:
  - Read-only audit (LIST requests, and dry runs that store nothing where the admission guard is; a view-only
    kubeconfig is enough) of NodePort and LoadBalancer
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
    Each user, group and service account with a privilege-escalation path (the capabilities above, and create
    pods or workloads, C(serviceaccounts/token), C(nodes/proxy), patch or delete Nodes, PersistentVolumes,
    admission webhook configurations, CSR approval, C(pods/ephemeralcontainers), C(pods/attach)) is a
    C(Subject) finding that names each path, its scope and binding. RBAC this identity may not list is reported
    as unknown, not as a failure.
  - Calico (GlobalNetworkPolicies, HostEndpoints, NetworkPolicies, FelixConfiguration C(default)) is read through
    the same backend as M(containers_workload.secure_cluster.calico_policy) (O(backend)), so clusters whose Calico
    keeps its data in etcd are audited too; with O(backend=auto) and no way to reach Calico, Calico counts as empty
    and a warning says why.
  - Tamper findings say who other than the platform's own (see O(platform_subjects)) could undo or read what the
    pattern set (the edge taints and labels, each Calico policy, private-only ingress, each private LoadBalancer
    Service, the VPN Secret).
  - When the cluster has the admission guard (the admission_guard role's ValidatingAdmissionPolicies), each path
    of a tamper finding is also tried as each subject that RBAC lets take it, by a server-side dry run
    (C(dryRun=All), impersonating the subject; nothing is stored); a path the API server refuses is C(blocked by
    the admission guard). This needs the C(impersonate) right on users, groups and service accounts; without it
    the path is C(not judged). The guard's own policies are findings too (missing, changed, not bound, warning
    only, in place), and one the last audit found in place and that is gone now is C(missing), and so is one of
    O(admission_guard) that the cluster does not have.
  - Edge nodes (by O(edge_labels)) that lack one of O(edge_taints) are reported (kind C(EdgeNode), one finding
    per missing taint).
  - Each finding has a severity (high, medium, low, info), the object, what is exposed, and the fix.
  - With O(report), the audit also keeps the cluster's state, the findings above C(info), in
    C(<dir>/<name>.last.json); the O(report.phase=before) audit names what reappeared since that state (RV(drift)).
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
  platform_subjects:
    description:
      - Subjects that are the platform's own besides those the audit recognises by itself (C(system:) users and
        groups other than the ones that stand for everyone, service accounts of C(kube-system), subjects of
        Kubernetes' bootstrap RBAC and of IKS-managed components), each as C(User:<name>), C(Group:<name>) or
        C(ServiceAccount:<namespace>/<name>); name the identity that runs the audit and the pattern here.
      - Their escalation paths are C(info), and they are left out of the tamper findings (who could undo or read
        what the pattern set).
    type: list
    elements: str
    default: []
  admission_guard:
    description:
      - The admission guard's objects (ValidatingAdmissionPolicies and their bindings) as the run that installs it
        makes them (the admission_guard role passes them); each one the cluster lacks, or has changed, is a high
        finding. Empty, the audit judges the guard the cluster has and the last audit found.
    type: list
    elements: dict
    default: []
    version_added: 1.1.0
  report:
    description:
      - Also write the exposure report, C(<dir>/<name>-<phase>.md) where the module runs (the controller, with a
        local connection) and C(.html) on the controller (the action plugin renders it from a template that
        escapes every value). A file that already reads the same is not written again; nothing is written in
        check mode. The O(report.phase=after) report lists what was closed since O(report.compare_with).
      - Either phase also writes the cluster's state C(<dir>/<name>.last.json) (the findings above C(info), mode
        0644), only when it reads differently and not in check mode. The O(report.phase=before) report compares
        the cluster with it, in RV(drift) and the report's section "Reappeared since the last report" (without a
        state, the cluster's first audit, there is nothing to compare with). A state that cannot be read (empty,
        truncated, not what an audit writes) is named in a warning and in the report, read as no state, and
        replaced by this audit's.
      - Every file is written whole (a temporary file in the same directory, synced, then renamed over the old
        one), so a run that is killed or a disk that fills leaves the previous file. A file keeps its mode; a new
        one is 0644.
      - The role C(containers_workload.secure_cluster.exposure_report) writes the reports before and after the
        pattern's steps with this option.
    type: dict
    suboptions:
      dir:
        description: Directory of the reports, made when missing.
        type: path
        required: true
      name:
        description: The cluster's name in the report and its file names (playbooks pass C(inventory_hostname)).
        type: str
        required: true
      phase:
        description: C(before) or C(after) the changes of the run; only the C(before) report compares with the last state.
        type: str
        choices: [before, after]
        default: before
      also_after:
        description:
          - With O(report.phase=before), also write the after report from the same audit (nothing closed), for a
            run whose steps had nothing to do. Its paths are under C(after) in RV(report).
        type: bool
        default: false
        version_added: 1.1.0
      plan:
        description: The steps of the run and whether each is on, shown as a table.
        type: dict
        default: {}
      compare_with:
        description:
          - The RV(findings) of the audit before the changes; objects with a finding above C(info) there and none
            now are listed as closed.
        type: list
        elements: dict
        default: []
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.calico_backend
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

- name: Audit again after a change, and write the report with what was closed since the first audit
  containers_workload.secure_cluster.exposure_info:
    report:
      dir: /srv/exposure-reports
      name: "{{ inventory_hostname }}"
      phase: after
      compare_with: "{{ exposure.findings }}"
  register: exposure_after

- name: Audit nightly, and fail when something reappeared since the cluster's last report
  containers_workload.secure_cluster.exposure_info:
    report:
      dir: /srv/exposure-reports
      name: "{{ inventory_hostname }}"
  register: exposure
  failed_when: exposure.summary.drift > 0
"""

RETURN = r"""
calico_backend:
  description: The backend Calico was read through (C(api) or C(calicoctl), empty when none could be used) and why.
  returned: always
  type: dict
  sample: {"backend": "api", "reason": "auto chose api: the Kubernetes API serves crd.projectcalico.org/v1 ..."}
drift:
  description:
    - The findings above C(info) of a O(report.phase=before) audit whose identity the cluster's last state
      (C(<dir>/<name>.last.json)) did not have at this severity or a higher one. The identity is the area, kind,
      object (C(workload) for a pod) and C(nature); so a NodePort blocked then and open now, an edge taint removed, a
      public ALB switched back on, and a finding gone from low to high are each drift.
    - Empty without O(report), in the O(report.phase=after) audit, and in the cluster's first audit (no state).
  returned: always
  type: list
  elements: dict
  sample:
    - severity: medium
      kind: EdgeNode
      object: worker-3
      exposure: "edge node without taint dedicated=edge:NoExecute: pods without the edge toleration may run on it"
      fix: role edge_nodes (it taints the edge nodes)
      nature: dedicated=edge:NoExecute
findings:
  description:
    - What is exposed, most severe first, each with C(severity), C(kind), C(object), C(exposure) and C(fix).
    - Access findings (who can do what) also carry C(area=access); their C(kind) is C(ClusterRoleBinding),
      C(RoleBinding), C(Subject), C(ServiceAccount) or C(Access). A C(Subject) finding names the subject's
      escalation paths and carries them as C(paths), each with C(path) (an identifier such as C(pods),
      C(token), C(nodes_proxy), C(webhooks), C(csr); docs/exposure_report.md lists them), C(scope)
      (C(cluster-wide) or the namespace), C(via) (the binding) and C(severity).
    - C(nature) tells apart findings of one kind on one object (C(NodePort) findings the port, C(EdgeNode) the
      missing taint, an Ingress the cut-off backend); findings of pods carry C(workload), what runs the pod
      (C(namespace/name) of its controller, a Deployment for a ReplicaSet). Drift compares them (RV(drift)).
    - Tamper findings (who other than the platform's own could undo or read a control the pattern set, such as the
      edge marker, each Calico policy, private-only ingress, the VPN Secret) carry C(area=tamper), C(kind=Tamper)
      and C(subjects) (as O(platform_subjects) names them).
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
report:
  description:
    - Paths of the Markdown and HTML reports, the ones this run wrote (C(written); empty when both already read
      the same, or in check mode), and what was closed since O(report.compare_with) (C(closed) network objects,
      C(closed_access) as C(Kind object)).
    - C(state) is the path of the cluster's state (in C(written) when this audit wrote it); C(state_unreadable)
      says why the state there could not be read (it is rebuilt), empty when it could.
    - C(after) holds the same for the after report O(report.also_after) wrote with this one.
  returned: when O(report) is given
  type: dict
  sample: {md: /srv/reports/cluster-a-after.md, html: /srv/reports/cluster-a-after.html,
           state: /srv/reports/cluster-a.last.json,
           written: [/srv/reports/cluster-a-after.md, /srv/reports/cluster-a-after.html],
           closed: [shop/web], closed_access: [ClusterRoleBinding anyone-admin], state_unreadable: ""}
summary:
  description:
    - Counts per severity, the provider, whether every NodePort is blocked, public ALBs enabled, VPN present,
      how many nodes carry the edge labels, C(access_unknown), the RBAC kinds this identity may not list, and
      C(drift), how many findings RV(drift) lists.
  returned: always
  type: dict
  sample: {high: 1, medium: 2, low: 3, info: 4, provider: ibm, nodeports_blocked: false, public_albs_enabled: 1,
           vpn: false, edge_nodes: 6, access_unknown: [], drift: 0}
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import exposure as exposure_info
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes.edge import EDGE_LABELS, EDGE_TAINTS, EFFECTS
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.backend import BACKEND_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    **BACKEND_ARG_SPEC,
    "edge_labels": {"type": "dict", "default": EDGE_LABELS},
    "edge_taints": {"type": "list", "elements": "dict", "default": EDGE_TAINTS, "options": {
        "key": {"type": "str", "required": True, "no_log": False},
        "value": {"type": "str", "default": ""},
        "effect": {"type": "str", "required": True, "choices": list(EFFECTS)},
    }},
    "platform_subjects": {"type": "list", "elements": "str", "default": []},
    "admission_guard": {"type": "list", "elements": "dict", "default": []},
    "report": {"type": "dict", "options": {
        "dir": {"type": "path", "required": True},
        "name": {"type": "str", "required": True},
        "phase": {"type": "str", "choices": ["before", "after"], "default": "before"},
        "plan": {"type": "dict", "default": {}},
        "compare_with": {"type": "list", "elements": "dict", "default": []},
        "also_after": {"type": "bool", "default": False},
    }},
}


def main() -> None:
    run_module("exposure_info", ARGUMENT_SPEC, exposure_info.run, errors=exposure_info.param_errors)


if __name__ == "__main__":
    main()
