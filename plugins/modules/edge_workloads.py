#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: edge_workloads
short_description: Move networking pods that run on non-edge nodes onto the edge nodes
version_added: 1.0.0
description:
  - Labelling edge nodes does not move networking workloads that already run elsewhere. This module finds
    the pods of the given workloads (for example the ALB Deployments and the C(ibm-cloud-provider-ip-*)
    load-balancer pods) that run on nodes without the edge labels, and evicts them one at a time through
    the Eviction API (PodDisruptionBudgets are honoured). Before the next eviction it waits until the
    pod's owner is back to the number of ready pods it had.
  - Afterwards it checks that no matching pod is left on a non-edge node and fails, naming them, if one is.
  - It never changes a workload's spec; it relies on the pods' own tolerations and node affinity. Check before
    any write that they can follow the edge marker with the O(containers_workload.secure_cluster.edge_nodes#module:workloads)
    option of the edge_nodes module (the edge_nodes role does, in its plan).
  - Run it after labelling the edge nodes and before tainting them.
author:
  - secure_cluster maintainers (@containers-workload)
options:
  workloads:
    description: The networking workloads to re-place.
    type: list
    elements: dict
    required: true
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
  nodes:
    description:
      - Names of the edge nodes. Without it, the edge nodes are the nodes carrying O(edge_labels).
      - Pass the chosen names when the nodes are not labelled yet, for example in check mode.
    type: list
    elements: str
  edge_labels:
    description: Labels that mark an edge node (used when O(nodes) is not given).
    type: dict
    default:
      dedicated: edge
  timeout:
    description: Seconds to wait, per evicted pod, for its owner to be back to its ready count.
    type: int
    default: 300
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
attributes:
  check_mode:
    support: full
    details: Lists the pods that would be moved without evicting any.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Once every matching pod runs on an edge node, nothing is evicted.
"""

EXAMPLES = r"""
- name: Move the IKS ALBs and load-balancer pods onto the edge nodes
  containers_workload.secure_cluster.edge_workloads:
    workloads:
      - namespace: kube-system
        name_regex: '^(public|private)-cr[a-z0-9]+-alb[0-9]+-'
      - namespace: ibm-system
        name_regex: '^ibm-cloud-provider-ip-'
"""

RETURN = r"""
moved:
  description: The pods evicted (in check mode, the pods that would be) and the node each was on.
  returned: always
  type: list
  elements: dict
  sample: [{namespace: kube-system, name: public-crabc-alb1-7fd4fc8f86-hpbqc, node: 10.176.50.12}]
edge_nodes:
  description: Names of the nodes carrying the edge labels.
  returned: always
  type: list
  elements: str
api_calls:
  description: How many API requests the run made.
  returned: always
  type: dict
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes import workloads as edge_workloads
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes.edge import EDGE_LABELS
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "workloads": {"type": "list", "elements": "dict", "required": True, "options": {
        "namespace": {"type": "str", "required": True},
        "selector": {"type": "str"},
        "name_regex": {"type": "str"},
    }},
    "nodes": {"type": "list", "elements": "str"},
    "edge_labels": {"type": "dict", "default": EDGE_LABELS},
    "timeout": {"type": "int", "default": 300},
}


def main() -> None:
    run_module("edge_workloads", ARGUMENT_SPEC, edge_workloads.run, errors=edge_workloads.param_errors)


if __name__ == "__main__":
    main()
