#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: edge_nodes
short_description: Label and taint worker nodes so only networking workloads run there
version_added: 0.1.0
description:
  - Marks the chosen worker nodes as edge nodes, the IKS way (C(kubectl label nodes <n1> <n2> dedicated=edge),
    then C(kubectl taint node <n> dedicated=edge:NoSchedule dedicated=edge:NoExecute)), for many nodes in one run.
  - Reads the nodes with one LIST request, then sends one PATCH per node that actually changes; nothing is
    written when nothing changes.
  - Taints are matched on key and effect; a new value replaces the old one in place. Other labels and taints
    on the nodes are never touched.
  - Every input is validated before the first write, and plans that would leave fewer than O(min_edge_nodes)
    edge nodes or fewer than O(min_schedulable_workers) nodes for ordinary workloads are refused unless O(force).
author:
  - secure_cluster maintainers (@containers-workload)
options:
  nodes:
    description:
      - Names of the nodes to make edge nodes (or, with O(state=absent), ordinary nodes again).
      - Unknown names are an error, all reported at once.
    type: list
    elements: str
    default: []
  selector:
    description:
      - Label selector choosing nodes, as for C(kubectl -l), for example C(ibm-cloud.kubernetes.io/worker-pool-name=edge).
      - Combined with O(nodes), a node is chosen when either picks it.
    type: str
  labels:
    description: Labels that mark an edge node.
    type: dict
    default:
      dedicated: edge
  taints:
    description: Taints that keep other workloads off edge nodes.
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
  state:
    description:
      - V(present) adds the labels and taints to the chosen nodes.
      - V(absent) removes them where key, value (and effect) match; other values are someone else's and stay.
        Without O(nodes) and O(selector), it removes them from every node.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also remove the edge labels and taints from nodes that are not chosen, so the
        edge set is exactly the chosen nodes. Use it to converge drift after workers were replaced.
    type: bool
    default: false
  min_edge_nodes:
    description:
      - Fewest edge nodes the result may have with O(state=present). IBM recommends at least two per zone.
    type: int
    default: 2
  min_schedulable_workers:
    description:
      - Fewest nodes that must stay free of NoSchedule/NoExecute taints (and not cordoned), so ordinary
        workloads keep a place to run.
    type: int
    default: 1
  force:
    description: Carry out a plan that breaks O(min_edge_nodes) or O(min_schedulable_workers); a warning says which.
    type: bool
    default: false
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
attributes:
  check_mode:
    support: full
    details: Reads the nodes and reports the exact changes without writing.
  diff_mode:
    support: full
    details: Before and after labels and taints of each node that changes.
  idempotent:
    support: full
seealso:
  - name: IBM Cloud Kubernetes Service edge nodes
    description: Isolating networking workloads to edge worker nodes.
    link: https://cloud.ibm.com/docs/containers?topic=containers-edge
"""

EXAMPLES = r"""
- name: Make two workers edge nodes (label dedicated=edge, taint NoSchedule and NoExecute)
  containers_workload.secure_cluster.edge_nodes:
    nodes:
      - 10.176.48.10
      - 10.176.49.11

- name: Make every node of the "edge" worker pool an edge node, and no other node
  containers_workload.secure_cluster.edge_nodes:
    selector: ibm-cloud.kubernetes.io/worker-pool-name=edge
    exclusive: true
    kubeconfig: ~/.kube/prod-dal10
    context: prod-dal10/admin
    expected_cluster: c8f1k2s20c3j5t8d9a0b

- name: Label only (no taints), for example before moving the ALBs
  containers_workload.secure_cluster.edge_nodes:
    selector: dedicated=edge
    taints: []

- name: Undo, so no node is an edge node any more
  containers_workload.secure_cluster.edge_nodes:
    state: absent
"""

RETURN = r"""
nodes:
  description: The chosen nodes and every node that changes, with their labels and taints before and after.
  returned: always
  type: list
  elements: dict
  sample:
    - name: 10.176.48.10
      selected: true
      changed: true
      before: {labels: {kubernetes.io/hostname: 10.176.48.10}, taints: []}
      after:
        labels: {kubernetes.io/hostname: 10.176.48.10, dedicated: edge}
        taints:
          - {key: dedicated, value: edge, effect: NoSchedule}
          - {key: dedicated, value: edge, effect: NoExecute}
edge_nodes:
  description: Names of the nodes that carry all the edge labels and taints after the run (state=present).
  returned: always
  type: list
  elements: str
  sample: [10.176.48.10, 10.176.49.11]
schedulable_workers:
  description: Names of the nodes ordinary workloads can still be scheduled on after the run.
  returned: always
  type: list
  elements: str
  sample: [10.176.50.12]
api_calls:
  description: How many API requests the run made.
  returned: always
  type: dict
  sample: {reads: 1, writes: 2}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import nodes
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import (
    AUTH_ARG_SPEC, KubeError, connect)

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "nodes": {"type": "list", "elements": "str", "default": []},
    "selector": {"type": "str"},
    "labels": {"type": "dict", "default": {"dedicated": "edge"}},
    "taints": {
        "type": "list", "elements": "dict",
        "default": [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"},
                    {"key": "dedicated", "value": "edge", "effect": "NoExecute"}],
        "options": {
            "key": {"type": "str", "required": True, "no_log": False},
            "value": {"type": "str", "default": ""},
            "effect": {"type": "str", "required": True, "choices": list(nodes.EFFECTS)},
        },
    },
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "exclusive": {"type": "bool", "default": False},
    "min_edge_nodes": {"type": "int", "default": 2},
    "min_schedulable_workers": {"type": "int", "default": 1},
    "force": {"type": "bool", "default": False},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        nodes.validate(module.params)
        result = nodes.run(connect(module.params, agent="secure_cluster/edge_nodes"), module.params,
                           module.check_mode)
    except (KubeError, nodes.PlanError) as exc:
        module.fail_json(msg=str(exc))
    diff = result.pop("diff")
    for warning in result.pop("warnings"):
        module.warn(warning)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
