#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: edge_nodes
short_description: Label and taint worker nodes so only networking workloads run there
version_added: 1.0.0
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
  per_zone:
    description:
      - Choose this many nodes in each zone (zone from the C(ibm-cloud.kubernetes.io/zone) or
        C(topology.kubernetes.io/zone) label), among the nodes O(selector) matches, or all nodes without it.
      - Nodes that already are edge nodes are kept first, so re-runs do not move the edge role around;
        cordoned nodes are never picked.
      - V(0) turns this off.
    type: int
    default: 0
  min_per_zone:
    description:
      - Fewest edge nodes each zone must end up with (O(state=present)); below that the run fails with the
        counts per zone and changes nothing.
      - IBM needs at least 2 edge nodes per zone for load balancers and 3 for ALBs (ALB pods refuse to
        share a node and roll one at a time during updates).
    type: int
    default: 0
  eviction_check:
    description:
      - When a node newly gets a NoExecute taint, list the pods it would evict (pods without a matching
        toleration) and the DaemonSets that would leave the edge nodes, and check that the remaining
        workers have room for the evicted pods (CPU and memory requests, placed node by node, largest first).
        Fails without room unless O(force).
      - Costs two LIST requests (pods, DaemonSets), and only when a NoExecute taint is added.
    type: bool
    default: false
  workloads:
    description:
      - Networking workloads that are to run on the edge nodes (as O(containers_workload.secure_cluster.edge_workloads#module:workloads)),
        checked before any write with O(state=present) - each live pod must be able to run on an edge node
        once it is labelled and tainted (nodeSelector, required node affinity, tolerations of the edge taints),
        and each pod on another node must be kept off the other nodes by its nodeSelector or node affinity
        (or prefer the edge nodes, as IKS's ALBs prefer C(dedicated=edge)).
      - C(edge_workloads) does not change a workload, it evicts its pods and relies on their spec; a pod that
        cannot follow the edge marker fails the run before any write, naming the pods, what they lack and the
        options that fix it. O(force) does not override this.
      - Reads the pods from the pod LIST of O(eviction_check) when that runs, else one LIST per entry. RV(workloads)
        says which pods the move would evict.
    type: list
    elements: dict
    suboptions:
      namespace:
        description: Namespace of the pods.
        type: str
        required: true
      selector:
        description: Label selector of the pods.
        type: str
      name_regex:
        description: Python regular expression the pod name must match (searched, not anchored).
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
        description:
          - Taint value; V("") when omitted with O(state=present).
          - With O(state=absent), only taints with this value are removed; omitted, any value.
        type: str
      effect:
        description:
          - Taint effect; required with O(state=present).
          - With O(state=absent), omitted means every effect, as C(kubectl taint nodes <n> key-); given, only
            that effect, as C(kubectl taint nodes <n> key:effect-).
        type: str
        choices: [NoSchedule, PreferNoSchedule, NoExecute]
  state:
    description:
      - V(present) adds the labels and taints to the chosen nodes.
      - V(absent) removes the labels whose value matches, and the taints that O(taints) covers (a taint
        given by key alone covers that key's taints of every effect and value; a value or an effect narrows
        it). Other values are someone else's and stay.
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
    description:
      - Carry out a plan that breaks O(min_edge_nodes), O(min_per_zone), O(min_schedulable_workers) or the
        room check of O(eviction_check); a warning says which.
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

- name: Two edge nodes in every zone, picked from the workers; preview what NoExecute would evict
  containers_workload.secure_cluster.edge_nodes:
    per_zone: 2
    min_per_zone: 2
    eviction_check: true
  check_mode: true
  register: edge_preview

- name: Label only (no taints), for example before moving the ALBs
  containers_workload.secure_cluster.edge_nodes:
    selector: dedicated=edge
    taints: []

- name: Undo, so no node is an edge node any more
  containers_workload.secure_cluster.edge_nodes:
    state: absent

- name: Remove every taint with the key dedicated, whatever its effect and value (kubectl taint nodes N dedicated-)
  containers_workload.secure_cluster.edge_nodes:
    nodes: [10.176.48.10]
    state: absent
    labels: {}
    taints:
      - key: dedicated
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
zones:
  description: Per zone (C("") for nodes without a zone label), how many nodes it has and how many are edge nodes after the run.
  returned: always
  type: dict
  sample: {dal10: {nodes: 3, edge: 2}, dal12: {nodes: 3, edge: 2}}
evictions:
  description:
    - With O(eviction_check), when NoExecute taints are added, what they evict and whether there is room
      for it; C(null) otherwise.
  returned: always
  type: dict
  sample:
    pods:
      - {namespace: default, name: web-5d8f-abcde, node: 10.176.48.10, owner: ReplicaSet}
    daemonsets_leaving_edge_nodes: [ibm-observe/logdna-agent]
    requests_to_reschedule: {cpu: 0.5, memory: 268435456}
    free_on_other_workers: {cpu: 11.2, memory: 45097156608}
    unplaceable: []
    fits: true
workloads:
  description:
    - With O(workloads) and O(state=present), the pods the move onto the edge nodes would evict (C(to_move)) and
      the workloads that cannot follow the edge marker (C(cannot_follow), empty when the run got this far);
      C(null) otherwise.
  returned: always
  type: dict
  sample:
    to_move: [{namespace: kube-system, name: public-crabc-alb1-7fd4fc8f86-hpbqc, node: 10.176.50.12}]
    cannot_follow: []
api_calls:
  description: How many API requests the run made.
  returned: always
  type: dict
  sample: {reads: 1, writes: 2}
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes import edge as edge_nodes
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "nodes": {"type": "list", "elements": "str", "default": []},
    "selector": {"type": "str"},
    "labels": {"type": "dict", "default": edge_nodes.EDGE_LABELS},
    "taints": {
        "type": "list", "elements": "dict",
        "default": edge_nodes.EDGE_TAINTS,
        "options": {
            "key": {"type": "str", "required": True, "no_log": False},
            "value": {"type": "str"},
            "effect": {"type": "str", "choices": list(edge_nodes.EFFECTS)},
        },
    },
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "exclusive": {"type": "bool", "default": False},
    "per_zone": {"type": "int", "default": 0},
    "min_per_zone": {"type": "int", "default": 0},
    "eviction_check": {"type": "bool", "default": False},
    "workloads": {"type": "list", "elements": "dict", "options": {
        "namespace": {"type": "str", "required": True},
        "selector": {"type": "str"},
        "name_regex": {"type": "str"},
    }},
    "min_edge_nodes": {"type": "int", "default": 2},
    "min_schedulable_workers": {"type": "int", "default": 1},
    "force": {"type": "bool", "default": False},
}


def main() -> None:
    run_module("edge_nodes", ARGUMENT_SPEC, edge_nodes.run, errors=edge_nodes.param_errors)


if __name__ == "__main__":
    main()
