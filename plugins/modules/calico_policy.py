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
  - Validates every resource before the first write, mirroring Calico's rules, and reports every problem
    naming the field. Compares semantically (with Calico's defaults filled in), so re-runs write nothing.
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
  backend:
    description:
      - C(api) writes through the Kubernetes API. C(auto) is C(api) in this release (see the notes).
    type: str
    choices: [auto, api]
    default: auto
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
notes:
  - A C(calicoctl) backend is planned; calicoctl could not be built in this project's test environment, so
    only the API backend is offered and tested.
  - The result reports the cluster's Calico version (ClusterInformation C(default)); the storage format
    written is the one of Calico v3.28.
  - Several resources of one kind and namespace are read with one LIST; GlobalNetworkPolicies are always read
    whole, to report order clashes with the policies already there.
  - For preDNAT policies Calico requires C(applyOnForward) and ingress only; for IPVS-based load balancers
    use C(doNotTrack) with C(applyOnForward) instead (never both).
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
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
"""

RETURN = r"""
resources:
  description:
    - Each resource (kind, namespace, name), whether it changed, and its v3 form before and after.
    - When a write fails after others succeeded, the failed result lists what was already done, so a rescue can
      undo it.
  returned: always
  type: list
  elements: dict
calico:
  description: The cluster's Calico as ClusterInformation C(default) tells (version, cluster_type, datastore_ready).
  returned: always
  type: dict
  sample: {"version": "v3.28.2", "cluster_type": "k8s,bgp,kdd", "datastore_ready": true}
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
  returned: always
  type: dict
api_calls:
  description: Reads and writes this run made against the API server.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import calico
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import (
    AUTH_ARG_SPEC, KubeError, connect)

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "definition": {"type": "raw"},
    "src": {"type": "path"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "backend": {"type": "str", "choices": ["auto", "api"], "default": "auto"},
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
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("definition", "src")], required_one_of=[("definition", "src")])
    params, state = module.params, module.params["state"]
    kube = None
    out = {"changed": False}
    try:
        resources = calico.load_src(params["src"]) if params["src"] else calico.resources_from(params)
        calico.check_all(resources)
        errors = calico.keep_open_errors(params["keep_open"])
        if errors:
            raise calico.CalicoError("; ".join(errors))
        protected = [r["metadata"]["name"] for r in resources if r["kind"] == "GlobalNetworkPolicy"
                     and r["metadata"]["name"] in params["protected_names"]]
        if protected and not params["force"]:
            raise calico.CalicoError(f"refusing to change the provider's default policies {', '.join(protected)}: "
                                     f"the provider recreates them; add your own policy with a lower order "
                                     f"instead (or set force=true)")
        kube = connect(params, agent="secure_cluster/calico_policy")
        out["calico"] = calico.cluster_information(kube)
        whole = ["GlobalNetworkPolicy"] + (["HostEndpoint"] if params["keep_open"] else [])
        steps, live = calico.plan(kube, resources, state, whole_kinds=whole)
        policies_before, policies_after = calico.policies_after(steps, live, state)
        clashes, allowed_before = calico.order_report(steps, policies_after)
        out["order"] = {"clashes": clashes, "allowed_before": allowed_before}
        if params["keep_open"] and any(step["changed"] for step in steps):
            guard(module, kube, steps, live, (policies_before, policies_after), out)
        out["resources"] = calico.execute(kube, steps, state, module.check_mode)
    except (calico.CalicoError, KubeError) as exc:
        if isinstance(exc, calico.PartialFailure):
            out.update(changed=True, resources=exc.results)
        if kube is not None:
            out["api_calls"] = {"reads": kube.reads, "writes": kube.writes}
        module.fail_json(msg=str(exc), **out)
    for clash in clashes:
        module.warn(clash)
    if out["calico"].get("datastore_ready") is False:
        module.warn("Calico reports its datastore not ready (ClusterInformation datastoreReady=false): the "
                    "policies are stored but Felix does not enforce them until it is ready")
    changed = [r for r in out["resources"] if r["changed"]]
    out.update(changed=bool(changed), api_calls={"reads": kube.reads, "writes": kube.writes})
    if module._diff:
        out["diff"] = {"before": {f"{r['kind']}/{r['name']}": r["before"] for r in changed},
                       "after": {f"{r['kind']}/{r['name']}": r["after"] for r in changed}}
    module.exit_json(**out)


def guard(module, kube, steps, live, policies, out) -> None:
    """Refuse (before any write) a run that cuts a connection the user asked to keep open."""
    failsafe = calico.failsafe_ports(kube)
    before = calico.reachability(policies[0], calico.endpoints_after([], live, "present"),
                                 module.params["keep_open"], failsafe)
    after = calico.reachability(policies[1], calico.endpoints_after(steps, live, module.params["state"]),
                                module.params["keep_open"], failsafe)
    out["reachability"] = after
    if not after:
        module.warn("keep_open: no HostEndpoint exists, so no host is firewalled yet and nothing could be cut")
    cut = calico.lockouts(before, after)
    if cut and not module.params["allow_lockout"]:
        lines = [f"{r['connection']} ({r['protocol']}/{r['port']} from {r['source']}) to {r['host_endpoint']} "
                 f"would be denied by {r['by']}" for r in cut[:5]]
        more = f" and {len(cut) - 5} more" if len(cut) > 5 else ""
        raise calico.CalicoError("refusing a change that would lock you out: " + "; ".join(lines) + more
                                 + ". Allow these connections, or set allow_lockout=true")


if __name__ == "__main__":
    main()
