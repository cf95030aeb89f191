#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: calico_policy
short_description: Apply or remove Calico policies, network sets and host endpoints
version_added: 1.0.0
description:
  - Manages many Calico resources in one run (GlobalNetworkPolicy, NetworkPolicy, GlobalNetworkSet,
    NetworkSet, HostEndpoint), written as for C(calicoctl apply) (C(projectcalico.org/v3)).
  - Backend C(api) stores them through the Kubernetes API exactly as calicoctl does with the Kubernetes
    datastore (Calico v3.28), that is as C(crd.projectcalico.org/v1) objects, policies named C(default.<name>),
    the v3 metadata in the C(projectcalico.org/metadata) annotation, C(types) defaulted from the rules.
  - Validates every resource before the first write with the rules of Calico's own validator (libcalico-go
    v3.28) and reports every problem naming the field and the value; fields the cluster's Calico version
    (ClusterInformation) does not have, such as C(tier) before v3.29, are refused naming the version.
  - Stores rules as calicoctl does (an empty C(source) and C(destination) mapping on every rule) and compares semantically
    (with Calico's defaults filled in, an empty C(source) equal to a missing one), so re-runs over objects
    written by calicoctl or by earlier releases write nothing.
  - Refuses to change or delete the provider's default policies (IKS C(allow-*)) unless O(force).
author:
  - secure_cluster maintainers (@containers-workload)
options:
  definition:
    description: One resource (a mapping) or a list of resources, in C(projectcalico.org/v3) form.
    type: raw
  src:
    description: Path to a YAML file with one or more resources (as for C(calicoctl apply -f)).
    type: path
  state:
    description: Whether the resources should exist.
    type: str
    choices: [present, absent]
    default: present
  protected_names:
    description: GlobalNetworkPolicies this module never changes or deletes without O(force) (the provider's defaults).
    type: list
    elements: str
    default: [allow-all-outbound, allow-all-private-default, allow-bigfix-port, allow-icmp, allow-node-port-dnat,
              allow-sys-mgmt, allow-vrrp]
  force:
    description: Allow changing the protected policies.
    type: bool
    default: false
  keep_open:
    description:
      - Connections to host endpoints that must still be allowed after this run (a lock-out guard).
      - Before any write, each is walked through the GlobalNetworkPolicies as they would be after the run, on
        every HostEndpoint, in Felix's order (failsafe ports, doNotTrack, preDNAT, normal policy, profiles).
      - The run is refused when a connection allowed before would be denied after, unless O(allow_lockout).
      - The walk is conservative, a rule that may match (source selectors, named ports, nets overlapping the
        source only in part) counts when it denies and is ignored when it allows.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: C(TCP), C(UDP) or C(SCTP).
        type: str
        default: TCP
      port:
        description: Destination port on the host.
        type: int
        required: true
      source:
        description: Source range (CIDR) that must keep reaching the port; every address in it must be allowed.
        type: str
        default: 0.0.0.0/0
      description:
        description: What the connection is, for messages (for example C(SSH) or C(kubelet from the API server)).
        type: str
  allow_lockout:
    description: Apply even when O(keep_open) finds connections the run would cut.
    type: bool
    default: false
  probe:
    description:
      - After writing, check over a new connection that the API server still answers (a read of the nodes,
        as a new client would make it). When it does not, or when a write fails half way, put back what this run
        replaced or deleted, remove what it created, and fail saying what was undone.
      - What the host firewall and NodePort lockdown roles use, so a bad policy never stays in place.
    type: bool
    default: false
  probe_timeout:
    description: Seconds the O(probe) waits for the API server.
    type: int
    default: 30
  validate_only:
    description:
      - Only check the input and choose the backend as a real run does, reading at most the API groups and never
        running calicoctl or writing. A calicoctl_config calicoctl would misread (an etcdv3 datastore without
        etcdEndpoints, the v1 form) or that points at another API server than the module's connection is refused
        here. The pattern's up-front checks use it, so such a file stops the run before the first step.
      - O(definition) may then be empty (the backend alone is checked).
    type: bool
    default: false
notes:
  - Both backends give the same plan, C(changed), diff and stored object for the same input; validation runs
    before any backend call, so an invalid resource costs no calicoctl command and no API call.
  - Backend C(calicoctl) reads with one C(calicoctl get -o yaml) per kind and namespace, writes only what differs
    with C(calicoctl apply -f -) (calicoctl says "Successfully applied" whether or not anything changed, so the
    module reads first) and C(calicoctl delete), and passes calicoctl's own error text through with the command
    that failed; check mode runs no calicoctl write command. The lock-out guard, O(probe) and its undo read and
    write through the same backend.
  - The result reports the cluster's Calico version (ClusterInformation C(default)); the storage format
    written is the one of Calico v3.28.
  - The C(api) backend needs Calico's Kubernetes datastore (the C(crd.projectcalico.org) CRDs); where Calico
    keeps its data in etcd use O(backend=calicoctl) with the cluster's calicoctl.cfg (O(calicoctl_config)).
  - Live GlobalNetworkPolicies that fail validation are treated as missing by the O(keep_open) guard and the
    order report, as Felix ignores them; a warning names each.
  - Several resources of one kind and namespace are read with one LIST; GlobalNetworkPolicies are always read
    whole, to report order clashes with the policies already there.
  - For preDNAT policies Calico requires C(applyOnForward) and ingress only; for IPVS-based load balancers
    use C(doNotTrack) with C(applyOnForward) instead (never both).
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.calico_backend
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.changes
"""

EXAMPLES = r"""
- name: Block public NodePorts (the seed's preDNAT policy)
  containers_workload.secure_cluster.calico_policy:
    definition:
      apiVersion: projectcalico.org/v3
      kind: GlobalNetworkPolicy
      metadata:
        name: deny-kube-node-port-services
      spec:
        applyOnForward: true
        preDNAT: true
        ingress:
          - action: Deny
            destination: {ports: ["20000:32767"]}
            protocol: TCP
            source: {}
          - action: Deny
            destination: {ports: ["20000:32767"]}
            protocol: UDP
            source: {}
        selector: ibm.role in { 'worker_public', 'master_public' }
        types: [Ingress]

- name: The same on a cluster whose Calico keeps its data in etcd (a calicoctl.cfg with datastoreType etcdv3)
  containers_workload.secure_cluster.calico_policy:
    backend: calicoctl
    calicoctl_config: /etc/calico/calicoctl.cfg
    src: files/deny-kube-node-port-services.yaml
"""

RETURN = r"""
resources:
  description:
    - Each resource (kind, namespace, name), whether it changed, and its v3 form before and after.
    - When a write fails after others succeeded, the failed result lists what was already done, so a rescue can
      undo it.
  returned: unless O(validate_only)
  type: list
  elements: dict
backend:
  description: The backend that ran, C(api) or C(calicoctl).
  returned: success
  type: str
  sample: api
backend_reason:
  description: Why this backend ran (asked for, or what O(backend=auto) found).
  returned: success
  type: str
  sample: "auto chose api: the Kubernetes API serves crd.projectcalico.org/v1 and this identity may list its globalnetworkpolicies"
undone:
  description: With O(probe), when the run failed after writing, whether everything it changed was undone.
  returned: on failure after a write, with O(probe)
  type: bool
calico:
  description:
    - The cluster's Calico as ClusterInformation C(default) tells (version, cluster_type, datastore_ready).
    - With the C(calicoctl) backend, as C(calicoctl version) tells it; C(datastore_ready) is then null (not
      reported by that command) and C(client_version) is calicoctl's own.
  returned: unless O(validate_only)
  type: dict
  sample: {"version": "v3.28.2", "cluster_type": "k8s,bgp,kdd", "datastore_ready": true}
datastore:
  description: Calico's datastore as the backend reaches it, C(kubernetes) or C(etcdv3).
  returned: success
  type: str
  sample: kubernetes
reachability:
  description:
    - For each O(keep_open) connection and HostEndpoint, whether it is allowed after the run and by what
      (failsafe port, policy and rule, end of tier, profile).
  returned: when O(keep_open) is given and something changes
  type: list
  elements: dict
order:
  description:
    - C(clashes) lists policies of this run that share their order with another policy (Calico then orders by name).
    - C(allowed_before) lists other policies that allow ingress before a policy of this run denies it.
  returned: unless O(validate_only)
  type: dict
validated:
  description: The input passed the module's checks and the backend was chosen (nothing was written).
  returned: with O(validate_only)
  type: bool
  sample: true
api_calls:
  description: Reads and writes this run made against the API server, and with the C(calicoctl) backend the
    calicoctl commands that read and wrote (check mode writes nothing).
  returned: always
  type: dict
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import policy
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.backend import BACKEND_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    **BACKEND_ARG_SPEC,
    "definition": {"type": "raw"},
    "src": {"type": "path"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "protected_names": {"type": "list", "elements": "str", "default": [
        "allow-all-outbound", "allow-all-private-default", "allow-bigfix-port", "allow-icmp",
        "allow-node-port-dnat", "allow-sys-mgmt", "allow-vrrp"]},
    "force": {"type": "bool", "default": False},
    "keep_open": {"type": "list", "elements": "dict", "default": [], "options": {
        "protocol": {"type": "str", "default": "TCP"},
        "port": {"type": "int", "required": True},
        "source": {"type": "str", "default": "0.0.0.0/0"},
        "description": {"type": "str"},
    }},
    "allow_lockout": {"type": "bool", "default": False},
    "probe": {"type": "bool", "default": False},
    "probe_timeout": {"type": "int", "default": 30},
    "validate_only": {"type": "bool", "default": False},
}


def main() -> None:
    run_module("calico_policy", ARGUMENT_SPEC, policy.run, errors=policy.param_errors, validate=policy.validate,
               mutually_exclusive=[("definition", "src")], required_one_of=[("definition", "src")])


if __name__ == "__main__":
    main()
