#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: calico_policy
short_description: Apply or remove Calico policies, network sets and host endpoints
version_added: 0.1.0
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
notes:
  - A C(calicoctl) backend is planned; calicoctl could not be built in this project's test environment, so
    only the API backend is offered and tested.
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
  description: Each resource (kind, namespace, name), whether it changed, and its v3 form before and after.
  returned: always
  type: list
  elements: dict
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
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("definition", "src")], required_one_of=[("definition", "src")])
    try:
        resources = calico.load_src(module.params["src"]) if module.params["src"] else calico.resources_from(module.params)
        calico.check_all(resources)
        protected = [r["metadata"]["name"] for r in resources if r["kind"] == "GlobalNetworkPolicy"
                     and r["metadata"]["name"] in module.params["protected_names"]]
        if protected and not module.params["force"]:
            raise calico.CalicoError(f"refusing to change the provider's default policies {', '.join(protected)}: "
                                     f"the provider recreates them; add your own policy with a lower order "
                                     f"instead (or set force=true)")
        kube = connect(module.params, agent="secure_cluster/calico_policy")
        results = calico.apply(kube, resources, module.params["state"], module.check_mode)
    except (calico.CalicoError, KubeError) as exc:
        module.fail_json(msg=str(exc))
    changed = [r for r in results if r["changed"]]
    out = {"changed": bool(changed), "resources": results,
           "api_calls": {"reads": kube.reads, "writes": kube.writes}}
    if module._diff:
        out["diff"] = {"before": {f"{r['kind']}/{r['name']}": r["before"] for r in changed},
                       "after": {f"{r['kind']}/{r['name']}": r["after"] for r in changed}}
    module.exit_json(**out)


if __name__ == "__main__":
    main()
