#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check, before any write, that the cluster serves what the steps write and that they may write it
version_added: 1.1.0
description:
  - Fails, naming each missing API group and each denied right with the step that needs it, when the API server
    does not serve an API group the steps write (for example C(crd.projectcalico.org/v1), Calico's Kubernetes
    datastore) or the identity of the connection may not do a write the steps need. The roles run it in their
    up-front checks, so a run stops before its first write instead of after some steps changed the cluster.
  - Costs one GET C(/apis) for all groups, one SelfSubjectAccessReview per cluster-scoped right (in parallel), one
    SelfSubjectRulesReview per namespace named in O(rights), and one SelfSubjectAccessReview per namespaced right
    its namespace's rules do not show (a refusal is always confirmed by one). Reviews are POST requests that store
    nothing; RV(api_calls) counts them as writes.
  - A cluster-scoped right is never read from a namespace's rules review, which also lists the rules that
    namespace's RoleBindings grant. Rules are matched as Kubernetes' RBAC does (C(*), C(resource/subresource),
    C(*/subresource); C(pods/*) grants no subresource).
author:
  - secure_cluster maintainers (@containers-workload)
options:
  api_groups:
    description: API groups (group/version) the steps write.
    type: list
    elements: dict
    default: []
    suboptions:
      group_version:
        description: For example C(crd.projectcalico.org/v1).
        type: str
        required: true
      why:
        description: The step and what it writes there, for the message.
        type: str
        required: true
      fix:
        description: What to do when this group is missing, instead of O(api_groups_fix).
        type: str
  api_groups_fix:
    description: What to do when a group is missing, appended to the message.
    type: str
  defer:
    description:
      - Run none of these checks now, but queue them (in a host fact of this ansible-playbook run) for the next
        preflight task with O(queued). The composing role queues every step's checks, then judges them together.
      - Not with O(identity), whose answer is needed at once.
    type: bool
    default: false
  queued:
    description:
      - Also run the checks that earlier tasks of this run queued with O(defer), in the same reviews as this call's
        own, then empty the queue. Each queued API group keeps its step's fix. With nothing queued and nothing of
        its own, it makes no request.
    type: bool
    default: false
  resources:
    description: Resources the steps write that a group/version must serve (one discovery GET per group/version),
      for example C(validatingadmissionpolicies) of C(admissionregistration.k8s.io/v1) (Kubernetes 1.30 and later).
    type: list
    elements: dict
    default: []
    suboptions:
      group_version:
        description: For example C(admissionregistration.k8s.io/v1); V(v1) is the core group.
        type: str
        required: true
      resource:
        description: Resource (plural).
        type: str
        required: true
      why:
        description: The step and what it writes, for the message.
        type: str
        required: true
  service_accounts:
    description: ServiceAccounts that must exist (for example the subjects a step exempts).
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Its namespace.
        type: str
        required: true
      name:
        description: Its name.
        type: str
        required: true
      why:
        description: Why the step needs it, for the message.
        type: str
        required: true
  identity:
    description: Also return who the connection is (RV(identity), one SelfSubjectReview).
    type: bool
    default: false
  rights:
    description: Writes the steps need, as for C(kubectl auth can-i VERB RESOURCE[/SUBRESOURCE] -n NAMESPACE).
    type: list
    elements: dict
    default: []
    suboptions:
      verb:
        description: For example C(patch), C(create), C(update).
        type: str
        required: true
      resource:
        description: Resource (plural), for example C(nodes).
        type: str
        required: true
      subresource:
        description: For example C(eviction) of C(pods).
        type: str
      group:
        description: API group; V("") is the core group.
        type: str
        default: ""
      namespace:
        description: Namespace of the write; omitted (with O(rights[].namespaces)) for cluster-scoped resources.
        type: str
      namespaces:
        description: The same write in each of these namespaces (none when empty).
        type: list
        elements: str
      why:
        description: The step and what it writes, for the message.
        type: str
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.info
"""

EXAMPLES = r"""
- name: Refuse before the first write what the edge step could not do
  containers_workload.secure_cluster.preflight:
    rights:
      - {verb: patch, resource: nodes, why: "edge_nodes: label and taint the edge nodes"}
      - {verb: create, resource: pods, subresource: eviction, namespace: kube-system,
         why: "edge_nodes: move the ALB pods onto the edge nodes"}
    api_groups:
      - {group_version: crd.projectcalico.org/v1, why: "nodeport_lockdown: the preDNAT GlobalNetworkPolicy"}

- name: Queue one step's rights (changing nothing, making no request)
  containers_workload.secure_cluster.preflight:
    rights:
      - {verb: create, resource: services, namespace: shop, why: "private_load_balancer: the private Services"}
    defer: true

- name: Check what the steps queued, and this task's own, in one module run
  containers_workload.secure_cluster.preflight:
    rights:
      - {verb: patch, resource: nodes, why: "edge_nodes: label and taint the edge nodes"}
    queued: true
"""

RETURN = r"""
missing_api_groups:
  description: The group/versions the API server does not serve (empty unless the module failed).
  returned: always
  type: list
  elements: str
missing_resources:
  description: The O(resources) not served, as C(<group/version> <resource>) (empty unless the module failed).
  returned: always
  type: list
  elements: str
missing_service_accounts:
  description: The O(service_accounts) that do not exist, as C(<namespace>/<name>) (empty unless the module failed).
  returned: always
  type: list
  elements: str
identity:
  description: Who the connection is, as the API server authenticates it.
  returned: with O(identity)
  type: dict
  sample: {username: "system:serviceaccount:ops:secure-cluster", groups: ["system:serviceaccounts"]}
denied:
  description: The rights the identity lacks, as text (empty unless the module failed).
  returned: always
  type: list
  elements: str
  sample: ["patch nodes (cluster-wide)"]
api_calls:
  description: How many API requests the run made (the reviews count as writes, though they store nothing).
  returned: always
  type: dict
deferred:
  description: The checks were queued, not run (O(defer)).
  returned: with O(defer)
  type: bool
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import preflight
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "api_groups": {"type": "list", "elements": "dict", "default": [], "options": {
        "group_version": {"type": "str", "required": True},
        "why": {"type": "str", "required": True},
        "fix": {"type": "str"},
    }},
    "api_groups_fix": {"type": "str"},
    # Handled by the action plugin (plugins/action/preflight.py), which queues or merges the checks.
    "defer": {"type": "bool", "default": False},
    "queued": {"type": "bool", "default": False},
    "resources": {"type": "list", "elements": "dict", "default": [], "options": {
        "group_version": {"type": "str", "required": True},
        "resource": {"type": "str", "required": True},
        "why": {"type": "str", "required": True},
    }},
    "service_accounts": {"type": "list", "elements": "dict", "default": [], "options": {
        "namespace": {"type": "str", "required": True},
        "name": {"type": "str", "required": True},
        "why": {"type": "str", "required": True},
    }},
    "identity": {"type": "bool", "default": False},
    "rights": {"type": "list", "elements": "dict", "default": [], "options": {
        "verb": {"type": "str", "required": True},
        "resource": {"type": "str", "required": True},
        "subresource": {"type": "str"},
        "group": {"type": "str", "default": ""},
        "namespace": {"type": "str"},
        "namespaces": {"type": "list", "elements": "str"},
        "why": {"type": "str"},
    }},
}


def main() -> None:
    run_module("preflight", ARGUMENT_SPEC, preflight.run, errors=preflight.param_errors)


if __name__ == "__main__":
    main()
